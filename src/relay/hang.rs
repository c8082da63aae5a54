//! The hang rule: when is a pair stuck for good?
//!
//! A pair is hung when, for the timeout,
//! - **stall**: a write toward one side has moved no byte (that peer stopped reading), or
//! - **idle**: no byte has moved in either direction.
//!
//! A naive per-socket read timeout gets this wrong: during a long download the upload direction is
//! quiet, and its read would time out although the pair is busy. So the clock is kept *per pair*:
//! [`HangClock`] records when any byte last moved, and when each direction's current write last made
//! progress. Both pump threads write these atomics on the data path (two relaxed stores per call),
//! and either thread may ask [`HangClock::verdict`], a pure function of them, when its own blocking
//! call wakes up. Whichever thread asks first gets the same answer, and ends the pair with it.
//!
//! Blocking calls are woken by the kernel's socket timeouts:
//! - A **read** is armed with the time left until the pair's idle deadline. The deadline only ever
//!   moves later, so an armed timeout can fire early (we look, see progress, and re-arm with what is
//!   left) but never late.
//! - A **write** is armed with a short [`WRITE_CHECK_INTERVAL`]. `SO_SNDTIMEO` tells us that a write
//!   moved *some* bytes before it timed out, but not when; checking often bounds how stale our
//!   "last progress" can be, so a stall is cut between T and T + 2 × the interval after it began.
//!
//! Nothing here blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::relay::direction::{Direction, Side};

/// How often a blocked write wakes to look at the clock. It bounds the lateness of the stall rule
/// (at most two intervals past the timeout, well inside the one second the rule allows) and costs one wake-up
/// per interval per blocked writer, which is nothing.
pub const WRITE_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// The kernel rejects a zero socket timeout (it means "forever"); this is the smallest we arm.
const MIN_ARMED_TIMEOUT: Duration = Duration::from_millis(1);

/// Marks a direction that is not inside a write.
const NOT_WRITING: u64 = u64::MAX;

/// Which rule fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hang {
    /// The proxy held data for this side and it took none of it.
    StallToward(Side),
    /// Nothing moved either way.
    Idle,
}

/// The configured timeouts; `None` disables a rule.
#[derive(Clone, Copy, Debug)]
pub struct HangRule {
    stall: Option<Duration>,
    idle: Option<Duration>,
}

impl HangRule {
    /// `Duration::ZERO` disables a rule, as `--timeout 0` and `--idle-timeout 0` do.
    pub fn new(stall: Duration, idle: Duration) -> Self {
        let enabled = |d: Duration| (!d.is_zero()).then_some(d);
        HangRule {
            stall: enabled(stall),
            idle: enabled(idle),
        }
    }

    /// The write timeout to arm on every socket: short when any rule needs watching, else none.
    pub fn write_timeout(&self) -> Option<Duration> {
        (self.stall.is_some() || self.idle.is_some()).then_some(WRITE_CHECK_INTERVAL)
    }
}

/// One pair's progress clock, shared by its two threads.
///
/// Times are nanoseconds since the clock started ([`HangClock::now`]); every method that needs
/// the time takes it as an argument, so a caller that has just read the clock passes the same
/// reading to the clock and to the pump's activity, and a test can drive the clock through hours
/// of a pair's life without sleeping.
#[derive(Debug)]
pub struct HangClock {
    rule: HangRule,
    epoch: Instant,
    /// When any byte last moved, either way.
    last_progress: AtomicU64,
    /// Per direction: when its current write last moved a byte, or `NOT_WRITING`.
    writing_since: [AtomicU64; 2],
}

impl HangClock {
    /// A clock whose hang timers start now.
    pub fn start(rule: HangRule) -> Self {
        HangClock {
            rule,
            epoch: Instant::now(),
            last_progress: AtomicU64::new(0),
            writing_since: [AtomicU64::new(NOT_WRITING), AtomicU64::new(NOT_WRITING)],
        }
    }

    /// Nanoseconds since the clock started: the time base of this pair's clocks and activity.
    pub fn now(&self) -> u64 {
        // u64 nanoseconds last 584 years, longer than any connection.
        self.epoch.elapsed().as_nanos() as u64
    }

    /// A byte was read at `now`: the pair is not idle.
    pub fn progress(&self, now: u64) {
        // Relaxed is enough: these are hints compared against timeouts of a second or more; the
        // syscalls around them order far more strictly than we need.
        self.last_progress.store(now, Ordering::Relaxed);
    }

    /// `dir` is about to write: its stall timer starts at `now`.
    pub fn write_started(&self, dir: Direction, now: u64) {
        self.writing_since[dir.index()].store(now, Ordering::Relaxed);
    }

    /// `dir`'s write moved bytes at `now`: the pair is not idle, and the stall timer restarts.
    pub fn write_progress(&self, dir: Direction, now: u64) {
        self.last_progress.store(now, Ordering::Relaxed);
        self.writing_since[dir.index()].store(now, Ordering::Relaxed);
    }

    /// `dir` has delivered everything it held: it cannot stall until its next write.
    pub fn write_done(&self, dir: Direction) {
        self.writing_since[dir.index()].store(NOT_WRITING, Ordering::Relaxed);
    }

    /// Is the pair hung at `now`, and by which rule? A stall is the more precise diagnosis, so it
    /// wins when both have fired (a frozen client makes the pair idle too).
    pub fn verdict(&self, now: u64) -> Option<Hang> {
        if let Some(stall) = self.rule.stall {
            for dir in Direction::BOTH {
                let since = self.writing_since[dir.index()].load(Ordering::Relaxed);
                if since != NOT_WRITING && elapsed(since, now) >= stall {
                    return Some(Hang::StallToward(dir.sink()));
                }
            }
        }
        let idle = self.rule.idle?;
        let quiet = elapsed(self.last_progress.load(Ordering::Relaxed), now);
        (quiet >= idle).then_some(Hang::Idle)
    }

    /// The read timeout to arm at `now`: the time left until the idle deadline (`None`: wait
    /// forever).
    pub fn read_timeout(&self, now: u64) -> Option<Duration> {
        let idle = self.rule.idle?;
        let quiet = elapsed(self.last_progress.load(Ordering::Relaxed), now);
        Some(idle.saturating_sub(quiet).max(MIN_ARMED_TIMEOUT))
    }

    /// The write timeout to arm on the pair's sockets.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.rule.write_timeout()
    }
}

fn elapsed(since: u64, now: u64) -> Duration {
    Duration::from_nanos(now.saturating_sub(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn clock(stall_ms: u64, idle_ms: u64) -> HangClock {
        HangClock::start(HangRule::new(
            Duration::from_millis(stall_ms),
            Duration::from_millis(idle_ms),
        ))
    }

    #[test]
    fn fresh_pair_is_not_hung() {
        assert_eq!(clock(1000, 1000).verdict(0), None);
    }

    #[test]
    fn quiet_pair_goes_idle_exactly_at_the_timeout() {
        let c = clock(10_000, 20);
        assert_eq!(c.verdict(20 * MS - 1), None);
        assert_eq!(c.verdict(20 * MS), Some(Hang::Idle));
    }

    #[test]
    fn any_progress_restarts_the_idle_timer() {
        let c = clock(10_000, 20);
        c.progress(15 * MS);
        assert_eq!(c.verdict(30 * MS), None);
        assert_eq!(c.verdict(35 * MS), Some(Hang::Idle));
        c.write_progress(Direction::ServerToClient, 35 * MS);
        c.write_done(Direction::ServerToClient);
        assert_eq!(c.verdict(50 * MS), None);
    }

    #[test]
    fn blocked_write_is_a_stall_even_while_the_other_way_moves() {
        let c = clock(20, 10_000);
        c.write_started(Direction::ServerToClient, 0);
        c.progress(30 * MS); // the upload keeps going
        assert_eq!(c.verdict(19 * MS), None);
        assert_eq!(c.verdict(20 * MS), Some(Hang::StallToward(Side::Client)));
        c.write_done(Direction::ServerToClient);
        assert_eq!(c.verdict(30 * MS), None);
    }

    #[test]
    fn a_write_that_moves_some_bytes_is_not_stalled() {
        let c = clock(20, 10_000);
        c.write_started(Direction::ClientToServer, 0);
        c.write_progress(Direction::ClientToServer, 15 * MS);
        assert_eq!(c.verdict(30 * MS), None);
        assert_eq!(c.verdict(35 * MS), Some(Hang::StallToward(Side::Server)));
    }

    #[test]
    fn stall_is_named_before_idle() {
        let c = clock(20, 20);
        c.write_started(Direction::ClientToServer, 0);
        assert_eq!(c.verdict(30 * MS), Some(Hang::StallToward(Side::Server)));
    }

    #[test]
    fn zero_disables_a_rule() {
        let c = clock(20, 0);
        assert_eq!(c.verdict(30 * MS), None);
        assert_eq!(c.read_timeout(30 * MS), None);
        c.write_started(Direction::ServerToClient, 0);
        assert_eq!(c.verdict(30 * MS), Some(Hang::StallToward(Side::Client)));
        let no_stall = clock(0, 20);
        no_stall.write_started(Direction::ServerToClient, 0);
        assert_eq!(no_stall.verdict(30 * MS), Some(Hang::Idle));
        let never = HangRule::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(never.write_timeout(), None);
        assert_eq!(
            HangRule::new(Duration::ZERO, Duration::from_secs(1)).write_timeout(),
            Some(WRITE_CHECK_INTERVAL)
        );
        assert_eq!(
            HangRule::new(Duration::from_secs(1), Duration::ZERO).write_timeout(),
            Some(WRITE_CHECK_INTERVAL)
        );
    }

    #[test]
    fn read_timeout_is_the_time_left_to_the_idle_deadline() {
        let c = clock(1000, 1000);
        assert_eq!(c.read_timeout(30 * MS), Some(Duration::from_millis(970)));
        c.progress(500 * MS);
        assert_eq!(c.read_timeout(600 * MS), Some(Duration::from_millis(900)));
        // Past the deadline the kernel still needs a nonzero timeout (zero means "forever").
        assert_eq!(c.read_timeout(5000 * MS), Some(MIN_ARMED_TIMEOUT));
    }

    #[test]
    fn now_counts_from_the_start() {
        let c = clock(1000, 1000);
        let first = c.now();
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.now() >= first + 2 * MS);
    }
}
