//! Waking a thread blocked in `accept` on a socket that another process may share.
//!
//! A thread blocked in `accept` sleeps until the kernel has a connection for it. A stop must
//! wake it without one. The old way was to connect to our own port (tiny-http's "knock"), but
//! after an upgrade hands the listening socket to a new process, the socket has one accept queue
//! and two processes waiting on it: the kernel gives each connection to whichever waiter it
//! picks, so the knock may be accepted by the *new* process, as a client that says nothing and
//! relays nothing, while the old one sleeps on. So the wake must not be a connection at all.
//!
//! It is a signal aimed at the one thread ([`Wakeable::wake`]): `pthread_kill` with SIGURG,
//! whose handler does nothing and is installed without `SA_RESTART`, so the blocked `accept4`
//! returns `EINTR` and the thread goes back to its loop, where it sees the flag. Three details
//! make that sound:
//!
//! - std's `TcpListener::accept` retries `EINTR` by itself (the right default for everyone
//!   else), so [`Inside::accept`] calls `accept4` through socket2, which hands `EINTR` back.
//! - SIGURG is blocked in every thread (`install`, before any thread exists: threads inherit
//!   the mask) and unblocked only around that one `accept4` call, so no pump, and no other
//!   blocking call anywhere, ever sees an `EINTR` from it, and a `kill -URG` from outside can
//!   only interrupt an `accept`. Its default action is to be ignored, which is also why Go's
//!   runtime chose it for the same job.
//! - A signal sent just *before* the thread enters `accept4` is not lost but wasted: it is
//!   handled (or stays pending until the unblock, and is handled there) and the thread then
//!   blocks anyway. No call closes that gap, since there is no `accept` that unblocks a signal
//!   atomically as `ppoll` does. So [`Wakeable::wake`] signals again every [`RETRY`] until the
//!   thread says it has left; the next signal finds it inside `accept4`.
//!
//! What was rejected, and why: a receive timeout (`SO_RCVTIMEO`) on the listener would wake
//! `accept` now and then to look at the flag, but an option lives on the socket, not the
//! descriptor, so it would also time out the other process's `accept`, and every connection
//! accepted from the socket starts with a copy of its options (`relay/upstream/prepare.rs`
//! relies on that for others). `shutdown` on the listener wakes `accept` too, but breaks the
//! socket for both processes; `close` from another thread does not wake `accept` on Linux.
//!
//! Blocking: [`Wakeable::wake`] waits for the thread to leave, [`RETRY`] at a time between
//! signals (it is told at once when the thread leaves), [`GIVE_UP`] at worst; [`Inside::accept`]
//! blocks in `accept4`.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use log::debug;
use nix::libc::c_int;
use nix::sys::pthread::{pthread_kill, pthread_self, Pthread};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use socket2::SockRef;

/// The signal that interrupts `accept`: ignored by default, and used by nothing else here.
pub const WAKE_SIGNAL: Signal = Signal::SIGURG;

/// How long between two signals to a thread that has not left `accept` yet: the gap a signal can
/// fall into lasts a few instructions, so the second signal nearly always finds it inside.
pub const RETRY: Duration = Duration::from_millis(5);

/// After this long, stop signalling: the thread is not in `accept` but busy elsewhere (starting
/// a pair's threads, say), and it looks at the flag before it accepts again.
pub const GIVE_UP: Duration = Duration::from_secs(1);

extern "C" fn on_wake(_: c_int) {
    // Nothing to do: being interrupted is the point.
}

/// Block [`WAKE_SIGNAL`] in the calling thread (and so in every thread it starts) and give it a
/// handler that does nothing, without `SA_RESTART`. Call before starting any thread.
pub fn install() -> nix::Result<()> {
    SigSet::from(WAKE_SIGNAL).thread_block()?;
    let action = SigAction::new(
        SigHandler::Handler(on_wake),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler touches nothing at all, so it is async-signal-safe.
    unsafe { sigaction(WAKE_SIGNAL, &action) }.map(drop)
}

/// A flag asking a thread to leave its accept loop, and the means to interrupt its `accept`.
#[derive(Default)]
pub struct Wakeable {
    asked: AtomicBool,
    /// The thread inside the loop, while it is inside: [`wake`](Self::wake) signals it only while
    /// holding this lock, and the thread takes the lock to leave, so it cannot have ended.
    thread: Mutex<Option<Pthread>>,
    /// Notified when the thread leaves, so that a wake returns at once.
    left: Condvar,
}

impl Wakeable {
    pub fn is_asked(&self) -> bool {
        self.asked.load(Ordering::SeqCst)
    }

    /// Enter the accept loop: the calling thread is the one [`wake`](Self::wake) interrupts, until
    /// the guard is dropped. Look at [`is_asked`](Self::is_asked) after this, not before.
    pub fn enter(&self) -> Inside<'_> {
        *lock(&self.thread) = Some(pthread_self());
        Inside { wakeable: self }
    }

    /// Ask the thread to leave, and interrupt its `accept` until it has (or [`GIVE_UP`]).
    pub fn wake(&self) {
        self.asked.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + GIVE_UP;
        let mut inside = lock(&self.thread);
        // `None`: not entered yet (it will see the flag), or gone.
        while let Some(thread) = *inside {
            if Instant::now() >= deadline {
                debug!("the accept loop did not leave within {GIVE_UP:?}; it will see the flag");
                return;
            }
            // ESRCH cannot happen: the thread cannot end while registered, and we hold the lock.
            let _ = pthread_kill(thread, WAKE_SIGNAL);
            inside = (self.left.wait_timeout(inside, RETRY))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn lock(thread: &Mutex<Option<Pthread>>) -> MutexGuard<'_, Option<Pthread>> {
    // Nothing panics while holding it, so a poisoned lock still holds a good value.
    thread.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A thread inside an accept loop that [`Wakeable::wake`] can interrupt.
pub struct Inside<'a> {
    wakeable: &'a Wakeable,
}

impl Inside<'_> {
    /// The next connection; `Interrupted` if a wake came first (look at the flag, then).
    pub fn accept(&self, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let wake = SigSet::from(WAKE_SIGNAL);
        // pthread_sigmask fails only for an invalid `how`; these are fixed and valid.
        let _ = wake.thread_unblock();
        let accepted = if self.wakeable.is_asked() {
            Err(io::ErrorKind::Interrupted.into())
        } else {
            SockRef::from(listener).accept()
        };
        let _ = wake.thread_block();
        let (socket, address) = accepted?;
        let address = address
            .as_socket()
            .ok_or_else(|| io::Error::other("accepted a connection that is not TCP/IP"))?;
        Ok((socket.into(), address))
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        *lock(&self.wakeable.thread) = None;
        self.wakeable.left.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn a_wake_interrupts_accept_without_a_connection() {
        install().unwrap();
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let wakeable = Arc::new(Wakeable::default());
        let (entered, inside) = std::sync::mpsc::channel();
        let waiter = {
            let (listener, wakeable) = (Arc::clone(&listener), Arc::clone(&wakeable));
            thread::spawn(move || {
                let inside = wakeable.enter();
                entered.send(()).unwrap();
                let mut rounds = 0;
                while !wakeable.is_asked() {
                    assert!(inside.accept(&listener).is_err(), "no client ever connects");
                    rounds += 1;
                }
                rounds
            })
        };
        inside.recv().unwrap();
        let started = Instant::now();
        wakeable.wake();
        let rounds = waiter.join().unwrap();
        assert!(started.elapsed() < GIVE_UP, "{:?}", started.elapsed());
        assert!(rounds <= 1, "woken {rounds} times");
        // Nothing connected: the queue is empty.
        listener.set_nonblocking(true).unwrap();
        let queued = listener.accept().map(drop).unwrap_err();
        assert_eq!(queued.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_wake_before_anyone_entered_leaves_the_flag() {
        let wakeable = Wakeable::default();
        wakeable.wake();
        assert!(wakeable.is_asked());
    }
}
