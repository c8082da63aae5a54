//! The relay's errors: what can end one pair while the proxy goes on serving the others.
//!
//! Each names the side that failed, because the log line built from it is what an operator reads
//! to decide whom to blame: "client error" and "server error" send them to different people. A
//! client that leaves while we are still connecting is the client's doing, even if we only notice
//! it while talking to the server; so blame is decided where the failing call is made, from the
//! socket it was made on, never guessed afterwards.
//!
//! Errors are `Clone` (both pair threads may look at the recorded reason), so the `io::Error`s
//! they carry are shared behind an `Arc`. Nothing here blocks.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::proxy_protocol::HeaderError;
use crate::relay::direction::Side;

/// Which step of a pair's life a socket call belonged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Setting `TCP_NODELAY` and the hang rule's timeouts on a fresh pair's sockets.
    Prepare,
    /// `--send-proxy`: writing the PROXY protocol header to the destination.
    ProxyHeader,
    /// Moving the client's or the server's bytes.
    Relay,
}

/// Why one pair failed.
#[derive(Clone, Debug)]
pub enum RelayError {
    /// A socket call on `side` failed during `step`.
    Socket {
        side: Side,
        step: Step,
        error: Arc<io::Error>,
    },
    /// `--accept-proxy`: the client sent no valid PROXY header in time.
    BadHeader(HeaderError),
    /// No destination address accepted the connection.
    Connect(ConnectError),
    /// The operating system would not give the pair its second thread.
    NoThread(Arc<io::Error>),
    /// Every buffer in the pool is in use (impossible while the pool has two per allowed pair).
    NoBuffer,
    /// A pump panicked: a bug of ours, not either peer's. The panic message is on stderr.
    Panicked,
}

impl RelayError {
    pub fn socket(side: Side, step: Step, error: io::Error) -> Self {
        RelayError::Socket {
            side,
            step,
            error: Arc::new(error),
        }
    }

    /// The peer to blame, if it was a peer at all.
    pub fn side(&self) -> Option<Side> {
        match self {
            RelayError::Socket { side, .. } => Some(*side),
            RelayError::Connect(_) => Some(Side::Server),
            RelayError::BadHeader(_) => Some(Side::Client),
            _ => None,
        }
    }
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Socket { side, step, error } => {
                let doing = match step {
                    Step::Prepare => "cannot set socket options: ",
                    Step::ProxyHeader => "cannot send the PROXY protocol header: ",
                    Step::Relay => "",
                };
                write!(f, "{side} error ({doing}{error})")
            }
            RelayError::Connect(e) => write!(f, "connect failed ({e})"),
            RelayError::BadHeader(e) => write!(f, "client error ({e})"),
            RelayError::NoThread(e) => write!(f, "out of resources (no thread: {e})"),
            RelayError::NoBuffer => write!(f, "out of resources (no free buffer)"),
            RelayError::Panicked => write!(f, "internal error (relay thread panicked)"),
        }
    }
}

/// Every destination address tried, and why each failed, in the order tried: "connection
/// refused" alone does not say where.
#[derive(Clone, Debug, Default)]
pub struct ConnectError {
    pub attempts: Vec<(SocketAddr, Arc<io::Error>)>,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (address, error)) in self.attempts.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            // `connect_timeout` reports its own limit as a bare OS message; say which limit it was.
            match error.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    write!(f, "{separator}{address}: timed out")?
                }
                _ => write!(f, "{separator}{address}: {error}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_side_and_the_step() {
        let header = RelayError::socket(
            Side::Client,
            Step::ProxyHeader,
            io::ErrorKind::NotConnected.into(),
        );
        assert_eq!(header.side(), Some(Side::Client));
        assert!(header
            .to_string()
            .starts_with("client error (cannot send the PROXY protocol header: "));
        let relay = RelayError::socket(Side::Server, Step::Relay, io::Error::other("boom"));
        assert_eq!(relay.to_string(), "server error (boom)");
        assert_eq!(RelayError::Panicked.side(), None);
    }

    #[test]
    fn connect_failures_list_every_address_tried() {
        let e = ConnectError {
            attempts: vec![
                (
                    "127.0.0.1:1".parse().unwrap(),
                    Arc::new(io::ErrorKind::TimedOut.into()),
                ),
                (
                    "[::1]:1".parse().unwrap(),
                    Arc::new(io::Error::other("refused")),
                ),
            ],
        };
        assert_eq!(
            RelayError::Connect(e).to_string(),
            "connect failed (127.0.0.1:1: timed out; [::1]:1: refused)"
        );
    }
}
