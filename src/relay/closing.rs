//! What the last of a pair's two threads does as it lets go: count the pair and close its
//! sockets; its caller then gives the slot back and writes the one closing line, in that order.
//!
//! Neither of a pair's threads waits for the other. Each holds a share of the pair's closing
//! state (`last_out.rs`), and whichever lets go of the last share closes the pair, even if the
//! other panicked (`lifecycle.rs`). The order matters to whoever reads the line: by the time it
//! is written, the descriptors are gone and the slot under `--max-connections` is free, so a test
//! (or an operator) that reads it may connect again at once.
//!
//! A stop must not exit with lines unwritten, though: the main thread waits for the slots, and a
//! pair gives its slot back before it writes its line. [`LinesInFlight`] counts the lines between
//! the two, and a stop waits for them too.
//!
//! Nothing here blocks but [`LinesInFlight::wait_until_written`], once, at a stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::Level;

use crate::events;
use crate::relay::accounting::report::PairReport;
use crate::relay::accounting::totals::{Ended, Totals};
use crate::relay::close::CloseReason;
use crate::relay::direction::Direction;
use crate::relay::pair::Pair;
use crate::relay::upstream::{Route, Upstream};

/// How often a stop looks whether the last lines are out. They take microseconds; a condition
/// variable would wake the stop at once, but its notify is a system call at every pair's end, for
/// a wait that happens once in the process's life.
const LINES_POLL: Duration = Duration::from_millis(1);

/// Closing lines whose pair has given its slot back but not yet written the line.
#[derive(Debug, Default)]
pub struct LinesInFlight(AtomicUsize);

impl LinesInFlight {
    /// A pair's last thread is about to give its slot back: its line is in flight until the
    /// guard drops. (SeqCst: a stop that sees the slot free must see this count.)
    pub fn begin(&self) -> LineInFlight<'_> {
        self.0.fetch_add(1, Ordering::SeqCst);
        LineInFlight(self)
    }

    /// At a stop, once every slot is back: wait until every line is written, or `deadline`
    /// passes; how many were still in flight then.
    pub fn wait_until_written(&self, deadline: Instant) -> usize {
        loop {
            let pending = self.0.load(Ordering::SeqCst);
            if pending == 0 || Instant::now() >= deadline {
                return pending;
            }
            thread::sleep(LINES_POLL);
        }
    }
}

/// One line in flight; written (or not to be written) when dropped.
pub struct LineInFlight<'a>(&'a LinesInFlight);

impl Drop for LineInFlight<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The way the pair went: the destinations it tried, and whether it reached one.
pub struct Way<'a> {
    pub upstream: &'a Upstream,
    /// `None`: the pair never tried to connect (it ended before).
    pub route: Option<&'a Route>,
    pub reached: bool,
}

impl Way<'_> {
    /// The destination used, or the last one tried; the first if none was.
    fn last(&self) -> usize {
        self.route.and_then(Route::last).unwrap_or(0)
    }

    /// HOST:PORT as given, of the destination at `index`.
    fn name_of(&self, index: usize) -> Arc<str> {
        let pool = &self.upstream.pool;
        let destination = pool.destinations().get(index).map_or(pool.first(), |d| d);
        Arc::clone(destination.label())
    }

    fn failed_over(&self) -> Vec<Arc<str>> {
        let failed = self.route.map_or(&[][..], Route::failed_over);
        failed.iter().map(|&i| self.name_of(i)).collect()
    }
}

/// Count the pair and close both sockets; the line that says so, if one is to be written, is
/// written by the caller once the pair's place is free, so its reader may rely on the
/// descriptors being gone and the slot being free.
pub fn count_and_close(pair: Arc<Pair>, totals: &Totals, way: Way) -> Option<(Level, PairReport)> {
    let reason = pair.reason().cloned().unwrap_or(CloseReason::BothEof);
    let level = if reason.is_warning() {
        Level::Warn
    } else {
        Level::Info
    };
    let up = pair.delivered(Direction::ClientToServer);
    let down = pair.delivered(Direction::ServerToClient);
    pair.mark_counted();
    totals.add_pair(&Ended {
        reason: &reason,
        reached_destination: way.reached,
        bytes_up: up,
        bytes_down: down,
        lifetime: pair.age(),
    });
    // Only for a line we print: the report formats the destination and more, which with `-q` was
    // a fifth of a short pair's own instructions.
    let logged = log::log_enabled!(target: events::EVENT_TARGET, level);
    let report = logged.then(|| PairReport {
        id: pair.id(),
        client: pair.client_addr(),
        listen: pair.listen_addr(),
        source: pair.source_addr(),
        destination: pair.server_addr().map_or_else(
            || way.name_of(way.last()).to_string(),
            |addr| addr.to_string(),
        ),
        destination_name: way.name_of(way.last()),
        failed_over: way.failed_over(),
        reason,
        bytes_up: up,
        bytes_down: down,
        duration: pair.age(),
    });
    drop(pair); // the last strong reference: both sockets close here
    report.map(|report| (level, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_waits_for_the_lines_still_being_written() {
        let lines = LinesInFlight::default();
        let soon = || Instant::now() + Duration::from_millis(20);
        assert_eq!(lines.wait_until_written(soon()), 0);
        let writing = lines.begin();
        assert_eq!(
            lines.wait_until_written(soon()),
            1,
            "gave up at the deadline"
        );
        drop(writing);
        assert_eq!(lines.wait_until_written(soon()), 0);
    }
}
