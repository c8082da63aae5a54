//! The destinations, in the order given (the positional one first, then each `--destination`),
//! and how a pair goes through them: the next by `--balance` (`balance.rs`), each at most once,
//! until one answers.
//!
//! With one destination there is nothing to choose: a pair connects to it, as the lab's proxy
//! did, and pays only for the counters. Blocking: the connects, on the pair's own thread, each
//! bounded by `--connect-timeout`.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::StartupError;
use crate::relay::error::ConnectError;
use crate::relay::upstream::balance::{self, Balance, Candidate, Tried};
use crate::relay::upstream::connect;
use crate::relay::upstream::destination::{Destination, View};
use crate::relay::upstream::health::{HealthRule, Prober};
use crate::relay::upstream::name::Name;
use crate::relay::upstream::route::{LiveAt, Route};

/// Every destination, and the rule that picks one.
#[derive(Debug)]
pub struct Pool {
    destinations: Vec<Arc<Destination>>,
    balance: Balance,
    /// The round-robin sequence: one turn per pair.
    turns: AtomicUsize,
}

/// How the destinations are watched: the health rule, and whether names are re-resolved.
#[derive(Clone, Copy, Debug)]
pub struct Health {
    pub rule: HealthRule,
    /// `--resolve-interval` is not 0: the resolver thread keeps names current.
    pub moving: bool,
}

/// How a pair's connects are made.
#[derive(Clone, Copy, Debug)]
pub struct Dial {
    /// `None`: no limit beyond the operating system's own.
    pub timeout: Option<Duration>,
    /// `--source`: the local address every connection is made from.
    pub source: Option<IpAddr>,
}

impl Pool {
    /// A pool of at least one destination, at most [`balance::MAX_DESTINATIONS`] (the command
    /// line says so).
    pub fn new(mut destinations: Vec<Destination>, balance: Balance) -> Self {
        debug_assert!((1..=balance::MAX_DESTINATIONS).contains(&destinations.len()));
        let alone = destinations.len() == 1;
        for destination in &mut destinations {
            destination.set_alone(alone);
        }
        Pool {
            destinations: destinations.into_iter().map(Arc::new).collect(),
            balance,
            turns: AtomicUsize::new(0),
        }
    }

    /// Resolve every name (a typo is exit 1, naming it) and, with `--source`, check it against
    /// each destination's addresses.
    pub fn resolve(
        names: Vec<Name>,
        balance: Balance,
        health: Health,
        source: Option<IpAddr>,
    ) -> Result<Pool, StartupError> {
        let mut destinations = Vec::new();
        for name in names {
            let destination = Destination::resolve(name, health.rule, health.moving)?;
            if let Some(source) = source {
                connect::check_source(source, destination.describe(), &destination.current())?;
            }
            destinations.push(destination);
        }
        Ok(Pool::new(destinations, balance))
    }

    pub fn destinations(&self) -> &[Arc<Destination>] {
        &self.destinations
    }

    pub fn balance(&self) -> Balance {
        self.balance
    }

    /// The first destination, which a pair that never connected is said to have been going to.
    pub fn first(&self) -> &Destination {
        &self.destinations[0]
    }

    /// Is any destination up?
    pub fn any_up(&self) -> bool {
        self.destinations.iter().any(|d| d.is_up())
    }

    pub fn views(&self) -> Vec<View> {
        self.destinations.iter().map(|d| d.view()).collect()
    }

    /// For the listening line: every destination, with what each name resolved to.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.destinations.iter().map(|d| d.describe()).collect();
        all.join(", ")
    }

    /// HOST:PORT of every destination, as given.
    pub fn names(&self) -> Vec<String> {
        (self.destinations.iter())
            .map(|d| d.name().to_string())
            .collect()
    }

    /// Connect a pair: try destinations by the balance, each once, until one answers or
    /// `ended()` says the pair is over. The route says which were tried; the error lists every
    /// address that failed, in order.
    pub fn connect(
        &self,
        dial: Dial,
        ended: &dyn Fn() -> bool,
    ) -> (Route, Result<(TcpStream, SocketAddr), ConnectError>) {
        let mut route = Route::default();
        let mut failures = ConnectError::default();
        let mut tried = Tried::default();
        let turn = self.next_turn();
        while let Some(index) = self.choose(tried, turn) {
            tried.add(index);
            route.attempt(index);
            let destination = &self.destinations[index];
            let live_at = LiveAt::new(destination);
            match connect::first_answering(&destination.current(), dial.timeout, dial.source) {
                Ok(connected) => {
                    destination.reached(Prober::Pair);
                    route.connected(live_at);
                    return (route, Ok(connected));
                }
                Err(error) => {
                    destination.failed(Prober::Pair, &error);
                    failures.attempts.extend(error.attempts);
                }
            }
            if ended() {
                break;
            }
        }
        (route, Err(failures))
    }

    /// A turn in the round-robin sequence; the other rules need none.
    fn next_turn(&self) -> usize {
        match self.balance {
            Balance::RoundRobin => self.turns.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        }
    }

    /// The next destination to try. One destination: that one, once, without a look at its health
    /// (with nothing else to try, its health would change nothing).
    fn choose(&self, tried: Tried, turn: usize) -> Option<usize> {
        if self.destinations.len() == 1 {
            return (!tried.has(0)).then_some(0);
        }
        let all: Vec<Candidate> = (self.destinations.iter())
            .map(|d| Candidate {
                up: d.is_up(),
                live: d.live(),
            })
            .collect();
        balance::choose(self.balance, &all, tried, turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn destination(address: SocketAddr) -> Destination {
        let rule = HealthRule {
            max_fails: 1,
            fail_timeout: Duration::from_secs(3600),
            checked: false,
        };
        let name = Name {
            host: address.ip().to_string(),
            port: address.port(),
        };
        Destination::from_addresses(name, vec![address], rule, false).unwrap()
    }

    const DIAL: Dial = Dial {
        timeout: Some(Duration::from_secs(2)),
        source: None,
    };

    #[test]
    fn a_refused_connect_fails_over_and_the_next_pair_skips_the_dead_one() {
        let dead = crate::testing::closed_address();
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = Pool::new(
            vec![destination(dead), destination(live.local_addr().unwrap())],
            Balance::First,
        );
        let (route, connected) = pool.connect(DIAL, &|| false);
        assert_eq!(connected.unwrap().1, live.local_addr().unwrap());
        assert_eq!((route.last(), route.failed_over()), (Some(1), &[0][..]));
        assert_eq!(pool.destinations()[1].live(), 1);
        assert!(!pool.destinations()[0].is_up() && pool.any_up());
        let (route, _) = pool.connect(DIAL, &|| false);
        assert_eq!(
            route.failed_over(),
            &[] as &[usize],
            "the dead one is skipped"
        );
        drop(route);
        assert_eq!(pool.destinations()[1].live(), 1);
    }

    #[test]
    fn every_failure_is_listed_and_an_ended_pair_stops_trying() {
        let dead = |_| {
            let address = TcpListener::bind("127.0.0.1:0").unwrap().local_addr();
            destination(address.unwrap())
        };
        let pool = Pool::new((0..3).map(dead).collect(), Balance::RoundRobin);
        let (route, failed) = pool.connect(DIAL, &|| false);
        assert_eq!(failed.unwrap_err().attempts.len(), 3);
        assert_eq!(route.failed_over().len(), 2);
        assert!(!pool.any_up());
        let (route, failed) = pool.connect(DIAL, &|| true);
        assert_eq!(
            failed.unwrap_err().attempts.len(),
            1,
            "ended after the first"
        );
        assert!(route.failed_over().is_empty());
    }
}
