//! Hearing the new process say `READY=1`: the notify socket we give it, and the wait.
//!
//! The new process speaks the systemd protocol to whatever `NOTIFY_SOCKET` names, so we name a
//! datagram socket of our own ([`ReadySocket`]), in a directory of its own that only our user
//! may enter (0700): nobody else can send us a `READY=1`. A fresh one for each attempt, so a
//! late word from an attempt we gave up on cannot be mistaken for the next one's.
//!
//! Then [`wait`] blocks in one `poll` on three descriptors, until the first of:
//! - a datagram containing the line `READY=1`;
//! - the child's pidfd, readable once it has exited (it will never be ready);
//! - the cancel socket, written to when a stop begins (the attempt is abandoned);
//! - the deadline, [`READY_WITHIN`].

use std::fs::{self, DirBuilder};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::upgrade::child::Child;

/// How long the new process has to say `READY=1`: a tcpproxy is ready in milliseconds, but
/// resolving the destination's name may take seconds on a slow resolver.
pub const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `sd_notify` datagram is small; systemd reads up to its page-sized buffer.
const MAX_MESSAGE: usize = 4096;

/// Names tried for the private directory before giving up (another process may hold one).
const TRIES: u32 = 8;

/// Our notify socket, bound in a private directory that goes with it.
pub struct ReadySocket {
    socket: UnixDatagram,
    dir: PathBuf,
    path: PathBuf,
}

impl ReadySocket {
    /// Bind a fresh socket under the temp directory (`TMPDIR`, else /tmp).
    pub fn bind() -> io::Result<ReadySocket> {
        let dir = private_dir(&std::env::temp_dir())?;
        let path = dir.join("notify");
        match UnixDatagram::bind(&path) {
            Ok(socket) => Ok(ReadySocket { socket, dir, path }),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                Err(io::Error::new(
                    e.kind(),
                    format!("cannot bind {}: {e}", path.display()),
                ))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ReadySocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// A new directory only we may enter; `create` fails rather than reuse one that exists, so no
/// one can have prepared it for us.
fn private_dir(parent: &Path) -> io::Result<PathBuf> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for attempt in 0..TRIES {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos());
        let name = format!("tcpproxy-upgrade-{}-{nanos}-{attempt}", std::process::id());
        let dir = parent.join(name);
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => {
                let why = format!("cannot create {}: {e}", dir.display());
                return Err(io::Error::new(e.kind(), why));
            }
        }
    }
    Err(last)
}

/// What the wait ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    Ready,
    /// The child exited (reaped): how.
    Exited(String),
    NotReady,
    Cancelled,
    /// `poll` itself failed: we cannot tell.
    Unwatchable(nix::errno::Errno),
}

/// Wait for `READY=1` from `child` on `socket`, its exit, a byte on `cancel`, or `within`.
/// An exit wins over a `READY=1` read at the same time: a successor that has gone is none.
pub fn wait(
    socket: &ReadySocket,
    child: Child,
    cancel: &UnixStream,
    within: Duration,
) -> (Heard, Option<Child>) {
    let deadline = Instant::now() + within;
    let mut message = [0u8; MAX_MESSAGE];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (Heard::NotReady, Some(child));
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [
            PollFd::new(child.exited(), PollFlags::POLLIN),
            PollFd::new(socket.socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(cancel.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return (Heard::Unwatchable(e), Some(child)),
        }
        let ready = |i: usize| fds[i].any().unwrap_or(false);
        let (exited, spoke, cancelled) = (ready(0), ready(1), ready(2));
        if exited {
            return (Heard::Exited(child.reap()), None);
        }
        if cancelled {
            let _ = (&*cancel).read(&mut [0u8; 1]);
            return (Heard::Cancelled, Some(child));
        }
        if spoke {
            let n = socket.socket.recv(&mut message).unwrap_or(0);
            if says_ready(&message[..n]) {
                return (Heard::Ready, Some(child));
            }
        }
    }
}

/// Does a notify message hold the line `READY=1`? (It may also hold `STATUS=...` and others.)
fn says_ready(message: &[u8]) -> bool {
    message
        .split(|&b| b == b'\n')
        .any(|line| line == b"READY=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_a_whole_line_among_others() {
        assert!(says_ready(b"READY=1\nSTATUS=listening on [::]:80\n"));
        assert!(says_ready(b"STATUS=x\nREADY=1"));
        assert!(!says_ready(b"READY=10\n"));
        assert!(!says_ready(b"STOPPING=1\n"));
        assert!(!says_ready(b""));
    }

    #[test]
    fn the_socket_lives_in_a_private_directory_that_goes_with_it() {
        let socket = ReadySocket::bind().unwrap();
        let dir = socket.path().parent().unwrap().to_path_buf();
        let mode = fs::metadata(&dir).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        let sender = UnixDatagram::unbound().unwrap();
        sender.send_to(b"READY=1\n", socket.path()).unwrap();
        let mut got = [0u8; 16];
        let n = socket.socket.recv(&mut got).unwrap();
        assert!(says_ready(&got[..n]));
        drop(socket);
        assert!(!dir.exists());
    }
}
