//! SIGINT and SIGTERM (SPEC §5): the first asks for a clean stop, the second exits at once.
//!
//! The `ctrlc` crate runs our handler on an ordinary thread of its own (not inside the signal
//! handler), so the handler may log, lock and connect. It sets the stop flag, then wakes the main
//! thread wherever it sleeps: in `accept` by a [`knock`](crate::listener::knock), and in the wait for
//! a free slot by a message on [`Stop::wake_up`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use log::{info, warn};

use crate::listener;

/// Exit status after a second signal: 128 + SIGINT, as a shell reports an interrupted command.
const EXIT_ON_SECOND_SIGNAL: i32 = 130;

/// The shared "please stop" flag, and a channel that carries the same news to a `select!`.
pub struct Stop {
    requested: AtomicBool,
    sender: Sender<()>,
    receiver: Receiver<()>,
}

impl Stop {
    pub fn new() -> Self {
        // One message is enough to wake the one waiter; more would only queue.
        let (sender, receiver) = bounded(1);
        Stop {
            requested: AtomicBool::new(false),
            sender,
            receiver,
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Ready to receive once a stop is requested.
    pub fn wake_up(&self) -> &Receiver<()> {
        &self.receiver
    }

    /// Ask for a stop and wake the main thread, wherever it waits: in `accept` on `listening`, or
    /// for a free slot.
    pub fn request(&self, listening: SocketAddr) {
        self.requested.store(true, Ordering::SeqCst);
        let _ = self.sender.try_send(());
        listener::knock(listener::wake_address(listening));
    }
}

/// Route SIGINT and SIGTERM to `stop`.
pub fn install(stop: Arc<Stop>, listening: SocketAddr) -> Result<(), String> {
    ctrlc::set_handler(move || {
        if stop.is_requested() {
            warn!("second signal: exiting now");
            std::process::exit(EXIT_ON_SECOND_SIGNAL);
        }
        // Log before waking the main thread: once woken it may finish and exit before we could.
        info!("signal received: stopping (a second signal exits at once)");
        stop.request(listening);
    })
    .map_err(|e| format!("cannot install the SIGINT/SIGTERM handler: {e}"))
}
