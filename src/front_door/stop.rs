//! The stop flag: how a signal, or a successor that is ready, reaches the accept loop, wherever
//! the main thread sleeps.
//!
//! The main thread blocks in one of two places: in `accept`, and (at `--max-connections`) in
//! the wait for a pair to end. A stop must wake either. [`Stop::request`] (a signal) and
//! [`Stop::hand_over`] (an upgrade's new process said `READY=1`) record why, put a message on a
//! channel the wait selects on, and interrupt `accept` with a signal aimed at the main thread
//! (`wake.rs` says why not a connection). The accept loop checks the flag each time it wakes.
//!
//! Blocking: only [`Wakeable::wake`]'s short waits between signals.

use std::sync::{Mutex, PoisonError};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::front_door::wake::Wakeable;

/// Why the accept loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// SIGINT or SIGTERM: the listener closes and new clients are refused.
    Signal,
    /// The new process of an upgrade (this pid) is ready and accepts on the same socket.
    HandedOver(u32),
}

/// The shared "please stop" flag, and a channel that carries the same news to a `select!`.
pub struct Stop {
    cause: Mutex<Option<Cause>>,
    /// The flag itself, and the interrupt for the accept loop's `accept`.
    accept: Wakeable,
    sender: Sender<()>,
    receiver: Receiver<()>,
}

impl Default for Stop {
    fn default() -> Self {
        // One message is enough to wake the one waiter; more would only queue.
        let (sender, receiver) = bounded(1);
        Stop {
            cause: Mutex::new(None),
            accept: Wakeable::default(),
            sender,
            receiver,
        }
    }
}

impl Stop {
    pub fn is_requested(&self) -> bool {
        self.accept.is_asked()
    }

    /// Why, once a stop is requested.
    pub fn cause(&self) -> Option<Cause> {
        *self.cause.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ready to receive once a stop is requested.
    pub fn wake_up(&self) -> &Receiver<()> {
        &self.receiver
    }

    /// What the accept loop enters, so that a stop can interrupt its `accept`.
    pub fn accept_loop(&self) -> &Wakeable {
        &self.accept
    }

    /// A signal asks for a stop; `false` if one was already under way. `announce` runs first
    /// when it is the first (the stop line must be written before the main thread can finish).
    pub fn request(&self, announce: impl FnOnce()) -> bool {
        self.begin(Cause::Signal, announce)
    }

    /// The upgrade's new process `successor` is ready: stop accepting and drain. `false` if a
    /// stop came first: then the caller must end the successor, which nobody will hand over to.
    pub fn hand_over(&self, successor: u32, announce: impl FnOnce()) -> bool {
        self.begin(Cause::HandedOver(successor), announce)
    }

    fn begin(&self, cause: Cause, announce: impl FnOnce()) -> bool {
        {
            let mut recorded = self.cause.lock().unwrap_or_else(PoisonError::into_inner);
            if recorded.is_some() {
                return false;
            }
            *recorded = Some(cause);
        }
        announce();
        let _ = self.sender.try_send(());
        self.accept.wake();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_request_sets_the_flag_and_wakes_the_waiter() {
        let stop = Stop::default();
        assert!(!stop.is_requested());
        assert!(stop.wake_up().try_recv().is_err());
        let mut announced = false;
        assert!(stop.request(|| announced = true));
        assert!(announced);
        assert!(stop.is_requested());
        assert_eq!(stop.cause(), Some(Cause::Signal));
        assert!(stop.wake_up().recv_timeout(Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn the_first_cause_wins() {
        let stop = Stop::default();
        assert!(stop.hand_over(42, || {}));
        let again = stop.request(|| panic!("announced a second stop"));
        assert!(!again, "a signal after the handover is a second stop");
        assert_eq!(stop.cause(), Some(Cause::HandedOver(42)));
        let signalled = Stop::default();
        assert!(signalled.request(|| {}));
        assert!(
            !signalled.hand_over(42, || {}),
            "no handover once a signal stopped us"
        );
    }
}
