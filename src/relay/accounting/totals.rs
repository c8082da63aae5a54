//! The relay's running totals: pairs opened and ended (by close reason, and whether they reached
//! the destination), bytes each way, pairs connecting now, and two histograms: how long pairs
//! lived and how long the destination took to accept a connection.
//!
//! Each pair adds itself once, as it ends; the live pairs' own counters (`activity.rs`) cover the
//! bytes still moving. The shutdown summary, the stats table and the metrics read these. Relaxed
//! atomics, and never a lock: a pair's end touches a handful of counters and waits for nothing.
//! The numbers are reported, never used to decide anything. Nothing here blocks.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::relay::accounting::histogram::{Histogram, HistogramSnapshot};
use crate::relay::close::{CloseCode, CloseReason};
use crate::units::Bytes;

/// Upper bounds for a pair's life, in seconds: from a health check's milliseconds to a
/// database session's hours.
const PAIR_SECONDS: [f64; 12] = [
    0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
];

/// Upper bounds for a connect, in seconds: loopback takes tens of microseconds, a distant host
/// tens of milliseconds, and a lost SYN a second or more.
const CONNECT_SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 3.0, 10.0,
];

/// Proxy-wide counters.
#[derive(Debug)]
pub struct Totals {
    opened: AtomicU64,
    connecting: AtomicU64,
    reached: AtomicU64,
    not_reached: AtomicU64,
    ended_by: [AtomicU64; CloseCode::ALL.len()],
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    pair_seconds: Histogram,
    connect_seconds: Histogram,
}

/// Pairs cut by each hang rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HangCuts {
    pub stall_toward_client: u64,
    pub stall_toward_server: u64,
    pub idle: u64,
}

/// What an ended pair adds to the totals.
pub struct Ended<'a> {
    pub reason: &'a CloseReason,
    /// Whether the connection to the destination was made: a pair that never got one served
    /// nobody, and the totals say so apart.
    pub reached_destination: bool,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub lifetime: Duration,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            opened: AtomicU64::new(0),
            connecting: AtomicU64::new(0),
            reached: AtomicU64::new(0),
            not_reached: AtomicU64::new(0),
            ended_by: Default::default(),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            pair_seconds: Histogram::new(&PAIR_SECONDS),
            connect_seconds: Histogram::new(&CONNECT_SECONDS),
        }
    }
}

impl Totals {
    /// A client was accepted and handed to the relay.
    pub fn opened_pair(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// A connect to the destination begins; it counts as "connecting" until the guard drops.
    pub fn connecting(&self) -> Connecting<'_> {
        self.connecting.fetch_add(1, Ordering::Relaxed);
        Connecting {
            totals: self,
            started: Instant::now(),
        }
    }

    pub fn add_pair(&self, pair: &Ended) {
        let reached = if pair.reached_destination {
            &self.reached
        } else {
            &self.not_reached
        };
        reached.fetch_add(1, Ordering::Relaxed);
        self.ended_by[pair.reason.code().index()].fetch_add(1, Ordering::Relaxed);
        self.bytes_up.fetch_add(pair.bytes_up, Ordering::Relaxed);
        self.bytes_down
            .fetch_add(pair.bytes_down, Ordering::Relaxed);
        self.pair_seconds.observe(pair.lifetime);
    }

    pub fn pairs_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    pub fn pairs_connecting(&self) -> u64 {
        self.connecting.load(Ordering::Relaxed)
    }

    /// Every pair that has ended, whether it reached the destination or not.
    pub fn pairs_served(&self) -> u64 {
        self.pairs_reached() + self.pairs_not_reached()
    }

    /// Ended pairs that had their connection to the destination.
    pub fn pairs_reached(&self) -> u64 {
        self.reached.load(Ordering::Relaxed)
    }

    /// Ended pairs that never had one: the connect failed, or the pair was ended before it.
    pub fn pairs_not_reached(&self) -> u64 {
        self.not_reached.load(Ordering::Relaxed)
    }

    pub fn ended_by(&self, code: CloseCode) -> u64 {
        self.ended_by[code.index()].load(Ordering::Relaxed)
    }

    /// Bytes delivered by pairs that have ended: (client to server, server to client).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }

    pub fn hang_cuts(&self) -> HangCuts {
        HangCuts {
            stall_toward_client: self.ended_by(CloseCode::StallTowardClient),
            stall_toward_server: self.ended_by(CloseCode::StallTowardServer),
            idle: self.ended_by(CloseCode::Idle),
        }
    }

    pub fn pair_seconds(&self) -> HistogramSnapshot {
        self.pair_seconds.snapshot()
    }

    /// Successful connects only: a failed one is counted by its close code, `connect_failed`.
    pub fn connect_seconds(&self) -> HistogramSnapshot {
        self.connect_seconds.snapshot()
    }
}

/// A connect in progress, counted in [`Totals::pairs_connecting`] until dropped.
pub struct Connecting<'a> {
    totals: &'a Totals,
    started: Instant,
}

impl Connecting<'_> {
    /// The connect succeeded: time it.
    pub fn connected(self) {
        self.totals.connect_seconds.observe(self.started.elapsed());
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.totals.connecting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (up, down) = self.bytes();
        write!(
            f,
            "{} pairs served ({} reached the destination, {} did not), up {}, down {}",
            self.pairs_served(),
            self.pairs_reached(),
            self.pairs_not_reached(),
            Bytes(up).exact(),
            Bytes(down).exact(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::direction::Side;
    use crate::relay::error::RelayError;
    use crate::relay::hang::Hang;

    fn end(totals: &Totals, reason: CloseReason, reached: bool, up: u64, down: u64) {
        totals.add_pair(&Ended {
            reason: &reason,
            reached_destination: reached,
            bytes_up: up,
            bytes_down: down,
            lifetime: Duration::from_millis(20),
        });
    }

    #[test]
    fn pairs_add_their_bytes_and_hangs_count_by_rule() {
        let totals = Totals::default();
        end(&totals, CloseReason::BothEof, true, 10, 2048);
        end(
            &totals,
            CloseReason::Hang(Hang::StallToward(Side::Client)),
            true,
            5,
            0,
        );
        end(
            &totals,
            CloseReason::Hang(Hang::StallToward(Side::Server)),
            true,
            0,
            0,
        );
        end(&totals, CloseReason::Hang(Hang::Idle), true, 0, 0);
        end(&totals, CloseReason::Hang(Hang::Idle), true, 0, 0);
        let refused = CloseReason::Failed(RelayError::Connect(Default::default()));
        end(&totals, refused, false, 0, 0);
        assert_eq!(totals.pairs_served(), 6);
        assert_eq!((totals.pairs_reached(), totals.pairs_not_reached()), (5, 1));
        assert_eq!(totals.ended_by(CloseCode::ConnectFailed), 1);
        assert_eq!(totals.bytes(), (15, 2048));
        assert_eq!(
            totals.hang_cuts(),
            HangCuts {
                stall_toward_client: 1,
                stall_toward_server: 1,
                idle: 2
            }
        );
        assert_eq!(totals.pair_seconds().count, 6);
        assert_eq!(
            totals.to_string(),
            "6 pairs served (5 reached the destination, 1 did not), up 15 B, down 2048 B (2.0 KiB)"
        );
    }

    #[test]
    fn a_connect_counts_while_it_lasts_and_is_timed_only_when_it_succeeds() {
        let totals = Totals::default();
        let first = totals.connecting();
        let second = totals.connecting();
        assert_eq!(totals.pairs_connecting(), 2);
        first.connected();
        drop(second);
        assert_eq!(totals.pairs_connecting(), 0);
        assert_eq!(totals.connect_seconds().count, 1);
    }
}
