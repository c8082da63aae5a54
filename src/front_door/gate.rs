//! Who may come in: `--allow`, then `--deny`, then `--max-per-client`, for one client address.
//!
//! The accept loop asks the gate about every client it accepts. With `--accept-proxy` it cannot:
//! the real client is named only by the PROXY header, which the pair's own thread reads (a slow
//! header must not delay `accept`), so that thread asks the gate instead, through the relay's
//! [`Admission`] trait. Either way the answer is the same, and so are the counts and the log.
//!
//! A client admitted under `--max-per-client` holds a [`ClientSlot`] for its pair's life; dropping
//! it frees the place. Clients are counted by address, IPv6 clients by their /64 (one host or
//! site usually holds a whole /64, and could otherwise take a new address per connection).
//!
//! Refused clients are counted ([`DoorCounts`]) and logged per cause, at most a line a second,
//! counted per network (`refusal_log.rs`). Blocking: the per-client table and the logs sit behind
//! mutexes taken once when a pair opens and once when it ends, never on the data path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::front_door::allow::{slash_64, AllowList};
use crate::front_door::refusal_log::RefusalLog;
use crate::relay::admission::Admission;

/// The same refusal logged at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The rules one client must pass.
pub struct Rules {
    pub allow: AllowList,
    pub deny: AllowList,
    /// `--max-per-client`: live pairs per client address (per /64 for IPv6).
    pub max_per_client: Option<u32>,
}

pub struct Gate {
    rules: Rules,
    counts: Arc<DoorCounts>,
    live_per_client: Mutex<HashMap<IpAddr, u32>>,
    logs: Mutex<[RefusalLog; 3]>,
}

/// What the door counted: clients turned away, by cause, and accepts that failed. Relaxed
/// atomics: reported, never used to decide anything.
#[derive(Debug, Default)]
pub struct DoorCounts {
    /// Indexed by `Refusal as usize` (`gate.rs` adds to them).
    refused: [AtomicU64; 3],
    accept_errors: AtomicU64,
}

impl DoorCounts {
    /// Clients refused for `why`.
    pub fn refused_by(&self, why: Refusal) -> u64 {
        self.refused[why as usize].load(Ordering::Relaxed)
    }

    /// An `accept` call failed.
    pub fn accept_failed(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// `accept` calls that failed (out of descriptors, a client gone while queued, ...).
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }
}

/// Why a client was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotAllowed = 0,
    Denied,
    OverClientLimit,
}

/// A place under `--max-per-client`, held while the pair lives.
pub struct ClientSlot {
    gate: Arc<Gate>,
    key: Option<IpAddr>,
}

impl Gate {
    pub fn new(rules: Rules, counts: Arc<DoorCounts>) -> Arc<Self> {
        let limit = rules.max_per_client.map_or(0, |n| n);
        let over = format!("over --max-per-client {limit}");
        Arc::new(Gate {
            rules,
            counts,
            live_per_client: Mutex::new(HashMap::new()),
            logs: Mutex::new([
                RefusalLog::new("not in --allow".into(), LOG_INTERVAL),
                RefusalLog::new("in --deny".into(), LOG_INTERVAL),
                RefusalLog::new(over, LOG_INTERVAL),
            ]),
        })
    }

    /// Let `client` in, or count and log why not.
    pub fn admit(self: &Arc<Self>, client: SocketAddr) -> Result<ClientSlot, Refusal> {
        let verdict = self.check(client.ip());
        if let Err(refusal) = verdict {
            self.counts.refused(refusal);
            lock(&self.logs)[refusal as usize].refused(client);
        }
        verdict
    }

    fn check(self: &Arc<Self>, ip: IpAddr) -> Result<ClientSlot, Refusal> {
        if !self.rules.allow.permits(ip) {
            return Err(Refusal::NotAllowed);
        }
        if self.rules.deny.lists(ip) {
            return Err(Refusal::Denied);
        }
        let Some(limit) = self.rules.max_per_client else {
            return Ok(ClientSlot {
                gate: Arc::clone(self),
                key: None,
            });
        };
        let key = client_key(ip);
        let mut live = lock(&self.live_per_client);
        let count = live.entry(key).or_insert(0);
        if *count >= limit {
            return Err(Refusal::OverClientLimit);
        }
        *count += 1;
        Ok(ClientSlot {
            gate: Arc::clone(self),
            key: Some(key),
        })
    }

    /// Report the refusals still held back (at a stop).
    pub fn flush_logs(&self) {
        for log in lock(&self.logs).iter_mut() {
            log.flush();
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut live = lock(&self.gate.live_per_client);
        if let Some(count) = live.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                live.remove(&key); // the table holds only clients with live pairs
            }
        }
    }
}

/// The pair's thread asks the gate once the PROXY header has named the client.
impl Admission for Arc<Gate> {
    fn admit(&self, client: SocketAddr) -> Option<Box<dyn Send + Sync>> {
        Gate::admit(self, client)
            .ok()
            .map(|slot| Box::new(slot) as Box<dyn Send + Sync>)
    }
}

/// How `--max-per-client` counts a client: its address; for IPv6, its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(slash_64(v6)),
        v4 => v4,
    }
}

/// Every update under these locks is a single step, so a poisoned one still holds good data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DoorCounts {
    fn refused(&self, refusal: Refusal) {
        self.refused[refusal as usize].fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(allow: &[&str], deny: &[&str], max: Option<u32>) -> Arc<Gate> {
        let list =
            |nets: &[&str]| AllowList::new(nets.iter().map(|n| n.parse().unwrap()).collect());
        let rules = Rules {
            allow: list(allow),
            deny: list(deny),
            max_per_client: max,
        };
        Gate::new(rules, Arc::default())
    }

    fn client(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn deny_is_checked_after_allow() {
        let gate = gate(&["10.0.0.0/8"], &["10.1.0.0/16"], None);
        assert!(gate.admit(client("10.2.3.4:1")).is_ok());
        assert_eq!(
            gate.admit(client("10.1.3.4:1")).err(),
            Some(Refusal::Denied)
        );
        assert_eq!(
            gate.admit(client("192.0.2.1:1")).err(),
            Some(Refusal::NotAllowed)
        );
        assert_eq!(
            gate.admit(client("[::ffff:10.1.0.9]:1")).err(),
            Some(Refusal::Denied)
        );
        assert_eq!(gate.counts.refused_by(Refusal::Denied), 2);
        assert_eq!(gate.counts.refused_by(Refusal::NotAllowed), 1);
    }

    #[test]
    fn a_client_over_its_limit_is_refused_until_one_of_its_pairs_ends() {
        let gate = gate(&[], &[], Some(2));
        let first = gate.admit(client("192.0.2.1:1")).unwrap();
        let _second = gate.admit(client("192.0.2.1:2")).unwrap();
        assert_eq!(
            gate.admit(client("192.0.2.1:3")).err(),
            Some(Refusal::OverClientLimit)
        );
        assert!(
            gate.admit(client("192.0.2.2:1")).is_ok(),
            "another client has its own limit"
        );
        drop(first);
        assert!(gate.admit(client("192.0.2.1:4")).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let gate = gate(&[], &[], Some(1));
        let _one = gate.admit(client("[2001:db8:0:1::5]:1")).unwrap();
        let other_host = gate.admit(client("[2001:db8:0:1::6]:1"));
        assert_eq!(other_host.err(), Some(Refusal::OverClientLimit));
        assert!(gate.admit(client("[2001:db8:0:2::5]:1")).is_ok());
    }
}
