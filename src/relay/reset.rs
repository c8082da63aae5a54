//! How a pair is cut: a TCP reset that also wakes every thread blocked on the socket.
//!
//! A peer must be able to tell an abort from an end. A clean end is a FIN (its `read` returns 0,
//! "that is all"); an abort — the other side reset, the hang rule cut the pair, the proxy stopped —
//! must be a reset (its `read` fails with `ECONNRESET`), or a client of a protocol without its own
//! framing would take a truncated download for a whole one.
//!
//! The usual way to reset is `SO_LINGER` 0 and `close`. That will not do here: the socket is still
//! in use by the pair's other thread, blocked in `read` or `write`, and closing a descriptor
//! another thread is using lets the number be reused under it. `shutdown` wakes that thread but
//! sends a FIN first, and a reset sent after a FIN is too late: the peer has already read its EOF.
//!
//! Linux offers a third way. `connect` with the address family `AF_UNSPEC` *disconnects* a TCP
//! socket (`tcp_disconnect`): the kernel sends a reset, marks the socket closed, and wakes every
//! thread waiting on it (a reader gets `EPIPE`, a writer `ECONNRESET`). The descriptor stays valid
//! and ours until the pair drops it, so nothing can be reused under the other thread, and the final
//! `close` sends nothing more. Nothing here blocks.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use nix::libc;

/// Abort `socket`: send the peer a reset and wake every thread blocked on it.
pub fn reset(socket: &TcpStream) -> io::Result<()> {
    // SAFETY: `sockaddr` is plain data, all zeros but its family; `connect` reads exactly
    // `size_of::<sockaddr>()` bytes of it, and the descriptor is borrowed from a live socket.
    let unspecified = libc::sockaddr {
        sa_family: libc::AF_UNSPEC as libc::sa_family_t,
        sa_data: [0; 14],
    };
    let length = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    let rc = unsafe { libc::connect(socket.as_raw_fd(), &unspecified, length) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    use crate::testing::connected;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn the_peer_reads_a_reset_not_an_eof() {
        let (ours, mut peer) = connected();
        reset(&ours).unwrap();
        let err = peer.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn a_thread_blocked_in_read_wakes_and_the_peer_is_reset() {
        let (ours, mut peer) = connected();
        let woke = thread::scope(|s| {
            let reader = s.spawn(|| (&ours).read(&mut [0u8; 8]));
            // The reader may not be asleep yet; a reset before it reads wakes it all the same.
            thread::sleep(Duration::from_millis(50));
            reset(&ours).unwrap();
            reader.join().unwrap()
        });
        assert!(
            woke.is_err(),
            "{woke:?}: a reset socket does not read as EOF"
        );
        let err = peer.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn a_thread_blocked_in_write_wakes() {
        let (ours, _peer) = connected();
        socket2::SockRef::from(&ours)
            .set_send_buffer_size(4096)
            .unwrap();
        let woke = thread::scope(|s| {
            let writer = s.spawn(|| {
                let chunk = [0u8; 65536];
                // The peer never reads: this blocks once the buffers are full.
                for _ in 0..10_000 {
                    (&ours).write_all(&chunk)?;
                }
                Ok::<(), io::Error>(())
            });
            thread::sleep(Duration::from_millis(200));
            reset(&ours).unwrap();
            writer.join().unwrap()
        });
        assert!(
            woke.is_err(),
            "the blocked write fails once the socket is reset"
        );
    }
}
