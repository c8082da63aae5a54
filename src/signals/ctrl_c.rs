//! SIGINT, caught with the card's `ctrlc` crate, on ctrlc's own thread alone.
//!
//! ctrlc installs a handler that writes one byte to a pipe (the self-pipe trick: about all a
//! handler may do) and starts a thread, `ctrl-c`, that blocks reading the pipe and calls our
//! closure for each byte. A process-directed signal such as SIGINT is delivered to any one thread
//! that does not block it, and the handler runs there: if that were a pump blocked in `read` on
//! a socket with a timeout, the `read` would return `EINTR`, `SA_RESTART` or not (signal(7)).
//!
//! So SIGINT stays blocked in every thread but ctrlc's: blocked with the others before any
//! thread exists (`signals/mod.rs`), unblocked in the main thread only while `set_handler`
//! starts ctrlc's thread, which inherits that mask, and blocked again at once. The kernel then
//! has one thread to deliver SIGINT to; ctrlc's `read` on its pipe restarts (`SA_RESTART`), and
//! no other thread ever sees the signal.
//!
//! Blocking: nothing here; ctrlc's thread blocks on its pipe.

use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};

use crate::error::StartupError;
use crate::signals::stops::Stopping;

/// Catch SIGINT on ctrlc's thread, which answers it as `stopping` says. Call on a thread that
/// blocks SIGINT (the main thread, after `block_watched_signals`), and once.
pub fn install(stopping: Arc<Stopping>) -> Result<(), StartupError> {
    let sigint = SigSet::from(Signal::SIGINT);
    let mask = |source| StartupError::Signal {
        what: "unblock SIGINT for ctrlc's thread alone",
        source,
    };
    sigint.thread_unblock().map_err(mask)?;
    // A SIGINT that was pending, or comes now, is delivered here as soon as it is unblocked:
    // before ctrlc's handler is in place it ends the process, as SIGINT during start-up should;
    // after, it is a byte in the pipe, and ctrlc's thread reads it once started.
    let installed = ctrlc::set_handler(move || stopping.on(Signal::SIGINT));
    sigint.thread_block().map_err(mask)?;
    installed.map_err(StartupError::CtrlC)
}
