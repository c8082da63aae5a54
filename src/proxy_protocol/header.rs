//! What a PROXY header says ([`ProxyHeader`]), what the parser makes of the bytes so far
//! ([`Parsed`]), and why a header could not be read ([`HeaderError`]). Nothing here blocks.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::proxy_protocol::Version;

/// The two ends of the client's original connection, as the header's sender saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Where the client connected from: the pair's client for the log, `--allow` and the rest.
    pub client: SocketAddr,
    /// The address the client connected to (the balancer's), passed on by `--send-proxy`.
    pub destination: SocketAddr,
}

/// One header, read whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    pub version: Version,
    /// `None` for v2 `LOCAL`, a v2 family we do not relay for (`UNSPEC`, UDP, UNIX) and v1
    /// `UNKNOWN`: the sender speaks for itself, not for a client.
    pub endpoints: Option<Endpoints>,
}

impl ProxyHeader {
    /// The addresses to use: the header's, or, when it names none, the connection's own.
    pub fn endpoints_or(&self, connection: Endpoints) -> Endpoints {
        self.endpoints.unwrap_or(connection)
    }
}

/// What [`super::parse`] makes of the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// No verdict yet. Every valid header that begins with these bytes is at least `missing`
    /// bytes longer, so reading up to `missing` more can never take a byte past the header.
    Incomplete { missing: usize },
    /// A whole, valid header: the first `consumed` bytes. What follows is the client's.
    Done {
        header: ProxyHeader,
        consumed: usize,
    },
}

/// Why a client's PROXY header could not be read. Each is a reason to close the client.
#[derive(Clone, Debug)]
pub enum HeaderError {
    /// It began as a PROXY header, but breaks the specification (`what` says where).
    Malformed(&'static str),
    /// The first bytes are neither v1's `PROXY ` nor v2's signature: not a PROXY header at all,
    /// most likely a client talking to us directly.
    WrongSignature,
    /// v1: no CRLF within `limit` (107) bytes, and `announced` is `None`; v2: the header
    /// announces `announced` bytes after its fixed part, more than the `limit` we accept.
    TooLong {
        announced: Option<usize>,
        limit: usize,
    },
    /// The client closed the connection after `received` bytes, before the header ended.
    Truncated { received: usize },
    /// A protocol or family the specification does not define (`what`: the v1 word, or the v2
    /// family byte).
    UnsupportedFamily(String),
    /// The deadline passed after `received` bytes: the header was not complete in time.
    TimedOut { received: usize },
    /// `read` itself failed (a reset, say).
    Io(Arc<io::Error>),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HeaderError::*;
        match self {
            Malformed(what) => write!(f, "malformed PROXY header: {what}"),
            WrongSignature => write!(f, "not a PROXY header (wrong signature)"),
            TooLong {
                announced: None,
                limit,
            } => write!(f, "PROXY v1 header too long: no CRLF within {limit} bytes"),
            TooLong {
                announced: Some(n),
                limit,
            } => write!(
                f,
                "PROXY v2 header too long: it announces {n} bytes, more than the {limit} accepted"
            ),
            Truncated { received } => {
                write!(
                    f,
                    "PROXY header truncated: the client closed after {received} bytes"
                )
            }
            UnsupportedFamily(what) => write!(f, "PROXY header with unsupported family {what}"),
            TimedOut { received } => {
                write!(
                    f,
                    "no complete PROXY header in time ({received} bytes received)"
                )
            }
            Io(e) => write!(f, "cannot read the PROXY header: {e}"),
        }
    }
}

impl std::error::Error for HeaderError {}
