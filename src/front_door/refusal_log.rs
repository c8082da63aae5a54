//! The refusal log: which clients the door turned away, counted per client network, in at most
//! one line a second per cause.
//!
//! A port scan can knock thousands of times a second. Logging each knock would bury everything
//! else; logging one address a second (as a plain rate limit would) hides *who* is knocking. So the
//! first refusal after a quiet second is logged with its full address, and the ones after it are
//! counted by network — a client's /24 for IPv4, its /64 for IPv6, the block one site usually
//! holds — until a second has passed; the next refusal then reports them all in one line:
//!
//! ```text
//! refused 203.0.113.9:40112: not in --allow
//! refused 1203 clients not in --allow in the last 1.0 s: 203.0.113.0/24 ×1200, 198.51.100.0/24 ×3
//! ```
//!
//! What is still held back when the proxy stops is reported then ([`RefusalLog::flush`]). At most
//! [`MAX_NETWORKS`] networks are listed per line; the rest are summed as "others", so a scan from
//! everywhere cannot grow the table. Only the accept loop uses this; nothing here blocks but the
//! log line's write.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use log::Level;

use crate::events::{self, Importance};
use crate::front_door::allow::slash_64;
use crate::json::{Array, Object};

/// Networks named in one report line; the rest are summed as "others".
pub const MAX_NETWORKS: usize = 16;

/// A client's network, as the refusal log groups clients: /24 for IPv4, /64 for IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Network(IpAddr);

impl Network {
    pub fn of(client: IpAddr) -> Self {
        match client.to_canonical() {
            IpAddr::V4(v4) => Network(IpAddr::V4(Ipv4Addr::from(u32::from(v4) & !0xff))),
            IpAddr::V6(v6) => Network(IpAddr::V6(slash_64(v6))),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}/24"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The refusals of one cause (`not in --allow`), held back since the last line.
pub struct RefusalLog {
    /// Why these clients were refused, as the line says it: "not in --allow".
    cause: String,
    interval: Duration,
    last_line: Option<Instant>,
    held: BTreeMap<Network, u64>,
    others: u64,
}

impl RefusalLog {
    pub fn new(cause: String, interval: Duration) -> Self {
        RefusalLog {
            cause,
            interval,
            last_line: None,
            held: BTreeMap::new(),
            others: 0,
        }
    }

    /// One client refused, now.
    pub fn refused(&mut self, client: SocketAddr) {
        let now = Instant::now();
        let quiet = self
            .last_line
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if quiet && self.held_count() == 0 {
            self.last_line = Some(now);
            self.log_one(client);
            return;
        }
        self.hold(Network::of(client.ip()));
        if quiet {
            self.flush_at(now);
        }
    }

    /// Report whatever is held back (at a stop, say).
    pub fn flush(&mut self) {
        self.flush_at(Instant::now());
    }

    fn hold(&mut self, network: Network) {
        if let Some(count) = self.held.get_mut(&network) {
            *count += 1;
        } else if self.held.len() < MAX_NETWORKS {
            self.held.insert(network, 1);
        } else {
            self.others += 1;
        }
    }

    fn held_count(&self) -> u64 {
        self.held.values().sum::<u64>() + self.others
    }

    fn log_one(&self, client: SocketAddr) {
        let text = format!("refused {client}: {}", self.cause);
        events::emit(Level::Warn, Importance::Normal, "refused", text, |out| {
            out.str("cause", &self.cause)
                .u64("count", 1)
                .str("client", client);
        });
    }

    fn flush_at(&mut self, now: Instant) {
        let count = self.held_count();
        if count == 0 {
            return;
        }
        let seconds = self
            .last_line
            .map_or(0.0, |last| now.duration_since(last).as_secs_f64());
        self.last_line = Some(now);
        let text = format!(
            "refused {count} clients {} in the last {seconds:.1} s: {}",
            self.cause,
            self.listing()
        );
        events::emit(Level::Warn, Importance::Normal, "refused", text, |out| {
            let mut networks = Array::default();
            for (network, n) in &self.held {
                networks.push(
                    Object::new()
                        .str("network", network)
                        .u64("count", *n)
                        .finish(),
                );
            }
            out.str("cause", &self.cause)
                .u64("count", count)
                .f64("seconds", seconds)
                .json("networks", networks)
                .u64("others", self.others);
        });
        self.held.clear();
        self.others = 0;
    }

    /// `203.0.113.0/24 ×1200, 198.51.100.0/24 ×3, others ×9`, the busiest first.
    fn listing(&self) -> String {
        let mut busiest: Vec<(&Network, &u64)> = self.held.iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut parts: Vec<String> = busiest.iter().map(|(n, c)| format!("{n} ×{c}")).collect();
        if self.others > 0 {
            parts.push(format!("others ×{}", self.others));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_are_a_slash_24_or_a_slash_64() {
        let of = |text: &str| Network::of(text.parse().unwrap()).to_string();
        assert_eq!(of("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(of("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(of("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }

    #[test]
    fn held_refusals_are_counted_per_network_busiest_first_and_bounded() {
        let mut log = RefusalLog::new("not in --allow".into(), Duration::from_secs(3600));
        log.refused(client("203.0.113.1:1")); // logged at once
        assert_eq!(log.held_count(), 0);
        for i in 0..5 {
            log.refused(client(&format!("198.51.100.{i}:2")));
        }
        log.refused(client("203.0.113.9:3"));
        assert_eq!(log.listing(), "198.51.100.0/24 ×5, 203.0.113.0/24 ×1");
        for i in 0..40 {
            log.refused(client(&format!("10.0.{i}.1:4")));
        }
        assert_eq!(log.held.len(), MAX_NETWORKS);
        assert_eq!(log.held_count(), 46);
        assert!(log.listing().ends_with("others ×26"), "{}", log.listing());
        log.flush();
        assert_eq!(log.held_count(), 0);
    }
}
