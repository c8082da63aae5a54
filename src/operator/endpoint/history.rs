//! The last few minutes, for the status page's chart: a bounded ring of one sample a second, each
//! the time, the pairs live and the bytes relayed so far.
//!
//! The proxy keeps this itself, so the chart has its past as soon as someone opens the page. Only
//! with `--metrics` is there a ring at all; without it there is nothing to sample and no timer.
//!
//! **Who samples: the `signals` thread** (`signals.rs`), which already sleeps in `poll` with a
//! timeout for `--stats-interval`; with a ring it also wakes once a second. Its only blocking call
//! is that `poll` (and the log's write, at a report), so no network peer can delay a sample. The
//! HTTP thread could sample between requests instead, but it spends up to seconds on one slow
//! browser, and every such second would be a gap in the chart.
//!
//! **Who locks:** the ring is behind a mutex held for one push (the `signals` thread, once a
//! second) or one copy (the HTTP thread, per `/pairs.json`). No pump ever touches it: a sample
//! reads the pumps' counters, as the stats table does, with relaxed atomic loads. Nothing here
//! blocks but that short lock.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::front_door::live::Directory;
use crate::relay::direction::Direction;
use crate::relay::Relay;

/// How often the `signals` thread takes a sample.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples kept: five minutes at one a second. About 7 KiB of JSON in `/pairs.json`.
pub const KEPT: usize = 300;

/// One moment: how many pairs were live and how many bytes had been relayed (both ways, by
/// ended and live pairs alike) `at` after the proxy started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub live: u64,
    pub bytes: u64,
}

impl Sample {
    /// Read the counters now. This walks the table of live pairs, as the stats table does: the
    /// main thread's lock on it is held only while the weak references are copied.
    pub fn take(started: Instant, live: &Directory, relay: &Relay) -> Sample {
        let (up, down) = relay.totals().bytes();
        let mut sample = Sample {
            at: started.elapsed(),
            live: 0,
            bytes: up + down,
        };
        for pair in live.live_pairs().iter().filter_map(Weak::upgrade) {
            sample.live += 1;
            sample.bytes += pair.delivered(Direction::ClientToServer)
                + pair.delivered(Direction::ServerToClient);
        }
        sample
    }
}

/// The ring: at most `capacity` samples, oldest first; a new one pushes the oldest out.
#[derive(Debug)]
pub struct History {
    /// When the proxy started: the zero of every sample's time.
    started: Instant,
    capacity: usize,
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        History {
            started: Instant::now(),
            capacity,
            samples: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    /// Time since the proxy started, on the samples' clock.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Take a sample of `live` and `relay` now and keep it.
    pub fn sample(&self, live: &Directory, relay: &Relay) {
        self.push(Sample::take(self.started, live, relay));
    }

    pub fn push(&self, sample: Sample) {
        let mut samples = self.lock();
        if samples.len() == self.capacity {
            samples.pop_front();
        }
        if self.capacity > 0 {
            samples.push_back(sample);
        }
    }

    /// A copy of every sample kept, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.lock().iter().copied().collect()
    }

    /// A push or a copy cannot be left half done by a panic, so a poisoned lock's data is whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u64) -> Sample {
        Sample {
            at: Duration::from_secs(second),
            live: second % 7,
            bytes: second * 1000,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_samples_and_never_more() {
        let history = History::new(KEPT);
        for second in 0..1000 {
            history.push(at(second));
            assert!(history.samples().len() <= KEPT);
        }
        let kept = history.samples();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0], at(1000 - KEPT as u64));
        assert_eq!(kept[KEPT - 1], at(999));
        assert!(kept.windows(2).all(|w| w[0].at < w[1].at), "oldest first");
    }

    #[test]
    fn an_empty_ring_stays_empty() {
        let history = History::new(0);
        history.push(at(1));
        assert!(history.samples().is_empty());
    }
}
