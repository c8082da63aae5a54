//! The way to the destination, which a student may skip on a first reading.
//!
//! Where the destinations are and how a pair picks one:
//! - [`destination`]: one destination, its [`name`] (HOST:PORT as given), its [`addresses`]
//!   (what the name resolves to now), its counters and its [`health`] (up or down: the state
//!   machine of passive health);
//! - [`pool`]: every destination in order, and a pair's connect, which goes through them by
//!   `--balance` ([`balance`]: the rule itself), each once, until one answers ([`connect`]: one
//!   destination's addresses, each within `--connect-timeout`); [`route`] is what the pair
//!   remembers of it;
//! - [`resolver`] and [`checker`]: the threads that keep the pool current, one re-resolving every
//!   name (`--resolve-interval`), one per destination checking it (`--check-interval`).
//!
//! How a fresh pair's sockets are made ready: [`prepare`] (socket options, `--keepalive`
//! ([`keepalive`]), and with `--send-proxy` the PROXY header that introduces the client).
//!
//! Blocking here (`connect`, the header's write) happens on the pair's own thread, never the
//! accept loop's; `getaddrinfo` only on the main thread at start-up and on the resolver thread;
//! each check on its own checker thread. Each of those threads blocks on one thing, as a pump
//! does, so none needs a timer wheel or an event loop: a sleep is the timer, and the kernel's
//! scheduler runs them all.

pub mod addresses;
pub mod balance;
pub mod checker;
pub mod connect;
pub mod destination;
pub mod health;
pub mod keepalive;
pub mod name;
pub mod pool;
pub mod prepare;
pub mod resolver;
pub mod route;

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::error::StartupError;
use crate::proxy_protocol::{write, Version};
use crate::relay::error::ConnectError;
use crate::relay::upstream::addresses::Addresses;
use crate::relay::upstream::keepalive::Keepalive;
use crate::units::Timeout;

pub use destination::Destination;
pub use name::Name;
pub use pool::{Dial, Pool};
pub use route::Route;

/// The destinations and how every pair reaches them.
#[derive(Debug)]
pub struct Upstream {
    pub pool: Pool,
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
    /// Connect a pair to a destination (failing over as `pool.rs` says) unless `ended()` says
    /// the pair is over; the route it took either way.
    pub fn connect(
        &self,
        ended: &dyn Fn() -> bool,
    ) -> (Route, Result<(TcpStream, SocketAddr), ConnectError>) {
        self.pool.connect(self.dial(), ended)
    }

    /// How every connect is made, a pair's or a check's.
    pub fn dial(&self) -> Dial {
        Dial {
            timeout: self.connect_timeout,
            source: self.source,
        }
    }

    /// Start the threads that keep the pool current: the resolver (with `resolve_every`, if any
    /// destination is a name) and a checker per destination (with `check_every`).
    pub fn start_watchers(
        &self,
        resolve_every: Duration,
        check_every: Option<Duration>,
    ) -> Result<(), StartupError> {
        let failed = |name| move |source| StartupError::Thread { name, source };
        resolver::start(self.pool.destinations(), resolve_every).map_err(failed("resolver"))?;
        if let Some(every) = check_every {
            checker::start(self.pool.destinations(), self.dial(), every)
                .map_err(failed("checker"))?;
        }
        Ok(())
    }

    /// For the listening line: every destination, and unless there is only one IP literal and no
    /// check, how they are chosen and watched (`check_every`, `resolve_every`, as given).
    pub fn describe(&self, check_every: Option<Duration>, resolve_every: Duration) -> String {
        let destinations = self.pool.destinations();
        let mut how = Vec::new();
        if destinations.len() > 1 {
            how.push(format!("--balance {}", self.pool.balance()));
        }
        if destinations.len() > 1 || check_every.is_some() {
            let rule = destinations[0].rule();
            let plural = if rule.max_fails == 1 { "" } else { "s" };
            let down = format!("down after {} failed connect{plural}", rule.max_fails);
            how.push(match check_every {
                Some(_) => down,
                None => format!("{down} for {}", Timeout(rule.fail_timeout)),
            });
        }
        if let Some(every) = check_every {
            how.push(format!("checked every {}", Timeout(every)));
        }
        let moving = |d: &&Arc<Destination>| matches!(d.addresses(), Addresses::Moving(_));
        if destinations.iter().any(|d| moving(&d)) {
            how.push(format!(
                "names re-resolved every {}",
                Timeout(resolve_every)
            ));
        }
        match how.is_empty() {
            true => self.pool.describe(),
            false => format!("{} ({})", self.pool.describe(), how.join(", ")),
        }
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
    use crate::relay::upstream::balance::Balance;
    use crate::relay::upstream::health::HealthRule;
    use std::io::Read;
    use std::net::TcpListener;

    const RULE: HealthRule = HealthRule {
        max_fails: 1,
        fail_timeout: Duration::from_secs(10),
        checked: false,
    };

    fn upstream(destinations: Vec<Destination>, send_proxy: Option<Version>) -> Upstream {
        Upstream {
            pool: Pool::new(destinations, Balance::RoundRobin),
            connect_timeout: None,
            send_proxy,
            source: None,
            keepalive: None,
        }
    }

    fn destination(host: &str, address: &str, moving: bool) -> Destination {
        let name = Name {
            host: host.into(),
            port: 1,
        };
        let list = vec![address.parse().unwrap()];
        Destination::from_addresses(name, list, RULE, moving).unwrap()
    }

    #[test]
    fn the_listening_line_says_how_several_destinations_are_chosen_and_watched() {
        let lab = upstream(vec![destination("127.0.0.1", "127.0.0.1:1", false)], None);
        let resolve = Duration::from_secs(30);
        assert_eq!(lab.describe(None, resolve), "127.0.0.1:1");
        let checked = lab.describe(Some(Duration::from_secs(2)), resolve);
        assert_eq!(
            checked,
            "127.0.0.1:1 (down after 1 failed connect, checked every 2 s)"
        );
        let two = upstream(
            vec![
                destination("db", "127.0.0.2:1", true),
                destination("::1", "[::1]:1", false),
            ],
            None,
        );
        assert_eq!(
            two.describe(None, resolve),
            "db:1 (resolved to 127.0.0.2:1), [::1]:1 (--balance round-robin, down after 1 failed \
             connect for 10 s, names re-resolved every 30 s)"
        );
    }

    #[test]
    fn the_header_goes_first_and_only_when_asked() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let upstream = |send_proxy| upstream(vec![destination("t", &address, false)], send_proxy);
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
            let (_, connected) = upstream.connect(&|| false);
            let (server, _) = connected.unwrap();
            let (mut at_server, _) = listener.accept().unwrap();
            upstream.introduce(&server, client, local).unwrap();
            drop(server);
            let mut seen = Vec::new();
            at_server.read_to_end(&mut seen).unwrap();
            assert_eq!(seen, expected);
        }
    }
}
