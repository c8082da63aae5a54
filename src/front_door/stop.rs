//! The stop flag: how a signal reaches the accept loop, wherever the main thread sleeps.
//!
//! The main thread blocks in one of two places: in `accept`, and (at `--max-connections`) in
//! the wait for a pair to end. A stop must wake either. [`Stop::request`] sets the flag, puts a
//! message on a channel the wait selects on, and connects to our own listener so `accept`
//! returns ([`knock`]). The accept loop checks the flag each time it wakes.
//!
//! Blocking: only the knock's connects (two at most, for `[::]`), each bounded by the listener's
//! `KNOCK_TIMEOUT`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::front_door::listener::{knock, wake_addresses};

/// The shared "please stop" flag, and a channel that carries the same news to a `select!`.
pub struct Stop {
    requested: AtomicBool,
    sender: Sender<()>,
    receiver: Receiver<()>,
    /// Where to knock so that `accept` returns.
    listening: SocketAddr,
}

impl Stop {
    /// A stop flag for the accept loop listening on `listening`.
    pub fn new(listening: SocketAddr) -> Self {
        // One message is enough to wake the one waiter; more would only queue.
        let (sender, receiver) = bounded(1);
        Stop {
            requested: AtomicBool::new(false),
            sender,
            receiver,
            listening,
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Ready to receive once a stop is requested.
    pub fn wake_up(&self) -> &Receiver<()> {
        &self.receiver
    }

    /// Ask for a stop and wake the main thread, wherever it waits.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        let _ = self.sender.try_send(());
        knock(&wake_addresses(self.listening));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    #[test]
    fn a_request_sets_the_flag_wakes_the_waiter_and_knocks() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stop = Stop::new(listener.local_addr().unwrap());
        assert!(!stop.is_requested());
        assert!(stop.wake_up().try_recv().is_err());
        stop.request();
        assert!(stop.is_requested());
        assert!(stop.wake_up().recv_timeout(Duration::from_secs(1)).is_ok());
        // The knock is a real connection, waiting in the listener's queue.
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_ok());
    }
}
