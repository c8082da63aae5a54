//! A process we started: its pid, a pidfd to wait on, and the duty to reap it.
//!
//! A pidfd is a descriptor that becomes readable when the process exits, so one `poll` can wait
//! for the new process's "ready" and its death at once (`ready.rs`). Its pid cannot go to another
//! process until we reap it, so until then a signal by pid reaches it alone.
//!
//! Blocking: [`Child::end`] waits up to [`END_GRACE`] for the child to go after SIGTERM.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::libc::{self, c_int};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// How long a child we end gets to go after SIGTERM before SIGKILL: a tcpproxy that is not yet
/// serving stops at once; one that is (it said READY=1 as a stop began) cuts its pairs within a
/// second with the default `--drain 0`.
pub const END_GRACE: Duration = Duration::from_secs(1);

/// A process we started and must reap: its pid, and a pidfd that is readable once it exits.
/// Its pid cannot go to another process until we reap it, so a signal by pid reaches it alone.
/// Dropped without [`end`](Child::end), [`reap`](Child::reap) or [`release`](Child::release)
/// (a thread that could not start, say), it is killed and reaped: nothing is left behind.
pub struct Child {
    pid: Pid,
    pidfd: OwnedFd,
    /// Reaped, or released to go on without us.
    settled: bool,
}

impl Child {
    pub fn watch(pid: Pid) -> io::Result<Child> {
        // SAFETY: a plain system call; the descriptor it returns is owned here alone.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        if fd < 0 {
            let error = io::Error::last_os_error();
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(error);
        }
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
        Ok(Child {
            pid,
            pidfd,
            settled: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    /// Readable once the child has exited.
    pub fn exited(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Reap the child, which has exited (its pidfd was readable): how it ended, for the log.
    pub fn reap(mut self) -> String {
        self.settled = true;
        describe(waitpid(self.pid, None))
    }

    /// SIGTERM, up to [`END_GRACE`] to go, then SIGKILL; and reap it. How it ended.
    pub fn end(mut self) -> String {
        self.settled = true;
        let _ = kill(self.pid, Signal::SIGTERM);
        let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
        let grace = PollTimeout::try_from(END_GRACE).unwrap_or(PollTimeout::MAX);
        if !matches!(poll(&mut fds, grace), Ok(1)) {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        describe(waitpid(self.pid, None))
    }

    /// Let the child go on without us: it is our successor (when we exit, it is reparented).
    pub fn release(mut self) {
        self.settled = true;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.settled {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

fn describe(status: nix::Result<WaitStatus>) -> String {
    match status {
        Ok(WaitStatus::Exited(_, code)) => format!("exited with status {code}"),
        Ok(WaitStatus::Signaled(_, signal, _)) => format!("was killed by {signal}"),
        Ok(other) => format!("ended ({other:?})"),
        Err(e) => format!("could not be waited for ({e})"),
    }
}
