//! A pair — one client and its own connection to the destination — and the state its two threads
//! share: the sockets, the hang clock, the shutdown flag, and what each direction is doing.
//!
//! The pair's life is told in `lifecycle.rs`; this file says what a pair *is* and how it is
//! ended. A pair that ends normally needs no help: each pump passed its EOF on as a FIN and
//! returned. Every other end is an abort, and [`Pair::end`] is the one way to make it: it records
//! the reason and resets both sockets (`reset.rs`), so both peers learn that the pair was cut, not
//! finished, and every blocked call on the sockets returns at once. The descriptors stay valid
//! (and cannot be reused for another connection) until the last thread lets go of the pair and
//! the sockets drop.
//!
//! Nothing here blocks.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::proxy_protocol::Endpoints;
use crate::relay::accounting::activity::Activity;
use crate::relay::close::{CloseReason, Ending};
use crate::relay::direction::{Direction, Side};
use crate::relay::hang::{HangClock, HangRule};
use crate::relay::pump::Lane;
use crate::relay::reset::reset;

/// One client, its destination connection once made, and the state both threads share.
pub struct Pair {
    id: u64,
    client: TcpStream,
    client_addr: SocketAddr,
    /// `--accept-proxy`: the client and the address it reached, as its PROXY header named them.
    announced: OnceLock<Endpoints>,
    server: OnceLock<(TcpStream, SocketAddr)>,
    /// The address the client reached, recorded while the socket is healthy (see `source`).
    listen: OnceLock<SocketAddr>,
    /// Our end of the destination connection, recorded while it is connected (a reset socket
    /// forgets its address), and only when a pair line will be written.
    source: OnceLock<SocketAddr>,
    clock: HangClock,
    ending: Ending,
    /// What each direction's pump is doing (indexed by `Direction::index`).
    activity: [Activity; 2],
    opened: Instant,
    /// Set just before the pair adds itself to the relay's totals (see [`Pair::mark_counted`]).
    counted: AtomicBool,
}

impl Pair {
    pub fn new(id: u64, client: TcpStream, client_addr: SocketAddr, rule: HangRule) -> Self {
        Pair {
            id,
            client,
            client_addr,
            announced: OnceLock::new(),
            server: OnceLock::new(),
            listen: OnceLock::new(),
            source: OnceLock::new(),
            clock: HangClock::start(rule),
            ending: Ending::default(),
            activity: Default::default(),
            opened: Instant::now(),
            counted: AtomicBool::new(false),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn client(&self) -> &TcpStream {
        &self.client
    }

    /// The client: as its PROXY header named it (`--accept-proxy`), or as `accept` saw it.
    pub fn client_addr(&self) -> SocketAddr {
        self.announced
            .get()
            .map_or(self.client_addr, |named| named.client)
    }

    /// Record who the PROXY header says the client is (once; the pair's first thread does it).
    pub fn announce(&self, endpoints: Endpoints) {
        let _ = self.announced.set(endpoints);
    }

    /// The address the client connected to: the balancer's, as its header named it, or ours.
    pub fn original_destination(&self) -> Option<SocketAddr> {
        match self.announced.get() {
            Some(named) => Some(named.destination),
            None => self.listen_addr(),
        }
    }

    /// The destination address connected to, once connected.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.server.get().map(|(_, addr)| *addr)
    }

    /// Our listening address, as the client reached it (an IPv4 client of the dual-stack socket
    /// reached an IPv4 address, whatever the socket calls it): as recorded while the socket was
    /// healthy, or read now.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen
            .get()
            .copied()
            .or_else(|| self.read_listen_addr())
    }

    fn read_listen_addr(&self) -> Option<SocketAddr> {
        let addr = self.client.local_addr().ok()?;
        Some(SocketAddr::new(addr.ip().to_canonical(), addr.port()))
    }

    /// Note the address the client reached, for the pair's closing line, before [`Pair::end`]
    /// resets the socket: a reset socket forgets its address, and `getsockname` then says `[::]`
    /// (the wildcard the listener is bound to). A pair that ends cleanly is never reset, and its
    /// line reads the address then. One call, only for pairs that are cut, and skipped when no
    /// pair line can be written, as for [`Pair::record_source`].
    pub fn record_listen(&self) {
        if !log::log_enabled!(target: crate::events::EVENT_TARGET, log::Level::Warn) {
            return;
        }
        if let Some(addr) = self.read_listen_addr() {
            let _ = self.listen.set(addr);
        }
    }

    /// Our end of the destination connection: the client address the destination sees.
    pub fn source_addr(&self) -> Option<SocketAddr> {
        self.source.get().copied()
    }

    /// Note our end of a fresh destination connection, for the pair's closing line: one
    /// `getsockname`, skipped when no pair line can be written (they are INFO or WARN).
    pub fn record_source(&self, server: &TcpStream) {
        if !log::log_enabled!(target: crate::events::EVENT_TARGET, log::Level::Warn) {
            return;
        }
        if let Ok(addr) = server.local_addr() {
            let _ = self.source.set(addr);
        }
    }

    pub fn clock(&self) -> &HangClock {
        &self.clock
    }

    pub fn activity(&self, dir: Direction) -> &Activity {
        &self.activity[dir.index()]
    }

    pub fn delivered(&self, dir: Direction) -> u64 {
        self.activity(dir).delivered()
    }

    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Say that this pair's bytes are about to join the totals. A reader that adds the live
    /// pairs' bytes to the totals (the metrics) skips a counted pair, so it never counts one twice:
    /// the fence orders this store before the totals' `fetch_add`s, and a reader that sees those
    /// (then fences) sees this. At worst the reader misses a pair for an instant.
    pub fn mark_counted(&self) {
        self.counted.store(true, Ordering::Relaxed);
        fence(Ordering::Release);
    }

    /// Whether [`Pair::mark_counted`] was called: its bytes are (or are about to be) in the totals.
    pub fn is_counted(&self) -> bool {
        self.counted.load(Ordering::Relaxed)
    }

    /// Why the pair ended, once it has.
    pub fn reason(&self) -> Option<&CloseReason> {
        self.ending.reason()
    }

    /// Everything the pump for `dir` needs; `None` until the destination is connected.
    pub fn lane(&self, dir: Direction) -> Option<Lane<'_>> {
        Some(Lane {
            dir,
            source: self.socket(dir.source())?,
            sink: self.socket(dir.sink())?,
            clock: &self.clock,
            ending: &self.ending,
            activity: self.activity(dir),
        })
    }

    /// The socket to `side`; the server's exists only once connected.
    fn socket(&self, side: Side) -> Option<&TcpStream> {
        match side {
            Side::Client => Some(&self.client),
            Side::Server => self.server.get().map(|(stream, _)| stream),
        }
    }

    /// Abort the pair for `reason`: reset both peers and wake both threads. Only the first reason
    /// counts: anything that fails after it (a read that sees our own reset, say) is its
    /// consequence.
    pub fn end(&self, reason: CloseReason) {
        if !self.ending.record(reason) {
            return;
        }
        self.record_listen(); // the reset below makes the client socket forget it
                              // Pairs with the fence in `attach_server`: either we see the server socket here and reset
                              // it, or that thread sees the reason and never starts relaying.
        fence(Ordering::SeqCst);
        for side in [Side::Client, Side::Server] {
            if let Some(socket) = self.socket(side) {
                // An error only means the socket is already closed (the peer reset it first),
                // which is what we want.
                let _ = reset(socket);
            }
        }
    }

    /// Install the destination connection; `false` if the pair ended while we were connecting.
    pub fn attach_server(&self, stream: TcpStream, addr: SocketAddr) -> bool {
        if self.server.set((stream, addr)).is_err() {
            return false;
        }
        fence(Ordering::SeqCst);
        if self.ending.has_ended() {
            if let Some(server) = self.socket(Side::Server) {
                let _ = reset(server);
            }
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    use crate::testing::connected;

    fn pair() -> (Pair, TcpStream) {
        let (client, client_peer) = connected();
        let addr = client.peer_addr().unwrap();
        let rule = HangRule::new(Duration::from_secs(10), Duration::from_secs(10));
        (Pair::new(1, client, addr, rule), client_peer)
    }

    #[test]
    fn no_lane_until_the_server_is_attached() {
        let (pair, _client) = pair();
        assert!(pair.lane(Direction::ClientToServer).is_none());
        let (server, _server_peer) = connected();
        let addr = server.peer_addr().unwrap();
        assert!(pair.attach_server(server, addr));
        assert_eq!(pair.server_addr(), Some(addr));
        let lane = pair.lane(Direction::ServerToClient).unwrap();
        assert_eq!(lane.dir, Direction::ServerToClient);
        assert_eq!(lane.sink.peer_addr().unwrap(), pair.client_addr());
    }

    fn assert_reset(peer: &mut TcpStream) {
        let err = peer.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn ending_resets_both_peers_and_keeps_the_first_reason() {
        let (pair, mut client) = pair();
        let (server, mut server_peer) = connected();
        let addr = server.peer_addr().unwrap();
        assert!(pair.attach_server(server, addr));
        pair.end(CloseReason::Shutdown);
        pair.end(CloseReason::BothEof);
        assert!(matches!(pair.reason(), Some(CloseReason::Shutdown)));
        assert_reset(&mut client);
        assert_reset(&mut server_peer);
    }

    #[test]
    fn a_server_attached_after_the_end_is_reset_and_refused() {
        let (pair, mut client) = pair();
        pair.end(CloseReason::Shutdown);
        assert_reset(&mut client);
        let (server, mut server_peer) = connected();
        let addr = server.peer_addr().unwrap();
        assert!(!pair.attach_server(server, addr));
        assert_reset(&mut server_peer);
    }
}
