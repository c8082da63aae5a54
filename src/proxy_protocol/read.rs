//! Reading one PROXY header from a client's socket, never a byte past it.
//!
//! Blocking: `read`, until the header is whole or the deadline passes.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use crate::proxy_protocol::header::{HeaderError, Parsed, ProxyHeader};
use crate::proxy_protocol::parse::parse;
use crate::proxy_protocol::{v1, v2};

/// The most bytes a header can have: v2's fixed part and its longest announced length (a v1
/// line is shorter).
const LONGEST: usize = v2::FIXED + v2::MAX_LENGTH;

/// Read one header from `client`, which must be complete by `deadline`. On success the next
/// byte in the socket is the client's own first byte. Leaves the socket's read timeout set (the
/// caller sets its own next).
pub fn read_header(client: &TcpStream, deadline: Instant) -> Result<ProxyHeader, HeaderError> {
    read_with(|buf| {
        // The deadline is for the whole header, so each read may wait only for the time left:
        // a timeout per read would let a client sending a byte every few seconds hold the pair
        // (and its thread) for as long as it likes.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into()); // a zero timeout would mean "none"
        }
        client.set_read_timeout(Some(left))?;
        (&*client).read(buf)
    })
}

/// Read one header through `read` (a socket's `read`, or a test's), asking it each time for no
/// more than the parser says is surely still part of the header.
///
/// Bounded: each turn either ends the loop or adds at least one byte, and the parser refuses a
/// header before it grows past [`LONGEST`]; an interrupted read is retried, and a `read` that
/// keeps failing fails the deadline.
pub fn read_with(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<ProxyHeader, HeaderError> {
    let mut buf = [0u8; LONGEST];
    let mut have = 0;
    loop {
        let missing = match parse(&buf[..have])? {
            Parsed::Done { header, .. } => return Ok(header),
            Parsed::Incomplete { missing } => missing,
        };
        let Some(space) = buf.get_mut(have..have + missing) else {
            // Cannot happen (see LONGEST); refused rather than trusted.
            return Err(HeaderError::TooLong {
                announced: None,
                limit: LONGEST.max(v1::MAX_LINE),
            });
        };
        match read(space) {
            Ok(0) => return Err(HeaderError::Truncated { received: have }),
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // SO_RCVTIMEO expiring is EAGAIN (WouldBlock); the closure's own check is TimedOut.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeaderError::TimedOut { received: have })
            }
            Err(e) => return Err(HeaderError::Io(Arc::new(e))),
        }
    }
}
