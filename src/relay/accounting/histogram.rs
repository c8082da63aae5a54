//! A histogram of durations that any thread may add to without a lock: Prometheus's kind.
//!
//! Each bucket counts the observations at or below its upper bound, and the exposition format
//! wants them cumulative (`le="0.1"` includes everything `le="0.01"` does). We store each
//! observation once, in the first bucket it fits, and add the counts up only when someone reads
//! them: a pair's end costs one `fetch_add` per counter touched, three in all, and never waits.
//! Relaxed atomics: a reader may see an observation's bucket before its sum, which a scrape
//! a second later corrects; nothing decides anything from these numbers. Nothing here blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Durations, bucketed by fixed upper bounds in seconds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One counter per bound, plus one for the observations above every bound (`+Inf`).
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
}

/// What a reader gets: cumulative counts per bound, the total count and the sum in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations at or below it)`, in increasing order.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "bounds must increase"
        );
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket = self.bounds.partition_point(|&bound| bound < seconds);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        // u64 nanoseconds hold 584 years of summed durations.
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            running += count.load(Ordering::Relaxed);
            buckets.push((*bound, running));
        }
        let above_all = self.counts[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count: running + above_all,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_a_bound_includes_itself() {
        static BOUNDS: [f64; 3] = [0.01, 0.1, 1.0];
        let histogram = Histogram::new(&BOUNDS);
        for millis in [5, 10, 50, 100, 700, 3000] {
            histogram.observe(Duration::from_millis(millis));
        }
        let seen = histogram.snapshot();
        assert_eq!(seen.buckets, vec![(0.01, 2), (0.1, 4), (1.0, 5)]);
        assert_eq!(seen.count, 6);
        assert!(
            (seen.sum_seconds - 3.865).abs() < 1e-9,
            "{}",
            seen.sum_seconds
        );
    }
}
