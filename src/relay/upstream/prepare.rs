//! Getting a fresh pair's two sockets ready, once the destination has answered: socket options on
//! both, then (with `--send-proxy`) the PROXY header that introduces the client.
//!
//! Two of the client socket's options are set once, on the listener ([`prime_listener`]): Linux
//! makes each accepted socket as a copy of its listener, options included, so TCP_NODELAY and the
//! write timeout come with every client for free, two calls fewer per pair. Not the read timeout:
//! on a listener that is `accept`'s own timeout, and the accept loop must wait for ever.
//!
//! Blocking: only the header's one `write`, to a fresh connection whose send buffer is empty.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use socket2::SockRef;

use crate::relay::close::CloseReason;
use crate::relay::direction::Side;
use crate::relay::error::Step;
use crate::relay::hang::{HangClock, HangRule};
use crate::relay::pair::Pair;
use crate::relay::upstream::keepalive::Keepalive;
use crate::relay::upstream::Upstream;

/// Prepare both sockets, then (with `--send-proxy`) introduce the client. Each failure is blamed
/// on the socket whose call failed: a client that left while we connected is the client's doing.
pub fn get_ready(pair: &Pair, server: &TcpStream, upstream: &Upstream) -> Result<(), CloseReason> {
    let client = pair.client();
    // The hang rule's clocks run from now: time spent connecting is `--connect-timeout`'s business.
    pair.clock().progress(pair.clock().now());
    let keepalive = upstream.keepalive.as_ref();
    prepare(client, Side::Client, pair.clock(), keepalive)?;
    prepare(server, Side::Server, pair.clock(), keepalive)?;
    set_sending_options(server, pair.clock().write_timeout())
        .map_err(|e| CloseReason::from_io(Side::Server, Step::Prepare, e))?;
    if upstream.send_proxy.is_none() {
        return Ok(());
    }
    // The address the client reached: ours, or with `--accept-proxy` the balancer's, which the
    // header named (so a chain of proxies passes on what the first one saw).
    let reached = pair
        .original_destination()
        .ok_or_else(|| blame(Side::Client)(io::ErrorKind::NotConnected.into()))?;
    upstream
        .introduce(server, pair.client_addr(), reached)
        .map_err(blame(Side::Server))
}

/// Give the listener the options every client socket needs from its first byte (see the module
/// comment); the relay's clients all come from this listener.
pub fn prime_listener(listener: &TcpListener, rule: HangRule) -> io::Result<()> {
    set_sending_options(listener, rule.write_timeout())
}

/// TCP_NODELAY so a small write (a keystroke, a request) leaves at once instead of waiting for
/// Nagle's algorithm; the write timeout so no write can block past the hang rule's next check.
/// On a listener, for the sockets it will accept; on the destination socket, for itself.
fn set_sending_options<'s>(
    socket: impl Into<SockRef<'s>>,
    write_timeout: Option<Duration>,
) -> io::Result<()> {
    let socket = socket.into();
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(write_timeout)
}

/// What only a socket of this pair can be given: the read timeout is the time left until this
/// pair's idle deadline, and `--keepalive`'s probes find a peer gone without a word.
fn prepare(
    socket: &TcpStream,
    side: Side,
    clock: &HangClock,
    keepalive: Option<&Keepalive>,
) -> Result<(), CloseReason> {
    let set = || -> io::Result<()> {
        if let Some(keepalive) = keepalive {
            keepalive.apply(socket)?;
        }
        socket.set_read_timeout(clock.read_timeout(clock.now()))
    };
    set().map_err(|e| CloseReason::from_io(side, Step::Prepare, e))
}

fn blame(side: Side) -> impl Fn(io::Error) -> CloseReason {
    move |e| CloseReason::from_io(side, Step::ProxyHeader, e)
}
