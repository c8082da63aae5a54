//! What each direction of a pair is doing right now, and how many bytes it has delivered: for the
//! live stats table (`operator/stats.rs`) and the pair's closing line.
//!
//! A blocking proxy can answer "what is it doing?" exactly: each pump thread is inside one call,
//! and it says which before it makes it. The pump publishes its state here with relaxed atomic
//! stores — one before each `read`, a few around each `write`, no lock — and the stats thread
//! reads them whenever it likes. The two may disagree for a moment (a state and its timestamp are
//! two stores), which a table printed for people can afford; the data path cannot afford a lock.
//!
//! Timestamps are the pair's clock (`HangClock::now`), nanoseconds since the pair opened.
//!
//! Nothing here blocks.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use crate::json::Object;
use crate::units::Bytes;

/// One direction's state, as the table prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The pair's first thread is still connecting to the destination. Zero, because that is
    /// what a fresh (all-zero) `Activity` holds.
    Connecting = 0,
    /// Blocked in `read` on the source, since `since`.
    Reading,
    /// Holding `pending` bytes for the sink; its last byte moved at `since`.
    Writing,
    /// The source sent EOF and the sink's write half is shut: this way is finished.
    HalfClosed,
    /// The pump has ended for any other reason (the pair is ending).
    Done,
}

impl State {
    /// The state's name, as the table, the JSON log and the status page show it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Reading => "reading",
            State::Writing => "writing",
            State::HalfClosed => "half-closed",
            State::Done => "done",
        }
    }

    const ALL: [State; 5] = [
        State::Connecting,
        State::Reading,
        State::Writing,
        State::HalfClosed,
        State::Done,
    ];
}

/// One direction's published state. A new one reads `connecting` (state 0) with nothing delivered.
#[derive(Debug, Default)]
pub struct Activity {
    state: AtomicU8,
    since: AtomicU64,
    pending: AtomicU64,
    delivered: AtomicU64,
}

impl Activity {
    /// About to block in `read`.
    pub fn reading(&self, now: u64) {
        self.since.store(now, Ordering::Relaxed);
        self.state.store(State::Reading as u8, Ordering::Relaxed);
    }

    /// Holding `held` bytes for the sink, none of them sent yet.
    pub fn writing(&self, now: u64, held: usize) {
        self.since.store(now, Ordering::Relaxed);
        self.pending.store(held as u64, Ordering::Relaxed);
        self.state.store(State::Writing as u8, Ordering::Relaxed);
    }

    /// `sent` of them went: `held` are left, and the sink is not blocked as of `now`.
    pub fn wrote(&self, now: u64, sent: usize, held: usize) {
        self.delivered.fetch_add(sent as u64, Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
        self.pending.store(held as u64, Ordering::Relaxed);
    }

    /// Bytes this direction has delivered to its sink so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The pump is out of its loop, for good.
    pub fn finished(&self, state: State) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// What a reader sees at `now`.
    pub fn snapshot(&self, now: u64) -> Snapshot {
        let state = State::ALL
            .into_iter()
            .find(|s| *s as u8 == self.state.load(Ordering::Relaxed))
            .unwrap_or(State::Done);
        let since = self.since.load(Ordering::Relaxed);
        Snapshot {
            state,
            for_how_long: Duration::from_nanos(now.saturating_sub(since)),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }
}

/// A direction's state at one moment, printable: `reading 3.2 s`, `writing, blocked 7.3 s, 2.5 MiB
/// pending`.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub state: State,
    pub for_how_long: Duration,
    pub pending: u64,
}

impl Snapshot {
    /// For programs: `{"state":"writing","seconds":7.3,"pending_bytes":262144}`.
    pub fn fields(&self, out: &mut Object) {
        out.str("state", self.state.as_str())
            .f64("seconds", self.for_how_long.as_secs_f64())
            .u64("pending_bytes", self.pending);
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.for_how_long.as_secs_f64();
        match self.state {
            State::Connecting => write!(f, "connecting"),
            State::Reading => write!(f, "reading {secs:.1} s"),
            State::Writing => write!(
                f,
                "writing, blocked {secs:.1} s, {} pending",
                Bytes(self.pending)
            ),
            State::HalfClosed => write!(f, "half-closed"),
            State::Done => write!(f, "done"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn states_read_as_the_table_prints_them() {
        let a = Activity::default();
        assert_eq!(a.snapshot(0).to_string(), "connecting");
        a.reading(SECOND);
        assert_eq!(a.snapshot(4 * SECOND).to_string(), "reading 3.0 s");
        a.writing(5 * SECOND, 300_000);
        a.wrote(6 * SECOND, 37_856, 262_144);
        assert_eq!(a.delivered(), 37_856);
        assert_eq!(
            a.snapshot(13 * SECOND + SECOND / 3).to_string(),
            "writing, blocked 7.3 s, 256.0 KiB pending"
        );
        a.wrote(7 * SECOND, 262_144, 0);
        assert_eq!(a.delivered(), 300_000);
        a.finished(State::HalfClosed);
        assert_eq!(a.snapshot(20 * SECOND).to_string(), "half-closed");
        a.finished(State::Done);
        assert_eq!(a.snapshot(20 * SECOND).to_string(), "done");
    }
}
