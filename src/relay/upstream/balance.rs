//! `--balance`: which destination a pair tries next, as a pure function of what the pool knows.
//!
//! - `first` (the default): the first destination that is up, in the order given. The rest are
//!   standbys: a database and its replica, a service and its fallback.
//! - `round-robin`: the next one up, in turn; equal servers get equal shares of the pairs.
//! - `least-conn`: the one up with the fewest live pairs (a pair counts from the moment it is
//!   sent there, connecting included), ties in order; for long sessions of unequal length, where
//!   turns would pile the long ones up on one server.
//!
//! A pair tries each destination at most once ([`Tried`]). Among those it has not tried, the ones
//! up come first; only when none is left up are the down ones tried too, by the same rule. That is
//! nginx's rule, and this proxy's promise: a client is never turned away on memory alone, yet a
//! destination known dead costs a client its connect timeout only when nothing better is left.
//!
//! Nothing here blocks, locks or allocates.

use std::fmt;

/// The most destinations: [`Tried`] is one machine word.
pub const MAX_DESTINATIONS: usize = 64;

/// `--balance`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    #[default]
    First,
    RoundRobin,
    LeastConn,
}

impl Balance {
    /// The command line's words.
    pub fn parse(text: &str) -> Option<Balance> {
        match text {
            "first" => Some(Balance::First),
            "round-robin" => Some(Balance::RoundRobin),
            "least-conn" => Some(Balance::LeastConn),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Balance::First => "first",
            Balance::RoundRobin => "round-robin",
            Balance::LeastConn => "least-conn",
        }
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the choice needs to know of one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub up: bool,
    /// Pairs live there now.
    pub live: u64,
}

/// The destinations a pair has tried, by index: a bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tried(u64);

impl Tried {
    pub fn add(&mut self, index: usize) {
        self.0 |= 1 << index;
    }

    pub fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

/// The destination to try next, or `None` when the pair has tried them all. `turn` is the pair's
/// place in the round-robin sequence (taken once per pair, so its failovers keep the same turn).
pub fn choose(balance: Balance, all: &[Candidate], tried: Tried, turn: usize) -> Option<usize> {
    let untried = |i: &usize| !tried.has(*i);
    let any_up = (0..all.len()).filter(untried).any(|i| all[i].up);
    // Among the untried: the ones up, or if none is left up, all of them.
    let eligible = move |i: &usize| untried(i) && (all[*i].up || !any_up);
    let mut indices = (0..all.len()).filter(eligible);
    match balance {
        Balance::First => indices.next(),
        Balance::RoundRobin => {
            let count = (0..all.len()).filter(eligible).count();
            (count > 0)
                .then(|| turn % count)
                .and_then(|n| indices.nth(n))
        }
        // `min_by_key` keeps the first of equals: ties go in order.
        Balance::LeastConn => indices.min_by_key(|&i| all[i].live),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(live: u64) -> Candidate {
        Candidate { up: true, live }
    }

    fn down(live: u64) -> Candidate {
        Candidate { up: false, live }
    }

    fn tried(indices: &[usize]) -> Tried {
        let mut t = Tried::default();
        for &i in indices {
            t.add(i);
        }
        t
    }

    /// Every destination a pair would try, in order, if each failed.
    fn plan(balance: Balance, all: &[Candidate], turn: usize) -> Vec<usize> {
        let mut t = Tried::default();
        let mut order = Vec::new();
        while let Some(i) = choose(balance, all, t, turn) {
            assert!(!t.has(i), "tried {i} twice");
            t.add(i);
            order.push(i);
        }
        order
    }

    #[test]
    fn first_takes_the_first_up_and_tries_the_down_ones_last() {
        let all = [down(0), up(5), up(0), down(0)];
        assert_eq!(choose(Balance::First, &all, Tried::default(), 7), Some(1));
        assert_eq!(plan(Balance::First, &all, 0), [1, 2, 0, 3]);
    }

    #[test]
    fn when_every_destination_is_down_all_are_tried_in_order() {
        let all = [down(0), down(0), down(0)];
        assert_eq!(plan(Balance::First, &all, 0), [0, 1, 2]);
        assert_eq!(plan(Balance::RoundRobin, &all, 1), [1, 2, 0]);
    }

    #[test]
    fn round_robin_takes_turns_among_the_ones_up() {
        let all = [up(0), down(0), up(0), up(0)];
        let firsts: Vec<_> = (0..6)
            .map(|turn| choose(Balance::RoundRobin, &all, Tried::default(), turn))
            .collect();
        assert_eq!(
            firsts,
            [Some(0), Some(2), Some(3), Some(0), Some(2), Some(3)]
        );
        // A failover keeps the pair's turn: the next one up after those tried.
        assert_eq!(choose(Balance::RoundRobin, &all, tried(&[2]), 1), Some(3));
        assert_eq!(plan(Balance::RoundRobin, &all, 1), [2, 3, 0, 1]);
    }

    #[test]
    fn least_conn_takes_the_fewest_live_pairs_ties_in_order() {
        let all = [up(3), up(1), down(0), up(1)];
        assert_eq!(
            choose(Balance::LeastConn, &all, Tried::default(), 0),
            Some(1)
        );
        assert_eq!(plan(Balance::LeastConn, &all, 0), [1, 3, 0, 2]);
        assert_eq!(plan(Balance::LeastConn, &[up(0), up(0)], 0), [0, 1]);
    }

    #[test]
    fn nothing_left_is_none_and_the_words_parse_back() {
        assert_eq!(choose(Balance::First, &[up(0)], tried(&[0]), 0), None);
        assert_eq!(choose(Balance::RoundRobin, &[], Tried::default(), 3), None);
        let last = MAX_DESTINATIONS - 1;
        assert!(tried(&[last]).has(last) && !tried(&[last]).has(0));
        for balance in [Balance::First, Balance::RoundRobin, Balance::LeastConn] {
            assert_eq!(Balance::parse(balance.as_str()), Some(balance));
        }
        assert_eq!(Balance::parse("random"), None);
    }
}
