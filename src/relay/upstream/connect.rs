//! Connecting to one destination: each of its addresses in the resolver's order, each for at most
//! `--connect-timeout`, from the `--source` address if one is given; the first that answers wins.
//!
//! Blocking: `connect`, on the caller's thread (a pair's, or a checker's), bounded by
//! `--connect-timeout`.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use log::debug;
use nix::errno::Errno;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::StartupError;
use crate::relay::error::ConnectError;

/// Connect to the first of `addresses` that answers within `timeout` (`None`: the OS's own
/// limit), from `source` if given; every failure, in order, if none does.
pub fn first_answering(
    addresses: &[SocketAddr],
    timeout: Option<Duration>,
    source: Option<IpAddr>,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let mut failures = ConnectError::default();
    for &address in addresses {
        match connect_one(address, timeout, source) {
            Ok(stream) => return Ok((stream, address)),
            Err(e) => {
                debug!("connect to {address} failed: {e}");
                failures.attempts.push((address, Arc::new(e)));
            }
        }
    }
    Err(failures)
}

/// One connection attempt, a plain blocking `connect` bounded by `timeout`. With a source address
/// the socket is bound to it first (port 0: the kernel picks one), so the destination sees that
/// address; std's `connect` cannot bind first, hence socket2.
///
/// Why not std's `connect_timeout`: it switches the socket to non-blocking, connects, polls and
/// switches back, four calls where Linux needs one. A blocking `connect` honours the socket's
/// send timeout (SO_SNDTIMEO), so arming that bounds the handshake; [`get_ready`] then re-arms it
/// for the pumps' writes. On timeout Linux reports EINPROGRESS (the handshake was still under way
/// when the wait ended), which we name for what it is.
///
/// [`get_ready`]: crate::relay::upstream::prepare::get_ready
fn connect_one(
    address: SocketAddr,
    timeout: Option<Duration>,
    source: Option<IpAddr>,
) -> io::Result<TcpStream> {
    if let Some(source) = source.filter(|s| s.is_ipv4() != address.is_ipv4()) {
        let why = format!("--source {source} is of the other address family");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if let Some(source) = source {
        socket.bind(&SocketAddr::new(source, 0).into())?;
    }
    if timeout.is_some() {
        socket.set_write_timeout(timeout)?; // a fresh socket has none: nothing to do without one
    }
    match socket.connect(&address.into()) {
        Ok(()) => Ok(socket.into()),
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection timed out",
        )),
        Err(e) => Err(e),
    }
}

/// `--source`: is `source` one of this host's addresses, of a family the destination (named
/// `destination`, resolved to `addresses`) has? Asked once at start-up, by binding a throwaway
/// socket to it, so that a typo is one error line (exit 1) rather than a failed connect for
/// every client.
pub fn check_source(
    source: IpAddr,
    destination: String,
    addresses: &[SocketAddr],
) -> Result<(), StartupError> {
    if !addresses.iter().any(|a| a.is_ipv4() == source.is_ipv4()) {
        return Err(StartupError::SourceFamily {
            source,
            destination,
        });
    }
    let probe = SocketAddr::new(source, 0);
    Socket::new(
        Domain::for_address(probe),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .and_then(|socket| socket.bind(&probe.into()))
    .map_err(|error| StartupError::Source { source, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_refusing_address_falls_through_to_the_next() {
        let dead = crate::testing::closed_address();
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        let live_addr = live.local_addr().unwrap();
        let timeout = Some(Duration::from_secs(2));
        let (_, used) = first_answering(&[dead, live_addr], timeout, None).unwrap();
        assert_eq!(used, live_addr);
        let err = first_answering(&[dead], None, None).unwrap_err();
        assert!(err.to_string().starts_with(&dead.to_string()), "{err}");
    }

    #[test]
    fn a_source_of_the_other_family_is_refused_at_start() {
        let v6: [SocketAddr; 1] = ["[::1]:80".parse().unwrap()];
        let err = check_source("127.0.0.1".parse().unwrap(), "[::1]:80".into(), &v6);
        assert!(matches!(err, Err(StartupError::SourceFamily { .. })));
    }
}
