//! A pair's life, from the accepted client to its one closing line.
//!
//! The main thread hands a freshly accepted client to [`Relay::open`] and [`Relay::start`]; it
//! never touches the pair's sockets again (except to end the pair when the proxy stops).
//! Everything else happens on the pair's own two threads (parked ones reused, or new ones:
//! `workers.rs`):
//!
//! ```text
//!   main ──start──▶ "pair 17 c->s": connect to the destination ──start──▶ "pair 17 s->c"
//!                        │ pump client → server                              │ pump server → client
//!                        └──────────── whichever finishes last: ─────────────┘
//!                                      log one line, give the slot back
//! ```
//!
//! Neither thread waits for the other: each holds a share of the pair's [`Closing`], and the one
//! that lets go of the last share closes the pair (`last_out.rs`, `closing.rs`), even if the other
//! panicked.
//!
//! Blocking in here: `connect` (bounded by `--connect-timeout`) and the two pumps. What wakes
//! them: [`Pair::end`], which resets both sockets.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use log::{debug, trace};

use crate::events::{self, Importance};
use crate::relay::accounting::activity::State;
use crate::relay::accounting::totals::Totals;
use crate::relay::admission::{greet, AcceptProxy, Greeted};
use crate::relay::channel::tap::Tap;
use crate::relay::channel::{CopyBuffer, CopyMode, SplicePipe};
use crate::relay::close::CloseReason;
use crate::relay::closing::{self, LinesInFlight};
use crate::relay::direction::Direction;
use crate::relay::error::RelayError;
use crate::relay::hang::HangRule;
use crate::relay::last_out::{Finish, Share};
use crate::relay::pair::Pair;
use crate::relay::pump::{pump, Flow};
use crate::relay::upstream::prepare::{get_ready, prime_listener};
use crate::relay::upstream::{Route, Upstream};
use crate::relay::workers::{Workers, PAIR_STACK_SIZE};

/// The relay: starts pairs, and gives each the same way to the destination, hang rule, way of
/// moving bytes, counters and threads.
pub struct Relay {
    upstream: Upstream,
    rule: HangRule,
    copy_mode: CopyMode,
    totals: Totals,
    workers: Arc<Workers>,
    /// Closing lines not yet written by pairs that gave their slot back (`closing.rs`).
    lines_in_flight: LinesInFlight,
    /// `--accept-proxy`: read each client's PROXY header first, then ask the door about it.
    accept_proxy: Option<AcceptProxy>,
}

impl Relay {
    /// A relay for the clients `listener` will accept. It gives the listener the socket options
    /// its clients inherit (`upstream/prepare.rs`), so it must see it before the first accept.
    pub fn new(
        listener: &TcpListener,
        upstream: Upstream,
        rule: HangRule,
        copy_mode: CopyMode,
        accept_proxy: Option<AcceptProxy>,
    ) -> io::Result<Arc<Self>> {
        prime_listener(listener, rule)?;
        Ok(Arc::new(Relay {
            accept_proxy,
            upstream,
            rule,
            copy_mode,
            totals: Totals::default(),
            workers: Workers::new(PAIR_STACK_SIZE),
            lines_in_flight: LinesInFlight::default(),
        }))
    }

    /// A pair for a client just accepted; nothing runs until [`Relay::start`].
    pub fn open(&self, id: u64, client: TcpStream, client_addr: SocketAddr) -> Arc<Pair> {
        self.totals.opened_pair();
        Arc::new(Pair::new(id, client, client_addr, self.rule))
    }

    /// Start the pair's first thread. `ticket` is dropped when the pair's last thread lets go of
    /// it, even if a pump panics: whoever holds the other end learns that the slot is free. If
    /// the OS refuses a thread, the pair (and its client) is dropped with the ticket. (`Sync`
    /// because both threads hold the state it is kept in, though only the last one touches it.)
    pub fn start(
        self: &Arc<Self>,
        pair: Arc<Pair>,
        ticket: impl Send + Sync + 'static,
    ) -> io::Result<()> {
        let closing = Closing {
            pair,
            relay: Arc::clone(self),
            reached_destination: AtomicBool::new(false),
            refused: AtomicBool::new(false),
            admitted: OnceLock::new(),
            route: OnceLock::new(),
            ticket: Box::new(ticket),
        };
        let label = thread_label(closing.pair.id(), Direction::ClientToServer);
        self.workers.run(label, move || run(Share::new(closing)))
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn lines_in_flight(&self) -> &LinesInFlight {
        &self.lines_in_flight
    }

    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    pub fn copy_mode(&self) -> &CopyMode {
        &self.copy_mode
    }
}

/// The name of the thread serving one direction of pair `id`, `pair 17 c->s`: what the log, `top
/// -H` and /proc call it while it does.
fn thread_label(id: u64, dir: Direction) -> String {
    format!("pair {id} {}", dir.arrow())
}

/// The whole life of a pair, on its `c->s` thread, until the last of its threads closes it
/// ([`Closing::finish`]).
fn run(closing: Share<Closing>) {
    let (pair, relay) = (&closing.pair, &closing.relay);
    if !admitted(&closing) {
        return;
    }
    debug!("pair {} open: client {}", pair.id(), pair.client_addr());
    let Some((server, addr)) = connect(&closing) else {
        return;
    };
    if let Err(reason) = get_ready(pair, &server, &relay.upstream) {
        pair.end(reason);
        return;
    }
    // `false`: the pair was ended (a stop) while we connected, and the server is reset already.
    if pair.attach_server(server, addr) {
        relay_both_ways(&closing, addr);
    }
}

/// With `--accept-proxy`, first learn who the client is, and whether it may come in; `false` if
/// the pair goes no further.
fn admitted(closing: &Closing) -> bool {
    let Some(accept) = &closing.relay.accept_proxy else {
        return true;
    };
    match greet(&closing.pair, accept) {
        Greeted::Admitted(slot) => {
            let _ = closing.admitted.set(slot); // set once, by this thread alone
            true
        }
        Greeted::Refused => {
            // The door counted and logged it: closing the client is all that is left.
            closing.refused.store(true, Ordering::Relaxed);
            false
        }
        Greeted::Failed(reason) => {
            closing.pair.end(reason);
            false
        }
    }
}

/// Connect to a destination (blocking, within `--connect-timeout` for each address tried, failing
/// over to the next destination); on failure end the pair, which resets the client, and return
/// `None`. A pair ended meanwhile (a stop) tries no further destination.
fn connect(closing: &Closing) -> Option<(TcpStream, SocketAddr)> {
    let (pair, relay) = (&closing.pair, &closing.relay);
    let connecting = relay.totals.connecting();
    let (route, connected) = relay.upstream.connect(&|| pair.reason().is_some());
    let _ = closing.route.set(route); // set once, by this thread alone
    match connected {
        Ok((server, addr)) => {
            connecting.connected();
            pair.record_source(&server);
            closing.reached_destination.store(true, Ordering::Relaxed);
            Some((server, addr))
        }
        Err(why) => {
            drop(connecting);
            pair.end(CloseReason::Failed(RelayError::Connect(why)));
            None
        }
    }
}

/// Both ends exist: pump both directions at once, one per thread. Neither waits for the other:
/// whichever finishes last closes the pair as it lets go of its share (`last_out.rs`).
fn relay_both_ways(closing: &Share<Closing>, server_addr: SocketAddr) {
    let (pair, relay) = (&closing.pair, &closing.relay);
    debug!("pair {} connected to {server_addr}", pair.id());
    let downstream = closing.clone();
    let label = thread_label(pair.id(), Direction::ServerToClient);
    let started = relay.workers.run(label, move || {
        let copy_mode = &downstream.relay.copy_mode;
        pump_and_report(&downstream.pair, Direction::ServerToClient, copy_mode);
    });
    match started {
        Ok(()) => pump_and_report(pair, Direction::ClientToServer, &relay.copy_mode),
        Err(e) => pair.end(CloseReason::Failed(RelayError::NoThread(Arc::new(e)))),
    }
}

/// What the pair's last thread needs to close it, shared by both threads.
struct Closing {
    pair: Arc<Pair>,
    relay: Arc<Relay>,
    /// Set once connected: the totals count pairs that never reached the destination apart.
    reached_destination: AtomicBool,
    /// `--accept-proxy`: the door refused the client its header named; nothing to count or log.
    refused: AtomicBool,
    /// `--accept-proxy`: the client's place under `--max-per-client`, given back with the ticket.
    admitted: OnceLock<Box<dyn Send + Sync>>,
    /// The destinations tried, and the pair's place among the live pairs of the one it reached:
    /// given back with the slot.
    route: OnceLock<Route>,
    /// Dropped before the log line: whoever waits on it learns that the pair's slot is free, and
    /// a reader of the line may connect again at once.
    ticket: Box<dyn Send + Sync>,
}

impl Finish for Closing {
    /// A pump panicked (a bug; the message is already on stderr): end the pair, which wakes the
    /// other thread, so the pair is closed and its client freed.
    fn on_panic(&self) {
        self.pair.end(CloseReason::Failed(RelayError::Panicked));
    }

    fn finish(self) {
        if self.refused.load(Ordering::Relaxed) {
            return; // dropping the pair closes the client
        }
        let reached = self.reached_destination.load(Ordering::Relaxed);
        let upstream = self.relay.upstream();
        let route = self.route.into_inner();
        let way = closing::Way {
            upstream,
            route: route.as_ref(),
            reached,
        };
        let line = closing::count_and_close(self.pair, self.relay.totals(), way);
        // Until the line is out: a stop waits for the slots, then for this.
        let _in_flight = self.relay.lines_in_flight.begin();
        drop(route); // the pair's place among its destination's live pairs
        drop(self.admitted);
        drop(self.ticket);
        if let Some((level, report)) = line {
            events::emit(level, Importance::Normal, "pair", &report, |fields| {
                report.fields(fields)
            });
        }
    }
}

/// Run one direction through the channel `mode` offers; if it stops the pair, end the pair so
/// the other thread wakes at once.
fn pump_and_report(pair: &Pair, dir: Direction, mode: &CopyMode) {
    let Some(lane) = pair.lane(dir) else {
        return; // not connected: nothing to relay
    };
    let tap = mode.dump.as_deref().map(|d| Tap::new(d, pair.id(), dir));
    let flow = if let Some(pipe) = mode.pipes.as_ref().and_then(SplicePipe::new) {
        pump(&lane, pipe, tap)
    } else if let Some(buffer) = CopyBuffer::new(&mode.buffers) {
        if mode.pipes.is_some() {
            trace!("no pipe for splice (budget spent or out of descriptors); copying instead");
        }
        pump(&lane, buffer, tap)
    } else {
        lane.activity.finished(State::Done);
        Flow::Stopped(CloseReason::Failed(RelayError::NoBuffer))
    };
    if let Flow::Stopped(reason) = flow {
        pair.end(reason);
    }
}
