//! SIGINT and SIGTERM: the first asks for a stop, a second exits at once; and the same signal
//! twice within a second is one.
//!
//! Why a second: GNU `timeout` (and some supervisors) signal the process, then its whole process
//! group, a moment apart, and we are in that group. Two TERMs then arrive microseconds to
//! milliseconds apart. When the `signals` thread has read the first before the second arrives,
//! the second would count as "again" and cut everything with exit 130 and no summary — in a
//! tenth to a half of the runs of `timeout 2 tcpproxy ...`, as measured. A person who means
//! "again" presses Ctrl-C or runs `kill` a second time well over a second later.
//!
//! Called from the `signals` thread (SIGTERM) and ctrlc's thread (SIGINT), so the memory of the
//! first signal is behind a mutex. Nothing here blocks but the stop's wake-up of the accept loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use log::{debug, warn, Level};
use nix::sys::signal::Signal;

use crate::events::{self, Importance};
use crate::front_door::live::Directory;
use crate::front_door::stop::Stop;
use crate::relay::close::CloseReason;

/// Exit status after a second signal: 128 + SIGINT, as a shell reports an interrupted command.
pub const EXIT_ON_SECOND_SIGNAL: i32 = 130;

/// Set, once and for good, when a second signal is exiting the process. Cutting the pairs first
/// lets the main thread finish its drain; if it returns from `main` before this thread reaches
/// `exit`, the process would exit 0. `main` looks here: the status is 130 either way.
static SECOND_SIGNAL: AtomicBool = AtomicBool::new(false);

/// Whether the process is exiting on a second signal (exit status [`EXIT_ON_SECOND_SIGNAL`]).
pub fn exiting_on_a_second_signal() -> bool {
    SECOND_SIGNAL.load(Ordering::SeqCst)
}

/// The same signal again within this long is the same stop: GNU `timeout` sends its second one
/// at once, and a person who means "again" takes longer.
pub const SAME_SIGNAL_WITHIN: Duration = Duration::from_secs(1);

/// What a stop signal needs: the stop flag, the live pairs to cut, and the first stop signal.
pub struct Stopping {
    stop: Arc<Stop>,
    live: Directory,
    first: Mutex<Option<(Signal, Instant)>>,
}

/// What to do with a stop signal.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The first stop: ask for it.
    Stop,
    /// The first one again, within [`SAME_SIGNAL_WITHIN`]: nothing.
    Same,
    /// A second stop: cut everything and exit.
    Again,
}

fn judge(first: Option<(Signal, Instant)>, signal: Signal, now: Instant) -> Verdict {
    match first {
        None => Verdict::Stop,
        Some((was, at)) if was == signal && now.duration_since(at) < SAME_SIGNAL_WITHIN => {
            Verdict::Same
        }
        Some(_) => Verdict::Again,
    }
}

impl Stopping {
    pub fn new(stop: Arc<Stop>, live: Directory) -> Stopping {
        Stopping {
            stop,
            live,
            first: Mutex::new(None),
        }
    }

    /// SIGINT or SIGTERM arrived.
    pub fn on(&self, signal: Signal) {
        let now = Instant::now();
        let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        match judge(*first, signal, now) {
            Verdict::Same => {
                debug!("{signal} again within a second: the same stop (GNU timeout sends two)");
            }
            Verdict::Stop if self.stop.request(|| announce(signal)) => {
                *first = Some((signal, now));
            }
            // A stop already under way that no signal asked for: an upgrade's handover.
            Verdict::Stop => self.exit_now(signal, "during the drain after an upgrade's handover"),
            Verdict::Again => self.exit_now(signal, "again"),
        }
    }

    /// Stop with no signal to name (the caller has logged why).
    pub fn without_signal(&self) {
        self.stop.request(|| {});
    }

    /// A second stop does not wait: reset every live pair, so that no peer takes the cut for a
    /// clean end, and exit.
    fn exit_now(&self, signal: Signal, when: &str) -> ! {
        debug_assert!(self.stop.cause().is_some());
        warn!("{signal} received {when}: cutting every live pair and exiting now");
        SECOND_SIGNAL.store(true, Ordering::SeqCst);
        self.live.end_all(&CloseReason::Shutdown);
        std::process::exit(EXIT_ON_SECOND_SIGNAL);
    }
}

/// The stop line, written before the main thread wakes: once woken it may finish and exit.
fn announce(signal: Signal) {
    let text = format!("{signal} received: stopping (a second signal exits at once)");
    events::emit(Level::Info, Importance::Always, "stop", text, |out| {
        out.str("signal", signal);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_signal_within_a_second_is_one_stop() {
        let t0 = Instant::now();
        let first = Some((Signal::SIGTERM, t0));
        assert_eq!(judge(None, Signal::SIGTERM, t0), Verdict::Stop);
        let soon = t0 + Duration::from_millis(3);
        assert_eq!(judge(first, Signal::SIGTERM, soon), Verdict::Same);
        let late = t0 + SAME_SIGNAL_WITHIN;
        assert_eq!(judge(first, Signal::SIGTERM, late), Verdict::Again);
        assert_eq!(judge(first, Signal::SIGINT, soon), Verdict::Again);
    }
}
