//! `--accept-proxy`: the first thing a pair's thread does, before it connects anywhere, is read
//! the client's PROXY header, learn who the client really is, and ask the front door whether
//! that client may come in.
//!
//! Behind a load balancer every connection comes from the balancer; only the header it sends
//! first names the real client. So the header is read here, on the pair's own thread (a slow
//! header holds up nobody else), within `--connect-timeout`; the address it names becomes the
//! pair's client for the log, the stats and `--send-proxy`. Then the door's rules (`--allow`,
//! `--deny`, `--max-per-client`) are asked about that address, through [`Admission`], which the
//! front door implements: the relay cannot import the front door (imports run one way), so the
//! door hands the relay this one question instead.
//!
//! Blocking: the header's `read`s, until the deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::proxy_protocol::{read_header, Endpoints};
use crate::relay::close::CloseReason;
use crate::relay::error::RelayError;
use crate::relay::pair::Pair;

/// The front door's rules, asked about a client named by a PROXY header.
pub trait Admission: Send + Sync {
    /// `Some(slot)` if `client` may come in (the pair holds the slot until it ends: a place under
    /// `--max-per-client`); `None` if not. The door counts and logs a refusal itself.
    fn admit(&self, client: SocketAddr) -> Option<Box<dyn Send + Sync>>;
}

/// `--accept-proxy`: the rules to ask, and how long a client has to send its header.
#[derive(Clone)]
pub struct AcceptProxy {
    pub admission: Arc<dyn Admission>,
    pub header_timeout: Duration,
}

/// What reading the header and asking the door came to.
pub enum Greeted {
    /// In: hold this until the pair ends.
    Admitted(Box<dyn Send + Sync>),
    /// Refused by the door's rules (already counted and logged there): close the client, say
    /// nothing more.
    Refused,
    /// No valid header in time: end the pair with this reason (its close line says why).
    Failed(CloseReason),
}

/// Read `pair`'s header, record who it names, and ask the door.
pub fn greet(pair: &Pair, accept: &AcceptProxy) -> Greeted {
    let deadline = Instant::now() + accept.header_timeout;
    let header = match read_header(pair.client(), deadline) {
        Ok(header) => header,
        Err(why) => return Greeted::Failed(CloseReason::Failed(RelayError::BadHeader(why))),
    };
    // A balancer's health check (v2 LOCAL) speaks for itself: its own connection's addresses.
    let own = Endpoints {
        client: pair.client_addr(),
        destination: pair.listen_addr().unwrap_or(pair.client_addr()),
    };
    let endpoints = header.endpoints_or(own);
    pair.announce(canonical(endpoints));
    match accept.admission.admit(pair.client_addr()) {
        Some(slot) => Greeted::Admitted(slot),
        None => Greeted::Refused,
    }
}

/// IPv4 clients written as IPv4, as the accept loop writes them.
fn canonical(endpoints: Endpoints) -> Endpoints {
    let plain = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    Endpoints {
        client: plain(endpoints.client),
        destination: plain(endpoints.destination),
    }
}
