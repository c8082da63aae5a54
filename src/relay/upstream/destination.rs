//! One destination: the name it was given (HOST:PORT), what it resolves to now, whether it is up,
//! and its counters: pairs live there, pairs it served, connects to it that failed.
//!
//! A name is resolved when the proxy starts, so a typo is a start-up error (exit 1) rather than a
//! warning per client, and no pair waits on a DNS server; the resolver thread keeps it current
//! after that (`addresses.rs`, `resolver.rs`). Its health is the state machine in `health.rs`,
//! behind a lock taken only when something may change: a connect that failed, the first success
//! after one, or a look at a destination that is down. A connect to a healthy destination reads
//! one atomic flag and takes no lock. Each change is logged here, once, by the thread that made it.
//!
//! Nothing here blocks but [`Destination::resolve`] (start-up's `getaddrinfo`).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use log::Level;

use crate::error::StartupError;
use crate::events::{self, Importance};
use crate::relay::upstream::addresses::{self, Addresses, Current};
use crate::relay::upstream::health::{Change, Health, HealthRule, Prober};
use crate::relay::upstream::name::Name;
use crate::units::Timeout;

/// Where clients may be relayed to.
#[derive(Debug)]
pub struct Destination {
    name: Name,
    /// `name` as text, made once: every pair's closing line names its destination.
    label: Arc<str>,
    addresses: Addresses,
    health: Mutex<Health>,
    /// `health.is_up()`, readable without the lock.
    up: AtomicBool,
    /// `health.is_clean()`, readable without the lock.
    clean: AtomicBool,
    live: AtomicU64,
    pairs: AtomicU64,
    connect_failures: AtomicU64,
    /// The only destination: there is no other to skip to, and its log lines say so.
    alone: bool,
}

/// One reading of a destination, for the stats table, the status page and the metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub name: String,
    pub up: bool,
    /// How long it has been up, or down.
    pub for_how_long: Duration,
    pub addresses: Vec<SocketAddr>,
    pub live: u64,
    pub pairs: u64,
    pub connect_failures: u64,
}

impl Destination {
    /// Resolve `name` once; `moving` if the resolver thread will keep it current.
    pub fn resolve(name: Name, rule: HealthRule, moving: bool) -> Result<Self, StartupError> {
        let failed = |source| StartupError::Resolve {
            what: "destination",
            host: name.host.clone(),
            source,
        };
        let list = addresses::resolve(&name.host, name.port).map_err(|e| failed(Some(e)))?;
        Self::from_addresses(name.clone(), list, rule, moving && !name.is_literal())
            .ok_or_else(|| failed(None))
    }

    /// A destination with a known address list, tried in this order; `None` if it is empty.
    pub fn from_addresses(
        name: Name,
        list: Vec<SocketAddr>,
        rule: HealthRule,
        moving: bool,
    ) -> Option<Self> {
        (!list.is_empty()).then(|| Destination {
            label: name.to_string().into(),
            name,
            addresses: Addresses::new(list, moving),
            health: Mutex::new(Health::new(rule, Instant::now())),
            up: AtomicBool::new(true),
            clean: AtomicBool::new(true),
            live: AtomicU64::new(0),
            pairs: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            alone: false,
        })
    }

    /// Say this is the only destination (the pool does, as it is made).
    pub fn set_alone(&mut self, alone: bool) {
        self.alone = alone;
    }

    pub fn name(&self) -> &Name {
        &self.name
    }

    /// HOST:PORT as given, as text.
    pub fn label(&self) -> &Arc<str> {
        &self.label
    }

    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    pub fn current(&self) -> Current<'_> {
        self.addresses.current()
    }

    /// For the listening line: `[::1]:5432` for an IP literal, and for a name the addresses it
    /// resolves to, `localhost:5432 (resolved to [::1]:5432, 127.0.0.1:5432)`.
    pub fn describe(&self) -> String {
        if self.name.is_literal() {
            return self.name.to_string();
        }
        let list = addresses::join(&self.current());
        format!("{} (resolved to {list})", self.name)
    }

    /// What makes it down, and up again.
    pub fn rule(&self) -> HealthRule {
        *self.lock().rule()
    }

    /// Up now? A down destination whose `--fail-timeout` is over becomes up (and says so) here.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed) || self.update(|h, now| h.refresh(now))
    }

    /// Pairs live here now.
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// A pair is sent here: it counts as live until [`Destination::left`].
    pub fn arrived(&self) {
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    pub fn left(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connect by `by` reached it.
    pub fn reached(&self, by: Prober) {
        if by == Prober::Pair {
            self.pairs.fetch_add(1, Ordering::Relaxed);
        }
        if !self.clean.load(Ordering::Relaxed) {
            self.update(|h, now| h.reached(now, by));
        }
    }

    /// A connect by `by` failed with `error`.
    pub fn failed(&self, by: Prober, error: &dyn fmt::Display) {
        if by == Prober::Pair {
            self.connect_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.update(|h, now| h.failed(now, by, &error.to_string()));
    }

    /// Apply `step` to the health under its lock, publish the result, and log the change it made
    /// (after letting go of the lock); whether the destination is up.
    fn update(&self, step: impl FnOnce(&mut Health, Instant) -> Option<Change>) -> bool {
        let (change, up, rule) = {
            let mut health = self.lock();
            let change = step(&mut health, Instant::now());
            self.up.store(health.is_up(), Ordering::Relaxed);
            self.clean.store(health.is_clean(), Ordering::Relaxed);
            (change, health.is_up(), *health.rule())
        };
        if let Some(change) = change {
            self.log(&change, rule);
        }
        up
    }

    fn log(&self, change: &Change, rule: HealthRule) {
        let (level, state) = if change.is_up() {
            (Level::Info, "up")
        } else {
            (Level::Warn, "down")
        };
        let skipped = match (change.is_up() || self.alone, rule.checked) {
            (true, _) => String::new(),
            (false, true) => "; skipped while another is up, until a check reaches it".into(),
            (false, false) => format!(
                "; skipped while another is up, for {}",
                Timeout(rule.fail_timeout)
            ),
        };
        let text = format!("destination {} {state}: {change}{skipped}", self.name);
        events::emit(level, Importance::Normal, "destination", &text, |out| {
            out.str("destination", &self.name)
                .str("state", state)
                .str("reason", change);
        });
    }

    /// Read everything the operator is shown, now.
    pub fn view(&self) -> View {
        let up = self.is_up();
        let since = self.lock().since();
        View {
            name: self.label.to_string(),
            up,
            for_how_long: since.elapsed(),
            addresses: self.current().to_vec(),
            live: self.live(),
            pairs: self.pairs.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
        }
    }

    /// The health is plain data, consistent whatever a panicking holder did.
    fn lock(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: HealthRule = HealthRule {
        max_fails: 1,
        fail_timeout: Duration::from_secs(3600),
        checked: false,
    };

    fn name(host: &str, port: u16) -> Name {
        Name {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn ip_literals_resolve_without_a_resolver_and_print_once() {
        let d = Destination::resolve(name("::1", 80), RULE, true).unwrap();
        assert_eq!(d.name().to_string(), "[::1]:80");
        assert_eq!(d.describe(), "[::1]:80");
        assert_eq!(&*d.current(), &["[::1]:80".parse().unwrap()]);
        assert!(matches!(d.addresses(), Addresses::Fixed(_)), "never moves");
    }

    #[test]
    fn a_name_is_described_with_what_it_resolved_to() {
        let list = vec!["[::1]:5".parse().unwrap(), "127.0.0.1:5".parse().unwrap()];
        let d = Destination::from_addresses(name("db", 5), list, RULE, true).unwrap();
        assert_eq!(d.describe(), "db:5 (resolved to [::1]:5, 127.0.0.1:5)");
        assert!(Destination::from_addresses(name("db", 5), Vec::new(), RULE, true).is_none());
    }

    #[test]
    fn unresolvable_name_is_an_error_naming_it() {
        let err = Destination::resolve(name("no..such-host.invalid", 80), RULE, true).unwrap_err();
        assert!(err.to_string().contains("no..such-host.invalid"), "{err}");
    }

    #[test]
    fn counters_and_health_follow_the_connects() {
        let list = vec!["127.0.0.1:1".parse().unwrap()];
        let d = Destination::from_addresses(name("127.0.0.1", 1), list, RULE, false).unwrap();
        d.arrived();
        d.failed(Prober::Pair, &"refused");
        assert!(!d.is_up(), "one failure is --max-fails 1");
        d.left();
        d.arrived();
        d.reached(Prober::Pair);
        let view = d.view();
        assert!(view.up);
        assert_eq!((view.live, view.pairs, view.connect_failures), (1, 1, 1));
        d.failed(Prober::Check, &"timed out");
        assert_eq!(
            d.view().connect_failures,
            1,
            "a check's failure is not a pair's"
        );
    }
}
