//! The live pairs, as the main thread sees them: how many, and how to stop them all.
//!
//! The main thread owns this table alone, so it needs no lock. It holds only a *weak* reference to
//! each pair: a pair's sockets belong to its threads and close the moment they finish, not when the
//! main thread next looks. Each pair carries a [`Ticket`]; when its last thread ends, the ticket
//! sends the pair's id down a crossbeam channel, and the main thread forgets the pair.
//!
//! Blocking here: waiting for a pair to end when `--max-connections` is reached (woken by a ticket or
//! by the stop signal), and the bounded wait for pairs to finish at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use crossbeam_channel::{select, unbounded, Receiver, Sender};

use crate::pair::Pair;
use crate::report::CloseReason;

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

/// The main thread's table of live pairs.
pub struct LivePairs {
    pairs: HashMap<u64, Weak<Pair>>,
    ended_sender: Sender<u64>,
    ended: Receiver<u64>,
}

impl LivePairs {
    pub fn new() -> Self {
        let (ended_sender, ended) = unbounded();
        LivePairs {
            pairs: HashMap::new(),
            ended_sender,
            ended,
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Record a new pair; its ticket must travel with its threads.
    pub fn admit(&mut self, pair: &Arc<Pair>) -> Ticket {
        self.pairs.insert(pair.id(), Arc::downgrade(pair));
        Ticket {
            id: pair.id(),
            ended: self.ended_sender.clone(),
        }
    }

    /// Forget every pair whose ticket has come back.
    pub fn reap(&mut self) {
        for id in self.ended.try_iter() {
            self.pairs.remove(&id);
        }
    }

    /// Block until fewer than `max` pairs are live (`true`) or a stop is requested (`false`).
    pub fn wait_for_room(&mut self, max: usize, stop: &Receiver<()>) -> bool {
        while self.pairs.len() >= max {
            select! {
                recv(self.ended) -> id => {
                    if let Ok(id) = id {
                        self.pairs.remove(&id);
                    }
                }
                recv(stop) -> _ => return false,
            }
        }
        true
    }

    /// End every live pair and wait until `deadline` for their threads to finish. Returns how many
    /// did not (a thread blocked in `connect` cannot be woken; it ends with the process).
    pub fn shut_down_all(&mut self, deadline: Instant) -> usize {
        for pair in self.pairs.values().filter_map(Weak::upgrade) {
            pair.end(CloseReason::Shutdown);
        }
        while !self.pairs.is_empty() {
            match self.ended.recv_deadline(deadline) {
                Ok(id) => {
                    self.pairs.remove(&id);
                }
                Err(_) => break,
            }
        }
        self.pairs.len()
    }
}
