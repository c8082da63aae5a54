//! One destination's health: up or down, since when, and why it changed.
//!
//! Passive health, as nginx's `max_fails`/`fail_timeout` do it: every connect a pair makes is
//! evidence. `--max-fails` failed connects in a row mark a destination down; a connect that
//! succeeds marks it up. While it is down, the choice (`pool.rs`) skips it as long as another is
//! up, so a client does not wait out `--connect-timeout` on a destination already known dead.
//! After `--fail-timeout` it is up again *on trial*: the next client may try it, and one more
//! failure marks it down at once (nginx keeps the failure count for the same reason).
//!
//! With `--check-interval`, a checker thread (`checker.rs`) adds its own connects to the
//! evidence, and the checks alone decide when a down destination is back: the timeout no longer
//! revives it, or a dead destination would be "up" for a moment every `--fail-timeout`, flapping.
//!
//! This is a state machine and nothing else: every method takes the time as an argument (as the
//! hang clock's do), so a test walks it through minutes of a destination's life without sleeping.
//! Each method returns the [`Change`] it made, if any, and the caller logs it: each change is
//! logged once, by whoever made it. The caller holds the destination's lock around each call
//! (`destination.rs`). Nothing here blocks.

use std::fmt;
use std::time::{Duration, Instant};

/// `--max-fails`, `--fail-timeout`, and whether checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthRule {
    pub max_fails: u32,
    pub fail_timeout: Duration,
    /// `--check-interval` is on: only a connect that succeeds brings a destination back.
    pub checked: bool,
}

/// Whose connect it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prober {
    /// A client's pair, connecting to relay.
    Pair,
    /// The checker thread (`--check-interval`).
    Check,
}

/// A change of state, for the log line that tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `fails` failed connects in a row, the last one by `by` failing with `error`.
    Down {
        fails: u32,
        by: Prober,
        error: String,
    },
    /// A connect by `by` reached it, after `down_for` down.
    Reached { by: Prober, down_for: Duration },
    /// `--fail-timeout` is over: clients may try it again.
    TimeoutOver { down_for: Duration },
}

impl Change {
    pub fn is_up(&self) -> bool {
        !matches!(self, Change::Down { .. })
    }
}

/// One destination's state.
#[derive(Clone, Debug)]
pub struct Health {
    rule: HealthRule,
    up: bool,
    /// When the current state began.
    since: Instant,
    /// Failed connects in a row.
    fails: u32,
    /// While down without checks: when clients may try it again.
    retry_at: Instant,
}

impl Health {
    /// A destination presumed up (it resolved; nobody has tried it yet).
    pub fn new(rule: HealthRule, now: Instant) -> Self {
        Health {
            rule,
            up: true,
            since: now,
            fails: 0,
            retry_at: now,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn rule(&self) -> &HealthRule {
        &self.rule
    }

    /// Up since, or down since.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Up and with no failure since the last success: a successful connect changes nothing (the
    /// pair's connect checks this without taking the lock).
    pub fn is_clean(&self) -> bool {
        self.up && self.fails == 0
    }

    /// Bring the state up to `now`: a down destination whose `--fail-timeout` is over is up again,
    /// on trial (one more failure marks it down at once).
    pub fn refresh(&mut self, now: Instant) -> Option<Change> {
        if self.up || self.rule.checked || now < self.retry_at {
            return None;
        }
        let down_for = self.retry_at.saturating_duration_since(self.since);
        self.up = true;
        self.since = self.retry_at;
        self.fails = self.rule.max_fails.saturating_sub(1);
        Some(Change::TimeoutOver { down_for })
    }

    /// A connect failed with `error`.
    pub fn failed(&mut self, now: Instant, by: Prober, error: &str) -> Option<Change> {
        self.fails = self.fails.saturating_add(1);
        self.retry_at = now + self.rule.fail_timeout;
        if !self.up || self.fails < self.rule.max_fails {
            return None; // already down (the wait starts again), or not yet enough failures
        }
        self.up = false;
        self.since = now;
        Some(Change::Down {
            fails: self.fails,
            by,
            error: error.to_string(),
        })
    }

    /// A connect succeeded.
    pub fn reached(&mut self, now: Instant, by: Prober) -> Option<Change> {
        self.fails = 0;
        if self.up {
            return None;
        }
        let down_for = now.saturating_duration_since(self.since);
        self.up = true;
        self.since = now;
        Some(Change::Reached { by, down_for })
    }
}

impl fmt::Display for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Prober::Pair => "a client's connect",
            Prober::Check => "a check",
        })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: &Duration| d.as_secs_f64();
        match self {
            Change::Down {
                fails: 1,
                by,
                error,
            } => write!(f, "{by} failed: {error}"),
            Change::Down { fails, by, error } => {
                write!(
                    f,
                    "{fails} connects failed in a row, the last ({by}): {error}"
                )
            }
            Change::Reached { by, down_for } => {
                write!(f, "{by} reached it after {:.1} s down", secs(down_for))
            }
            Change::TimeoutOver { down_for } => write!(
                f,
                "--fail-timeout over after {:.1} s down: clients may try it again",
                secs(down_for)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: HealthRule = HealthRule {
        max_fails: 2,
        fail_timeout: Duration::from_secs(10),
        checked: false,
    };

    fn at(start: Instant, secs: f64) -> Instant {
        start + Duration::from_secs_f64(secs)
    }

    #[test]
    fn max_fails_in_a_row_mark_it_down_and_a_success_in_between_forgives() {
        let t0 = Instant::now();
        let mut h = Health::new(RULE, t0);
        assert!(h.is_up() && h.is_clean());
        assert_eq!(h.failed(at(t0, 1.0), Prober::Pair, "refused"), None);
        assert!(h.is_up() && !h.is_clean());
        assert_eq!(h.reached(at(t0, 2.0), Prober::Pair), None);
        assert!(h.is_clean());
        assert_eq!(h.failed(at(t0, 3.0), Prober::Pair, "refused"), None);
        let down = h.failed(at(t0, 4.0), Prober::Check, "timed out");
        let expected = Change::Down {
            fails: 2,
            by: Prober::Check,
            error: "timed out".into(),
        };
        assert_eq!(down, Some(expected));
        assert!(!h.is_up());
        assert_eq!(h.since(), at(t0, 4.0));
        // Down already: more failures change nothing, and are not logged again.
        assert_eq!(h.failed(at(t0, 5.0), Prober::Pair, "refused"), None);
    }

    #[test]
    fn after_the_fail_timeout_it_is_on_trial_and_one_failure_marks_it_down_again() {
        let t0 = Instant::now();
        let mut h = Health::new(RULE, t0);
        h.failed(t0, Prober::Pair, "refused");
        assert!(h.failed(t0, Prober::Pair, "refused").is_some());
        assert_eq!(h.refresh(at(t0, 9.9)), None, "not before the timeout");
        let over = h.refresh(at(t0, 10.0));
        assert_eq!(
            over,
            Some(Change::TimeoutOver {
                down_for: Duration::from_secs(10)
            })
        );
        assert!(h.is_up());
        assert_eq!(h.refresh(at(t0, 11.0)), None, "logged once");
        assert!(matches!(
            h.failed(at(t0, 12.0), Prober::Pair, "refused"),
            Some(Change::Down { fails: 2, .. })
        ));
    }

    #[test]
    fn a_failure_while_down_restarts_the_wait() {
        let t0 = Instant::now();
        let mut h = Health::new(RULE, t0);
        h.failed(t0, Prober::Pair, "x");
        h.failed(t0, Prober::Pair, "x");
        // Every destination down: clients try it anyway, and fail.
        h.failed(at(t0, 8.0), Prober::Pair, "x");
        assert_eq!(h.refresh(at(t0, 12.0)), None);
        assert!(h.refresh(at(t0, 18.0)).is_some());
    }

    #[test]
    fn a_success_brings_it_back_at_once_with_the_time_it_was_down() {
        let t0 = Instant::now();
        let mut h = Health::new(RULE, t0);
        h.failed(t0, Prober::Pair, "x");
        h.failed(at(t0, 1.0), Prober::Pair, "x");
        let back = h.reached(at(t0, 3.5), Prober::Check);
        assert_eq!(
            back,
            Some(Change::Reached {
                by: Prober::Check,
                down_for: Duration::from_millis(2500)
            })
        );
        assert!(h.is_clean());
        assert_eq!(
            back.unwrap().to_string(),
            "a check reached it after 2.5 s down"
        );
    }

    #[test]
    fn with_checks_only_a_connect_that_succeeds_brings_it_back() {
        let t0 = Instant::now();
        let rule = HealthRule {
            max_fails: 1,
            checked: true,
            ..RULE
        };
        let mut h = Health::new(rule, t0);
        let down = h.failed(t0, Prober::Check, "timed out").unwrap();
        assert!(!down.is_up());
        assert_eq!(down.to_string(), "a check failed: timed out");
        assert_eq!(h.refresh(at(t0, 3600.0)), None);
        assert!(!h.is_up());
        assert!(h.reached(at(t0, 3601.0), Prober::Check).unwrap().is_up());
    }
}
