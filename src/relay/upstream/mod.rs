//! The way to the destination, which a student may skip on a first reading: where the
//! destination is ([`destination`]), how a fresh pair's sockets are made ready ([`prepare`]:
//! socket options, `--keepalive` ([`keepalive`]), and with `--send-proxy` the PROXY header that
//! introduces the client).
//!
//! Blocking here (`connect`, the header's write) happens on the pair's own thread, never the
//! accept loop's.

pub mod destination;
pub mod keepalive;
pub mod prepare;

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::proxy_protocol::{write, Version};
use crate::relay::error::ConnectError;
use crate::relay::upstream::keepalive::Keepalive;

pub use destination::{check_source, Destination};

/// The destination and how every pair reaches it.
#[derive(Debug)]
pub struct Upstream {
    pub destination: Destination,
    /// `None`: no limit beyond the operating system's own.
    pub connect_timeout: Option<Duration>,
    /// `--send-proxy`: the PROXY protocol header to begin each destination connection with.
    pub send_proxy: Option<Version>,
    /// `--source`: the local address every destination connection is made from.
    pub source: Option<IpAddr>,
    /// `--keepalive`: for both of a pair's sockets, set with the others in [`prepare`].
    pub keepalive: Option<Keepalive>,
}

impl Upstream {
    pub fn connect(&self) -> Result<(TcpStream, SocketAddr), ConnectError> {
        self.destination.connect(self.connect_timeout, self.source)
    }

    /// `--send-proxy`: tell the destination who the client is (`client`, which connected to us
    /// at `local`) before any of the client's bytes. A fresh connection's send buffer is empty,
    /// so the header goes out in one write at once.
    pub fn introduce(
        &self,
        server: &TcpStream,
        client: SocketAddr,
        local: SocketAddr,
    ) -> io::Result<()> {
        match self.send_proxy {
            Some(version) => (&*server).write_all(&write::header(version, client, local)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn the_header_goes_first_and_only_when_asked() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream = |send_proxy| Upstream {
            destination: Destination::from_addresses("t", 1, vec![listener.local_addr().unwrap()])
                .unwrap(),
            connect_timeout: None,
            send_proxy,
            source: None,
            keepalive: None,
        };
        let client = "192.0.2.7:5000".parse().unwrap();
        let local = "198.51.100.1:3000".parse().unwrap();
        for (send_proxy, expected) in [
            (None, &b""[..]),
            (
                Some(Version::V1),
                b"PROXY TCP4 192.0.2.7 198.51.100.1 5000 3000\r\n",
            ),
        ] {
            let upstream = upstream(send_proxy);
            let (server, _) = upstream.connect().unwrap();
            let (mut at_server, _) = listener.accept().unwrap();
            upstream.introduce(&server, client, local).unwrap();
            drop(server);
            let mut seen = Vec::new();
            at_server.read_to_end(&mut seen).unwrap();
            assert_eq!(seen, expected);
        }
    }
}
