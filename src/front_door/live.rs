//! The live pairs, as the main thread sees them: how many, and how to stop them all.
//!
//! The main thread alone changes this table; the stats thread (`operator/stats.rs`) reads it. They share it
//! under a mutex taken twice in a pair's life (admitted, forgotten) and once per stats report —
//! never on the data path. It holds only a *weak* reference to each pair: a pair's sockets belong
//! to its threads and close the moment they finish, not when the main thread next looks. Each pair
//! carries a [`Ticket`]; when its last thread ends, the ticket sends the pair's id down a crossbeam
//! channel, and the main thread forgets the pair.
//!
//! Blocking here: waiting for a pair to end when `--max-connections` is reached (woken by a ticket or
//! by the stop signal), and the bounded waits for pairs to finish at a stop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use crossbeam_channel::{select, unbounded, Receiver, Sender};

use crate::relay::close::CloseReason;
use crate::relay::pair::Pair;

/// Proof that a pair is alive; dropping it (when the pair's thread ends) frees the pair's slot.
pub struct Ticket {
    id: u64,
    ended: Sender<u64>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // The receiver lives as long as the main thread's table; if it is gone, so is the proxy.
        let _ = self.ended.send(self.id);
    }
}

/// Live pairs by id (so a report lists them in the order they came).
type Table = BTreeMap<u64, Weak<Pair>>;

/// A read-only view of the table, for the stats thread.
#[derive(Clone)]
pub struct Directory {
    table: Arc<Mutex<Table>>,
}

impl Directory {
    /// The pairs alive right now, in id order, as weak references: a reader upgrades one at a time
    /// and lets go at once, because a pair's sockets close when its last strong reference goes,
    /// and its close line promises they are gone.
    pub fn live_pairs(&self) -> Vec<Weak<Pair>> {
        lock(&self.table).values().cloned().collect()
    }

    /// End every live pair for `reason`: both its peers are reset and its threads wake.
    pub fn end_all(&self, reason: &CloseReason) {
        for pair in self.live_pairs().iter().filter_map(Weak::upgrade) {
            pair.end(reason.clone());
        }
    }
}

/// The lock cannot be poisoned by a panic halfway through a change (none of our changes can
/// panic), so a poisoned table is still a good one.
fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The main thread's table of live pairs.
pub struct LivePairs {
    table: Arc<Mutex<Table>>,
    ended_sender: Sender<u64>,
    ended: Receiver<u64>,
}

impl Default for LivePairs {
    fn default() -> Self {
        let (ended_sender, ended) = unbounded();
        LivePairs {
            table: Arc::default(),
            ended_sender,
            ended,
        }
    }
}

impl LivePairs {
    pub fn directory(&self) -> Directory {
        Directory {
            table: Arc::clone(&self.table),
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.table).is_empty()
    }

    /// Record a new pair; its ticket must travel with its threads.
    pub fn admit(&mut self, pair: &Arc<Pair>) -> Ticket {
        lock(&self.table).insert(pair.id(), Arc::downgrade(pair));
        Ticket {
            id: pair.id(),
            ended: self.ended_sender.clone(),
        }
    }

    /// Forget every pair whose ticket has come back.
    pub fn reap(&mut self) {
        let mut table = lock(&self.table);
        for id in self.ended.try_iter() {
            table.remove(&id);
        }
    }

    /// Block until fewer than `max` pairs are live (`true`) or a stop is requested (`false`).
    pub fn wait_for_room(&mut self, max: usize, stop: &Receiver<()>) -> bool {
        while self.len() >= max {
            select! {
                recv(self.ended) -> id => {
                    if let Ok(id) = id {
                        lock(&self.table).remove(&id);
                    }
                }
                recv(stop) -> _ => return false,
            }
        }
        true
    }

    /// Wait until every live pair's ticket has come back, or until `deadline`. Returns how many
    /// pairs are still live.
    pub fn wait_until_empty(&mut self, deadline: Instant) -> usize {
        while !self.is_empty() {
            match self.ended.recv_deadline(deadline) {
                Ok(id) => {
                    lock(&self.table).remove(&id);
                }
                Err(_) => break,
            }
        }
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::relay::hang::HangRule;
    use crate::testing::connected;

    fn a_pair(id: u64) -> Arc<Pair> {
        let (client, _peer) = connected();
        let addr = client.peer_addr().unwrap();
        let rule = HangRule::new(Duration::ZERO, Duration::ZERO);
        Arc::new(Pair::new(id, client, addr, rule))
    }

    #[test]
    fn a_returned_ticket_frees_the_slot_and_leaves_the_directory() {
        let mut live = LivePairs::default();
        let (first, second) = (a_pair(1), a_pair(2));
        let tickets = (live.admit(&first), live.admit(&second));
        assert_eq!(live.len(), 2);
        assert_eq!(live.directory().live_pairs().len(), 2);
        drop(tickets.0);
        live.reap();
        assert_eq!(live.len(), 1);
        let listed: Vec<u64> = live
            .directory()
            .live_pairs()
            .iter()
            .filter_map(Weak::upgrade)
            .map(|p| p.id())
            .collect();
        assert_eq!(listed, vec![2]);
    }

    #[test]
    fn waiting_for_room_ends_with_a_ticket_or_a_stop() {
        let mut live = LivePairs::default();
        let pair = a_pair(1);
        let ticket = live.admit(&pair);
        let (stop_sender, stop) = crossbeam_channel::bounded(1);
        let freed = std::thread::spawn(move || drop(ticket));
        assert!(live.wait_for_room(1, &stop), "the ticket came back");
        freed.join().unwrap();
        let _held = live.admit(&pair);
        stop_sender.send(()).unwrap();
        assert!(!live.wait_for_room(1, &stop), "a stop, not room");
    }

    #[test]
    fn ending_all_resets_every_pair_and_waiting_counts_those_still_running() {
        let mut live = LivePairs::default();
        let (stuck, finished) = (a_pair(1), a_pair(2));
        let stuck_ticket = live.admit(&stuck);
        drop(live.admit(&finished));
        live.directory().end_all(&CloseReason::Shutdown);
        let left = live.wait_until_empty(Instant::now() + Duration::from_millis(100));
        assert_eq!(left, 1, "one ticket never came back");
        assert!(matches!(stuck.reason(), Some(CloseReason::Shutdown)));
        assert!(matches!(finished.reason(), Some(CloseReason::Shutdown)));
        drop(stuck_ticket);
        assert_eq!(live.wait_until_empty(Instant::now()), 0);
    }
}
