//! How the proxy stops: close the door, let the live pairs drain, cut what is left.
//!
//! On SIGINT or SIGTERM the accept loop returns and the listener is closed at once, so new clients
//! are refused (the kernel answers their SYN with a reset) rather than left queued behind a
//! proxy that will never accept them. Then:
//!
//! - with `--drain SECS`, the live pairs run on towards their natural end for up to SECS seconds.
//!   Nothing about them changes: their pumps keep relaying, and the hang rule still cuts one that
//!   hangs. This is nginx's graceful stop and HAProxy's soft-stop, with `hard-stop-after` as
//!   the deadline;
//! - whatever is still live at the deadline (at once, with the default `--drain 0`) is cut: both
//!   its peers get a reset, so neither mistakes the cut for a finished transfer.
//!
//! After an upgrade's handover (`upgrade/`) the same drain follows, with one difference: the
//! socket stays open in the new process, which takes every new client, so nobody is refused.
//!
//! A second signal does not wait for any of this (`signals/`); after a handover, the first
//! signal is already the second stop.
//!
//! Blocking: the main thread, waiting for tickets to come back (`live.rs`), bounded by the drain
//! and then by [`CUT_GRACE`].

use std::fmt;
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::front_door::live::LivePairs;
use crate::front_door::stop::Cause;
use crate::relay::close::CloseReason;
use crate::units::Timeout;

/// How long the cut pairs' threads get to finish: the process should be gone within a second of
/// the deadline, and this leaves a margin for the summary and the exit itself.
pub const CUT_GRACE: Duration = Duration::from_millis(700);

/// What the stop found and did, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopReport {
    /// Pairs live when the listener closed.
    pub live: usize,
    /// Of those, pairs that ended on their own during the drain.
    pub finished: usize,
    /// Pairs still live at the deadline, and reset.
    pub cut: usize,
}

impl fmt::Display for StopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pairs live at the stop: {} finished, {} cut",
            self.live, self.finished, self.cut
        )
    }
}

/// Drain the live pairs for up to `drain`, then cut the rest.
pub fn drain_then_cut(mut live: LivePairs, drain: Duration, cause: Cause) -> StopReport {
    live.reap();
    let at_stop = live.len();
    if at_stop > 0 && !drain.is_zero() {
        let meanwhile = match cause {
            Cause::Signal => "new clients are refused; a second signal cuts them at once".into(),
            Cause::HandedOver(pid) => {
                format!("new clients go to {pid}; a signal cuts them at once")
            }
        };
        info!(
            "draining {at_stop} live pairs for up to {} ({meanwhile})",
            Timeout(drain)
        );
    }
    let left = live.wait_until_empty(Instant::now() + drain);
    live.directory().end_all(&CloseReason::Shutdown);
    let unfinished = live.wait_until_empty(Instant::now() + CUT_GRACE);
    let report = StopReport {
        live: at_stop,
        finished: at_stop - left,
        cut: left,
    };
    info!("stopped: {report}");
    if unfinished > 0 {
        warn!("{unfinished} pairs still connecting to the destination; they end with the process");
    }
    report
}
