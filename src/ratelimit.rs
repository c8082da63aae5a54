//! A log rate limit: at most one line per interval, counting what it held back.
//!
//! A port scan or a descriptor shortage can produce thousands of identical events a second; logging
//! each would fill the disk and bury everything else. The caller asks [`RateLimit::check`]
//! before logging; nothing here blocks.

use std::time::{Duration, Instant};

pub struct RateLimit {
    interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    pub fn new(interval: Duration) -> Self {
        RateLimit {
            interval,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` if the caller may log now, `n` being how many events were held back since the last
    /// line; `None` if it must stay quiet.
    pub fn check(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last_logged {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_logged = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_event_within_the_interval_is_held_back_and_counted() {
        let mut limit = RateLimit::new(Duration::from_millis(50));
        assert_eq!(limit.check(), Some(0));
        assert_eq!(limit.check(), None);
        assert_eq!(limit.check(), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limit.check(), Some(2));
    }
}
