//! Getting a fresh pair's two sockets ready, once the destination has answered: socket options on
//! both, then (with `--send-proxy`) the PROXY header that introduces the client.
//!
//! Blocking: only the header's one `write`, to a fresh connection whose send buffer is empty.

use std::io;
use std::net::TcpStream;

use crate::relay::close::CloseReason;
use crate::relay::direction::Side;
use crate::relay::error::Step;
use crate::relay::hang::HangClock;
use crate::relay::keepalive::Keepalive;
use crate::relay::pair::Pair;
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

/// TCP_NODELAY so a small write (a keystroke, a request) leaves at once instead of waiting for
/// Nagle's algorithm; the hang rule's timeouts so no call can block past its deadline; with
/// `--keepalive`, probes that find a peer gone without a word.
fn prepare(
    socket: &TcpStream,
    side: Side,
    clock: &HangClock,
    keepalive: Option<&Keepalive>,
) -> Result<(), CloseReason> {
    let set = || -> io::Result<()> {
        socket.set_nodelay(true)?;
        if let Some(keepalive) = keepalive {
            keepalive.apply(socket)?;
        }
        socket.set_read_timeout(clock.read_timeout(clock.now()))?;
        socket.set_write_timeout(clock.write_timeout())
    };
    set().map_err(|e| CloseReason::from_io(side, Step::Prepare, e))
}

fn blame(side: Side) -> impl Fn(io::Error) -> CloseReason {
    move |e| CloseReason::from_io(side, Step::ProxyHeader, e)
}
