//! SIGINT and SIGTERM: the first asks for a clean stop, the second exits at once.
//!
//! The `ctrlc` crate runs our handler on an ordinary thread of its own (not inside the signal
//! handler), so the handler may log, lock and connect. It asks the front door's [`Stop`] flag to
//! stop, which wakes the main thread wherever it sleeps. (SIGUSR1, the stats table, is received
//! by the stats thread itself: `operator/stats.rs`.)
//!
//! Blocking: the `ctrl-c` thread, waiting for a signal.

use std::sync::Arc;

use log::{info, warn};

use crate::error::StartupError;
use crate::front_door::stop::Stop;

/// Exit status after a second signal: 128 + SIGINT, as a shell reports an interrupted command.
pub const EXIT_ON_SECOND_SIGNAL: i32 = 130;

/// Route SIGINT and SIGTERM to `stop`.
pub fn install(stop: Arc<Stop>) -> Result<(), StartupError> {
    ctrlc::set_handler(move || {
        if stop.is_requested() {
            warn!("second signal: exiting now");
            std::process::exit(EXIT_ON_SECOND_SIGNAL);
        }
        // Log before waking the main thread: once woken it may finish and exit before we could.
        info!("signal received: stopping (a second signal exits at once)");
        stop.request();
    })
    .map_err(StartupError::SignalHandler)
}
