//! The reader over real loopback sockets (a header in one-byte segments, a client that stops
//! short or talks to us directly), and against hostile input: proptest feeds the parser and the
//! reader thousands of random and mutated headers (`properties.rs`, from `strategies.rs`),
//! judged against an oracle written apart from the parser (`oracle.rs`).

mod oracle;
mod properties;
mod strategies;

use super::*;
use crate::proxy_protocol::{write::header, Version};
use crate::testing::connected;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(300)
}

/// Bytes in `socket`'s receive queue not read yet (FIONREAD).
fn unread(socket: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through a valid pointer.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", io::Error::last_os_error());
    n
}

#[test]
fn a_header_in_one_byte_segments_is_read_whole_and_no_further() {
    let client: SocketAddr = "[2001:db8::7]:50312".parse().unwrap();
    let local: SocketAddr = "[2001:db8::1]:3000".parse().unwrap();
    for version in [Version::V1, Version::V2] {
        let (ours, mut peer) = connected();
        let watch = ours.try_clone().unwrap();
        peer.set_nodelay(true).unwrap(); // each one-byte write leaves as its own segment
        let bytes = header(version, client, local);
        let (last, first) = bytes.split_last().map(|(l, f)| (*l, f.to_vec())).unwrap();
        let writer = std::thread::spawn(move || {
            for byte in first {
                peer.write_all(&[byte]).unwrap();
                peer.flush().unwrap();
                // Send the next byte only once this one has arrived and been read, so every
                // read sees a header that is not whole yet (bounded: 10 s).
                let give_up = Instant::now() + Duration::from_secs(10);
                while unread(&watch) > 0 && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(1)); // polling a queue length
                }
            }
            // The header's last byte and the client's first ones in one segment: the reader
            // must stop between them.
            peer.write_all(&[&[last][..], b"first client bytes"].concat())
                .unwrap();
            peer
        });
        let got = read_header(&ours, Instant::now() + Duration::from_secs(10)).unwrap();
        let expected = Endpoints {
            client,
            destination: local,
        };
        assert_eq!(got.endpoints, Some(expected), "{version:?}");
        let _peer = writer.join().unwrap();
        let mut after = [0u8; 18];
        (&ours).read_exact(&mut after).unwrap();
        assert_eq!(&after, b"first client bytes", "{version:?}");
    }
}

#[test]
fn a_client_that_stops_short_is_timed_out_or_truncated() {
    let (ours, mut peer) = connected();
    peer.write_all(b"PROXY TCP4 1.2.").unwrap();
    let started = Instant::now();
    let err = read_header(&ours, started + Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(err, HeaderError::TimedOut { received: 15 }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(peer);
    let err = read_header(&ours, soon()).unwrap_err();
    assert!(
        matches!(err, HeaderError::Truncated { received: 0 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "PROXY header truncated: the client closed after 0 bytes"
    );
}

#[test]
fn a_deadline_already_past_reads_nothing() {
    let (ours, mut peer) = connected();
    peer.write_all(b"PROXY UNKNOWN\r\n").unwrap();
    let err = read_header(&ours, Instant::now()).unwrap_err();
    assert!(
        matches!(err, HeaderError::TimedOut { received: 0 }),
        "{err:?}"
    );
    assert!(read_header(&ours, soon()).unwrap().endpoints.is_none());
}

#[test]
fn a_client_talking_directly_is_refused_at_its_first_byte() {
    let (ours, mut peer) = connected();
    peer.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let err = read_header(&ours, soon()).unwrap_err();
    assert!(matches!(err, HeaderError::WrongSignature), "{err:?}");
    assert_eq!(err.to_string(), "not a PROXY header (wrong signature)");
}

#[test]
fn a_failing_read_is_an_io_error_and_interruptions_are_retried() {
    let mut calls = 0;
    let err = read_with(|_| {
        calls += 1;
        match calls {
            1 => Err(io::ErrorKind::Interrupted.into()),
            _ => Err(io::ErrorKind::ConnectionReset.into()),
        }
    })
    .unwrap_err();
    assert!(matches!(err, HeaderError::Io(_)), "{err:?}");
    assert_eq!(calls, 2);
}
