//! A pair — one client and its own connection to the destination — and its lifecycle.
//!
//! The main thread creates a [`Pair`] around a freshly accepted client and calls [`spawn`]; it never
//! touches the pair's sockets again (except to shut them down when the proxy stops). Everything else
//! happens on the pair's own two threads (parked ones reused, or new ones: `workers.rs`):
//!
//! ```text
//!   main ──start──▶ "pair 17 c->s": connect to the destination ──start──▶ "pair 17 s->c"
//!                        │ pump client → server                              │ pump server → client
//!                        │ wait for "done" ◀─────────────────────────────────┘
//!                        └ log one line, give the slot back
//! ```
//!
//! Blocking in here: `connect` (bounded by `--connect-timeout`), the two pumps, and the wait for the
//! s->c thread's "done". What wakes them: [`Pair::end`], which shuts both sockets down so every
//! blocked call returns at once. Shutting down rather than closing is deliberate: the descriptors
//! stay valid (and cannot be reused for another connection) until the last thread lets go of the
//! pair and the sockets drop.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender};
use log::{debug, info, warn};

use crate::activity::Activity;
use crate::destination::Destination;
use crate::direction::{Direction, Side};
use crate::hang::{HangClock, HangRule};
use crate::live::Ticket;
use crate::proxy_protocol;
use crate::pump::{pump, CopyMode, Flow};
use crate::report::{CloseReason, PairReport, Totals};
use crate::workers::Workers;

/// Stack for each pair thread. The pump's buffer lives in the pool, and its deepest call (a trace
/// line being formatted) needs a few KiB: measured, a pump thread touches 8 KiB of its stack. The
/// reservation is address space, not memory, so 256 KiB (an eighth of the 2 MiB default) buys a
/// wide margin for free.
pub const PAIR_STACK_SIZE: usize = 256 * 1024;

/// What every pair needs to know and share, set up once at start-up.
pub struct Context {
    pub destination: Destination,
    /// `None`: no limit beyond the operating system's own.
    pub connect_timeout: Option<Duration>,
    pub hang_rule: HangRule,
    pub copy_mode: CopyMode,
    pub totals: Totals,
    /// `--send-proxy`: the PROXY protocol header to begin each destination connection with.
    pub send_proxy: Option<proxy_protocol::Version>,
    /// The pair threads, running and parked.
    pub workers: Arc<Workers>,
}

/// One client, its destination connection once made, and the state both threads share.
pub struct Pair {
    id: u64,
    client: TcpStream,
    client_addr: SocketAddr,
    server: OnceLock<(TcpStream, SocketAddr)>,
    clock: HangClock,
    reason: OnceLock<CloseReason>,
    /// Bytes delivered, per direction (indexed by `Direction::index`).
    delivered: [AtomicU64; 2],
    /// What each direction's pump is doing, for the stats table.
    activity: [Activity; 2],
    opened: Instant,
}

impl Pair {
    pub fn new(id: u64, client: TcpStream, client_addr: SocketAddr, rule: HangRule) -> Self {
        Pair {
            id,
            client,
            client_addr,
            server: OnceLock::new(),
            clock: HangClock::start(rule),
            reason: OnceLock::new(),
            delivered: [AtomicU64::new(0), AtomicU64::new(0)],
            activity: [Activity::new(), Activity::new()],
            opened: Instant::now(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The socket to `side`; the server's exists only once connected.
    pub fn socket(&self, side: Side) -> Option<&TcpStream> {
        match side {
            Side::Client => Some(&self.client),
            Side::Server => self.server.get().map(|(stream, _)| stream),
        }
    }

    pub fn clock(&self) -> &HangClock {
        &self.clock
    }

    /// Has the pair been ended? (Its reason is recorded exactly when it is.)
    pub fn is_ended(&self) -> bool {
        self.reason.get().is_some()
    }

    pub fn count_delivered(&self, dir: Direction, bytes: usize) {
        self.delivered[dir.index()].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn delivered(&self, dir: Direction) -> u64 {
        self.delivered[dir.index()].load(Ordering::Relaxed)
    }

    pub fn activity(&self, dir: Direction) -> &Activity {
        &self.activity[dir.index()]
    }

    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The destination address connected to, once connected.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.server.get().map(|(_, addr)| *addr)
    }

    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// End the pair for `reason` and wake both threads. Only the first reason counts: anything
    /// that fails after it (a read that sees our own shutdown, say) is its consequence.
    pub fn end(&self, reason: CloseReason) {
        if self.reason.set(reason).is_err() {
            return;
        }
        // Pairs with the fence in `attach_server`: either we see the server socket here and shut
        // it down, or that thread sees the reason and never starts relaying.
        fence(Ordering::SeqCst);
        for side in [Side::Client, Side::Server] {
            if let Some(socket) = self.socket(side) {
                // Errors only mean the socket is already down, which is what we want.
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }

    /// Install the destination connection; `false` if the pair ended while we were connecting.
    fn attach_server(&self, stream: TcpStream, addr: SocketAddr) -> bool {
        if self.server.set((stream, addr)).is_err() {
            return false;
        }
        fence(Ordering::SeqCst);
        if self.is_ended() {
            if let Some(server) = self.socket(Side::Server) {
                let _ = server.shutdown(Shutdown::Both);
            }
            return false;
        }
        true
    }
}

/// Start the pair's first thread. If the OS refuses, the pair (and its client) is dropped and the
/// ticket goes back with it; the caller logs.
pub fn spawn(pair: Arc<Pair>, context: Arc<Context>, ticket: Ticket) -> std::io::Result<()> {
    let workers = Arc::clone(&context.workers);
    workers.run(
        thread_label(pair.id, Direction::ClientToServer),
        move || {
            // Dropped last, even if a pump panics: the main thread then knows the slot is free.
            let _ticket = ticket;
            run(pair, &context);
        },
    )
}

/// The name of the thread serving one direction of pair `id`, `pair 17 c->s`: what the log, `top
/// -H` and /proc call it while it does.
fn thread_label(id: u64, dir: Direction) -> String {
    format!("pair {id} {}", dir.arrow())
}

/// The whole life of a pair, on its `c->s` thread.
fn run(pair: Arc<Pair>, context: &Context) {
    debug!("pair {} open: client {}", pair.id, pair.client_addr);
    match context.destination.connect(context.connect_timeout) {
        Ok((stream, addr)) => match prepare_sockets(&pair.client, &stream, &pair.clock)
            .and_then(|()| introduce_client(&pair.client, &stream, context.send_proxy))
        {
            Ok(()) if pair.attach_server(stream, addr) => relay(&pair, addr, context),
            Ok(()) => {}
            Err(e) => pair.end(CloseReason::Error(Side::Server, e.to_string())),
        },
        Err(why) => pair.end(CloseReason::ConnectFailed(why)),
    }
    finish(pair, context);
}

/// TCP_NODELAY so a small write (a keystroke, a request) leaves at once instead of waiting for
/// Nagle's algorithm; the hang rule's timeouts so no call can block past its deadline.
fn prepare_sockets(
    client: &TcpStream,
    server: &TcpStream,
    clock: &HangClock,
) -> std::io::Result<()> {
    // The hang rule's clocks run from now: time spent connecting is `--connect-timeout`'s business.
    clock.progress();
    for socket in [client, server] {
        socket.set_nodelay(true)?;
        socket.set_read_timeout(clock.read_timeout())?;
        socket.set_write_timeout(clock.write_timeout())?;
    }
    Ok(())
}

/// `--send-proxy`: tell the destination who the client is before any of the client's bytes. A
/// fresh connection's send buffer is empty, so the header goes out in one write at once.
fn introduce_client(
    client: &TcpStream,
    server: &TcpStream,
    version: Option<proxy_protocol::Version>,
) -> std::io::Result<()> {
    let Some(version) = version else {
        return Ok(());
    };
    let header = proxy_protocol::header(version, client.peer_addr()?, client.local_addr()?);
    (&*server).write_all(&header).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot send the PROXY protocol header: {e}"),
        )
    })
}

/// Both ends exist: pump both directions at once, one per thread.
fn relay(pair: &Arc<Pair>, server_addr: SocketAddr, context: &Context) {
    debug!("pair {} connected to {server_addr}", pair.id);
    // The s->c thread says when it is done (and whether it finished, or panicked) on this channel:
    // it may be a reused thread, so there is no handle to join.
    let (done, finished) = bounded::<bool>(1);
    let other = Arc::clone(pair);
    let mode = context.copy_mode.clone();
    let downstream = context.workers.run(
        thread_label(pair.id, Direction::ServerToClient),
        move || {
            let report = DoneReport {
                done,
                finished: false,
            };
            // Declared after `report`, so dropped before it even in a panic: this thread lets go
            // of the pair (and maybe its sockets) before c->s hears "done" and writes the log line.
            let pair = other;
            pump_and_report(&pair, Direction::ServerToClient, &mode);
            drop(pair);
            report.finished();
        },
    );
    if let Err(e) = downstream {
        return pair.end(CloseReason::OutOfResources(format!("no thread: {e}")));
    }
    pump_and_report(pair, Direction::ClientToServer, &context.copy_mode);
    if finished.recv() != Ok(true) {
        // The pump panicked (a bug); the panic message is already on stderr. Free the client.
        pair.end(CloseReason::Error(
            Side::Server,
            "relay thread panicked".into(),
        ));
    }
}

/// Tells the c->s thread that s->c is over, also when it unwinds from a panic.
struct DoneReport {
    done: Sender<bool>,
    finished: bool,
}

impl DoneReport {
    fn finished(mut self) {
        self.finished = true;
    }
}

impl Drop for DoneReport {
    fn drop(&mut self) {
        // The receiver waits in `relay` until this arrives; it cannot be gone.
        let _ = self.done.send(self.finished);
    }
}

/// Run one direction; if it stops the pair, end the pair so the other thread wakes at once.
fn pump_and_report(pair: &Pair, dir: Direction, mode: &CopyMode) {
    if let Flow::Stopped(reason) = pump(pair, dir, mode) {
        pair.end(reason);
    }
}

/// Close both sockets, then say so: a reader of the log line may rely on the descriptors being gone.
fn finish(pair: Arc<Pair>, context: &Context) {
    let reason = pair.reason.get().cloned().unwrap_or(CloseReason::BothEof);
    let up = pair.delivered(Direction::ClientToServer);
    let down = pair.delivered(Direction::ServerToClient);
    let server = match pair.server_addr() {
        Some(addr) => addr.to_string(),
        None => context.destination.to_string(),
    };
    let report = PairReport {
        id: pair.id,
        client: pair.client_addr,
        server,
        reason: &reason,
        bytes_up: up,
        bytes_down: down,
        duration: pair.opened.elapsed(),
    };
    context.totals.add_pair(up, down, &reason);
    drop(pair); // the last strong reference: both sockets close here
    if reason.is_warning() {
        warn!("{report}");
    } else {
        info!("{report}");
    }
}
