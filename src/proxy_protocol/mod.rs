//! The PROXY protocol: a one-line (v1) or binary (v2) header that begins a connection and names
//! the client on whose behalf it is made. A leaf room: it knows bytes and addresses, nothing of
//! the relay, and the relay uses it at both ends of a pair.
//!
//! Behind a proxy, every connection a server sees comes from the proxy's address. HAProxy's
//! PROXY protocol (<https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt>) fixes that:
//! the proxy begins each destination connection with one header naming the original client and
//! the address it connected to, and a server configured for it (HAProxy `accept-proxy`, nginx
//! `listen ... proxy_protocol`, Postfix, Dovecot, ...) reads it before the real data.
//!
//! - **Writing** one (`--send-proxy v1|v2`): [`write`]. The header goes out once, right after
//!   `connect`, and is not counted in the pair's "up" bytes (those are the client's).
//! - **Reading** one (`--accept-proxy`): [`read`], with [`parse`] telling the versions apart,
//!   [`v1`] and [`v2`] parsing them and [`header`] holding the types. The rest of these docs are
//!   about reading, which is where the care goes.
//!
//! A balancer (HAProxy `send-proxy`, an AWS NLB, ...) begins each connection with one header,
//! before any of the client's bytes, naming the client and the address it connected to. Which
//! version it sends is told by the very first byte, as HAProxy's `accept-proxy` tells it:
//!
//! - `P`: **v1**, one text line, `PROXY TCP4 192.0.2.7 198.51.100.1 50312 3000\r\n`, at most
//!   107 bytes with its CRLF ([`v1`]);
//! - `\r`: **v2**, a 12-byte signature, version and command, family, a 2-byte length, then that
//!   many bytes of addresses and TLVs ([`v2`]);
//! - anything else is not a PROXY header, and the client is refused.
//!
//! **Never a byte too many.** The bytes after the header are the client's, and belong to the
//! destination: the reader must leave every one of them in the socket. So it never reads "a
//! bufferful and sees": [`parse`] says, for what has arrived so far, how many more bytes every
//! valid header starting this way still needs at least, and [`read_header`] asks the socket for
//! no more than that. A v1 line therefore comes in mostly one byte per `read` (its end is only
//! known once the CRLF is there); v2 comes in two reads, its fixed 16 bytes and then exactly the
//! length they announce.
//!
//! **Bounded.** v1 stops at 107 bytes without a CRLF; v2 refuses an announced length above
//! [`v2::MAX_LENGTH`] before reading it. TLVs (optional extras: TLS details, a cloud's endpoint
//! id, a checksum) are skipped, after checking that they tile the rest of the header exactly.
//!
//! **LOCAL and UNKNOWN.** A v2 `LOCAL` header (a balancer's own health check), a v2 `UNSPEC`
//! family, and v1 `PROXY UNKNOWN` carry no client: the connection's own addresses are used
//! ([`ProxyHeader::endpoints_or`]).
//!
//! Blocking: only [`read_header`], in `read`, until the deadline it is given; it runs on the
//! pair's own thread, never the accept loop's, so a slow client delays nobody else.
//! [`write`]'s only blocking is the caller's: it returns the bytes.

pub mod header;
pub mod parse;
pub mod read;
pub mod v1;
pub mod v2;
pub mod write;

#[cfg(test)]
mod tests;

pub use header::{Endpoints, HeaderError, Parsed, ProxyHeader};
pub use parse::parse;
pub use read::{read_header, read_with};

/// Which header to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// `v1` or `v2`, as `--send-proxy` takes them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "v1" => Some(Version::V1),
            "v2" => Some(Version::V2),
            _ => None,
        }
    }
}

/// v2's fixed signature: chosen so that no v1 or ordinary protocol can start with it (the reader
/// checks it too).
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
