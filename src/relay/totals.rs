//! The relay's running totals: pairs served, bytes each way, pairs cut by the hang rule.
//!
//! Each pair adds itself once, as it ends; the live pairs' own counters (`activity.rs`) cover the
//! bytes still moving. The shutdown summary and the stats table read these. Relaxed atomics: the
//! numbers are reported, never used to decide anything. Nothing here blocks.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::relay::close::CloseReason;
use crate::relay::direction::Side;
use crate::relay::hang::Hang;
use crate::units::Bytes;

/// Proxy-wide counters of pairs that have ended.
#[derive(Debug, Default)]
pub struct Totals {
    pairs_served: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    stalls_toward_client: AtomicU64,
    stalls_toward_server: AtomicU64,
    idle: AtomicU64,
}

/// Pairs cut by each hang rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HangCuts {
    pub stall_toward_client: u64,
    pub stall_toward_server: u64,
    pub idle: u64,
}

impl Totals {
    pub fn add_pair(&self, bytes_up: u64, bytes_down: u64, reason: &CloseReason) {
        self.pairs_served.fetch_add(1, Ordering::Relaxed);
        self.bytes_up.fetch_add(bytes_up, Ordering::Relaxed);
        self.bytes_down.fetch_add(bytes_down, Ordering::Relaxed);
        let hang_counter = match reason {
            CloseReason::Hang(Hang::StallToward(Side::Client)) => &self.stalls_toward_client,
            CloseReason::Hang(Hang::StallToward(Side::Server)) => &self.stalls_toward_server,
            CloseReason::Hang(Hang::Idle) => &self.idle,
            _ => return,
        };
        hang_counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pairs_served(&self) -> u64 {
        self.pairs_served.load(Ordering::Relaxed)
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
            stall_toward_client: self.stalls_toward_client.load(Ordering::Relaxed),
            stall_toward_server: self.stalls_toward_server.load(Ordering::Relaxed),
            idle: self.idle.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (up, down) = self.bytes();
        write!(
            f,
            "{} pairs served, up {}, down {}",
            self.pairs_served(),
            Bytes(up),
            Bytes(down)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_add_their_bytes_and_hangs_count_by_rule() {
        let totals = Totals::default();
        totals.add_pair(10, 2048, &CloseReason::BothEof);
        totals.add_pair(5, 0, &CloseReason::Hang(Hang::StallToward(Side::Client)));
        totals.add_pair(0, 0, &CloseReason::Hang(Hang::StallToward(Side::Server)));
        totals.add_pair(0, 0, &CloseReason::Hang(Hang::Idle));
        totals.add_pair(0, 0, &CloseReason::Hang(Hang::Idle));
        assert_eq!(totals.pairs_served(), 5);
        assert_eq!(totals.bytes(), (15, 2048));
        assert_eq!(
            totals.hang_cuts(),
            HangCuts {
                stall_toward_client: 1,
                stall_toward_server: 1,
                idle: 2
            }
        );
        assert_eq!(totals.to_string(), "5 pairs served, up 15 B, down 2.0 KiB");
    }
}
