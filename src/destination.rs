//! The destination: resolved once at start-up, connected once per pair.
//!
//! A name is resolved when the proxy starts, so a typo is a start-up error (exit 1) rather than a
//! warning per client, and no pair waits on a DNS server. Each pair then tries the addresses in the
//! order the resolver gave them (SPEC §2), each for at most `--connect-timeout`, and uses the first
//! that answers. Blocking here happens on the pair's own thread, never the accept loop's.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use log::debug;

/// Where every client is relayed to.
#[derive(Debug)]
pub struct Destination {
    host: String,
    port: u16,
    addresses: Vec<SocketAddr>,
}

impl Destination {
    /// Resolve `host` (a name or an IP literal) once.
    pub fn resolve(host: &str, port: u16) -> Result<Self, String> {
        Self::from_addresses(host, port, lookup(host, port)?)
    }

    /// A destination with a known address list, tried in this order.
    pub fn from_addresses(
        host: &str,
        port: u16,
        addresses: Vec<SocketAddr>,
    ) -> Result<Self, String> {
        if addresses.is_empty() {
            return Err(format!("destination '{host}' has no addresses"));
        }
        Ok(Destination {
            host: host.to_string(),
            port,
            addresses,
        })
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// Connect to the first address that answers. The error names each address tried and why it
    /// failed, since "connection refused" alone does not say where.
    pub fn connect(&self, timeout: Option<Duration>) -> Result<(TcpStream, SocketAddr), String> {
        let mut failures = Vec::new();
        for &address in &self.addresses {
            let attempt = match timeout {
                Some(limit) => TcpStream::connect_timeout(&address, limit),
                None => TcpStream::connect(address),
            };
            match attempt {
                Ok(stream) => return Ok((stream, address)),
                Err(e) => {
                    debug!("connect to {address} failed: {e}");
                    failures.push(format!("{address}: {}", describe(&e)));
                }
            }
        }
        Err(failures.join("; "))
    }
}

fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("cannot resolve destination '{host}': {e}"))
}

/// `connect_timeout` reports its own limit as a bare "timed out"; say which limit it was.
fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        _ => err.to_string(),
    }
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
    fn ip_literals_resolve_without_a_resolver() {
        let d = Destination::resolve("::1", 80).unwrap();
        assert_eq!(d.to_string(), "[::1]:80");
        assert_eq!(d.addresses(), &["[::1]:80".parse().unwrap()]);
    }

    #[test]
    fn unresolvable_name_is_an_error_naming_it() {
        let err = Destination::resolve("no..such-host.invalid", 80).unwrap_err();
        assert!(err.contains("no..such-host.invalid"), "{err}");
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
        let (_, used) = d.connect(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(used, live_addr);
    }
}
