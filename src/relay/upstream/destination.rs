//! One destination: the name or address it was given, what it resolved to, and how to connect to
//! it.
//!
//! A name is resolved when the proxy starts, so a typo is a start-up error (exit 1) rather than a
//! warning per client, and no pair waits on a DNS server. Each pair then tries the addresses in the
//! order the resolver gave them, each for at most `--connect-timeout`, and uses the first that
//! answers, from the `--source` address if one is given.
//!
//! Blocking: `connect`, on the pair's own thread, bounded by `--connect-timeout`.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use log::debug;
use nix::errno::Errno;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::StartupError;
use crate::relay::error::ConnectError;

/// Where every client is relayed to.
#[derive(Debug)]
pub struct Destination {
    host: String,
    port: u16,
    addresses: Vec<SocketAddr>,
}

impl Destination {
    /// Resolve `host` (a name or an IP literal) once.
    pub fn resolve(host: &str, port: u16) -> Result<Self, StartupError> {
        let failed = |source| StartupError::Resolve {
            what: "destination",
            host: host.to_string(),
            source,
        };
        let addresses = (host, port)
            .to_socket_addrs()
            .map_err(|e| failed(Some(e)))?
            .collect();
        Self::from_addresses(host, port, addresses).ok_or_else(|| failed(None))
    }

    /// A destination with a known address list, tried in this order; `None` if it is empty.
    pub fn from_addresses(host: &str, port: u16, addresses: Vec<SocketAddr>) -> Option<Self> {
        (!addresses.is_empty()).then(|| Destination {
            host: host.to_string(),
            port,
            addresses,
        })
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// For the listening line: `[::1]:5432` for an IP literal, and for a name the addresses it
    /// resolved to, `localhost:5432 (resolved to [::1]:5432, 127.0.0.1:5432)`.
    pub fn describe(&self) -> String {
        if self.host.parse::<IpAddr>().is_ok() {
            return self.to_string();
        }
        let resolved: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        format!("{self} (resolved to {})", resolved.join(", "))
    }

    /// Connect to the first address that answers within `timeout` (`None`: the OS's own limit),
    /// from `source` if given.
    pub fn connect(
        &self,
        timeout: Option<Duration>,
        source: Option<IpAddr>,
    ) -> Result<(TcpStream, SocketAddr), ConnectError> {
        let mut failures = ConnectError::default();
        for &address in &self.addresses {
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

/// `--source`: is `source` one of this host's addresses, of a family the destination has? Asked
/// once at start-up, by binding a throwaway socket to it, so that a typo is one error line
/// (exit 1) rather than a failed connect for every client.
pub fn check_source(source: IpAddr, destination: &Destination) -> Result<(), StartupError> {
    if !destination
        .addresses
        .iter()
        .any(|a| a.is_ipv4() == source.is_ipv4())
    {
        return Err(StartupError::SourceFamily {
            source,
            destination: destination.describe(),
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

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port) // an IPv6 literal
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn ip_literals_resolve_without_a_resolver_and_print_once() {
        let d = Destination::resolve("::1", 80).unwrap();
        assert_eq!(d.to_string(), "[::1]:80");
        assert_eq!(d.describe(), "[::1]:80");
        assert_eq!(d.addresses(), &["[::1]:80".parse().unwrap()]);
    }

    #[test]
    fn a_name_is_described_with_what_it_resolved_to() {
        let addresses = vec!["[::1]:5".parse().unwrap(), "127.0.0.1:5".parse().unwrap()];
        let d = Destination::from_addresses("db", 5, addresses).unwrap();
        assert_eq!(d.describe(), "db:5 (resolved to [::1]:5, 127.0.0.1:5)");
        assert!(Destination::from_addresses("db", 5, Vec::new()).is_none());
    }

    #[test]
    fn unresolvable_name_is_an_error_naming_it() {
        let err = Destination::resolve("no..such-host.invalid", 80).unwrap_err();
        assert!(err.to_string().contains("no..such-host.invalid"), "{err}");
    }

    #[test]
    fn a_refusing_address_falls_through_to_the_next() {
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(); // closed again
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        let live_addr = live.local_addr().unwrap();
        let d = Destination::from_addresses("test", 1, vec![dead, live_addr]).unwrap();
        let (_, used) = d.connect(Some(Duration::from_secs(2)), None).unwrap();
        assert_eq!(used, live_addr);
        let only_dead = Destination::from_addresses("test", 1, vec![dead]).unwrap();
        let err = only_dead.connect(None, None).unwrap_err();
        assert!(err.to_string().starts_with(&dead.to_string()), "{err}");
    }
}
