//! The endpoint's clients: each on its own thread, at most [`MAX_CLIENTS`] at once, and none
//! able to hold its place while it keeps another waiting.
//!
//! One thread answering one request at a time let anyone who could reach the endpoint stall it:
//! six clients each holding half a request line kept a scrape waiting 18 s, longer than
//! Prometheus's own 10 s timeout, and a load balancer probing `/ready` would take the proxy for
//! dead. A thread per client fixes the queue, as a pair's threads do for the relay; but threads
//! must stay few (the endpoint is not the product), so there is a cap, and a cap alone would let
//! eight silent clients fill it again.
//!
//! So a client holds its place only while the endpoint is working for it. While its thread
//! waits *on the client* — for a request that has not arrived whole, or for the client to close
//! after its answer — the place is the client's only until someone else needs it: when all
//! places are taken, the accept thread takes the one of the client that has waited longest on
//! its own client, by shutting that client's socket down. Its thread's `read` returns at once,
//! and the thread leaves. An answer being written is never cut for a newcomer. A scrape sends its
//! request in one packet, so it waits on its client for microseconds: a trickle of silent
//! clients can no longer keep it out, and a flood of them only cuts each other.
//!
//! Blocking: the accept thread waits (on [`Places::freed`]) only while every place is working,
//! which each client's deadlines bound (`http.rs`); each client thread blocks in its own socket's
//! calls.

use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Clients answered at once. Prometheus scrapes one at a time, a status page tab asks once a
/// second, a load balancer probes every few seconds: eight is room for all of them together.
pub const MAX_CLIENTS: usize = 8;

/// How long the accept thread waits for an evicted client's thread to leave before it looks
/// again (its `read` returns at once; this bounds each wait, not the work).
const RECHECK: Duration = Duration::from_millis(100);

/// The endpoint's places, one per client thread.
pub struct Places {
    table: Mutex<Table>,
    freed: Condvar,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    taken: Vec<Taken>,
}

/// One client's place.
struct Taken {
    id: u64,
    /// A second handle on the client's socket, to shut it down when the place is needed.
    socket: TcpStream,
    /// Since when its thread has waited on the client; `None` while working for it.
    waiting_since: Option<Instant>,
    evicted: bool,
}

impl Places {
    pub fn new() -> Arc<Self> {
        Arc::new(Places {
            table: Mutex::new(Table::default()),
            freed: Condvar::new(),
        })
    }

    /// A place for the client on `socket`, which starts out waiting on its client (for its
    /// request). With every place taken, the client that has waited longest on its own client is
    /// shut out; with every place working, this waits for one to finish.
    pub fn claim(self: &Arc<Self>, socket: &TcpStream) -> std::io::Result<Place> {
        let socket = socket.try_clone()?;
        let mut table = self.lock();
        while table.taken.len() >= MAX_CLIENTS {
            if let Some(oldest) = table
                .taken
                .iter_mut()
                .filter(|t| !t.evicted && t.waiting_since.is_some())
                .min_by_key(|t| t.waiting_since)
            {
                // Its thread's read (or linger) returns at once; the thread then frees the place.
                let _ = oldest.socket.shutdown(Shutdown::Both);
                oldest.evicted = true;
            }
            table = self
                .freed
                .wait_timeout(table, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let id = table.next_id;
        table.next_id += 1;
        table.taken.push(Taken {
            id,
            socket,
            waiting_since: Some(Instant::now()),
            evicted: false,
        });
        Ok(Place {
            id,
            places: Arc::clone(self),
        })
    }

    /// Places taken now (for tests and for the curious).
    pub fn taken(&self) -> usize {
        self.lock().taken.len()
    }

    /// The table is a few fields, consistent after every statement: a panic cannot leave it half
    /// changed, so a poisoned lock still guards a good table.
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_waiting(&self, id: u64, waiting: bool) {
        if let Some(taken) = self.lock().taken.iter_mut().find(|t| t.id == id) {
            taken.waiting_since = waiting.then(Instant::now);
        }
    }
}

/// A client thread's place; given back when dropped, even if the thread panics.
pub struct Place {
    id: u64,
    places: Arc<Places>,
}

impl Place {
    /// The thread is about to wait on its client: the place may go to a newcomer.
    pub fn waiting(&self) {
        self.places.set_waiting(self.id, true);
    }

    /// The thread is working for its client: the place is its own.
    pub fn working(&self) {
        self.places.set_waiting(self.id, false);
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.places.lock().taken.retain(|t| t.id != self.id);
        self.places.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::thread;

    use crate::testing::connected;

    #[test]
    fn a_full_table_sheds_the_client_that_waited_longest_not_one_being_answered() {
        let places = Places::new();
        let mut held = Vec::new();
        for i in 0..MAX_CLIENTS {
            let (ours, peer) = connected();
            let place = places.claim(&ours).unwrap();
            if i == 0 {
                place.working(); // being answered: never cut
            }
            held.push((place, ours, peer));
            thread::sleep(Duration::from_millis(2)); // distinct waiting times
        }
        assert_eq!(places.taken(), MAX_CLIENTS);
        // Client 1 waited longest on its client (client 0 is being answered). Its thread, as a
        // real one would: its read returns once the newcomer needs the place, and it leaves.
        let (place_1, ours_1, mut peer_1) = held.remove(1);
        let shed = thread::spawn(move || {
            let read = peer_1.read(&mut [0; 1]).unwrap();
            drop((place_1, ours_1));
            read
        });
        let (newcomer, _peer) = connected();
        let _place = places.claim(&newcomer).unwrap();
        assert_eq!(shed.join().unwrap(), 0, "client 1 was shut out");
        let mut working_peer = held[0].2.try_clone().unwrap();
        working_peer
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        assert!(
            working_peer.read(&mut [0; 1]).is_err(),
            "the client being answered was left alone"
        );
        assert_eq!(places.taken(), MAX_CLIENTS);
    }
}
