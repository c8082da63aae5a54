//! Why a pair ended, as words for people and a stable code for programs, and the flag that
//! records it.
//!
//! A pair ends exactly once. Whichever thread sees the end first — a pump that read the last EOF,
//! hit an error or found the pair hung, or the main thread stopping the proxy — records its
//! [`CloseReason`] in the pair's [`Ending`]; anything that fails after that (a read that sees our
//! own shutdown, say) is its consequence, not a second reason. The pumps look at the flag to tell
//! our own wake-up from a peer's EOF.
//!
//! The wording lives here, so a grep for `stall timeout toward client` finds both the code that
//! decides it and the code that prints it. Nothing here blocks.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::relay::direction::Side;
use crate::relay::error::{RelayError, Step};
use crate::relay::hang::Hang;

/// Why a pair ended.
#[derive(Clone, Debug)]
pub enum CloseReason {
    /// Both sides sent EOF and everything was delivered: the normal end.
    BothEof,
    /// The peer reset the connection, or vanished so that a write to it failed.
    Reset(Side),
    /// The hang rule fired.
    Hang(Hang),
    /// Something failed: a socket call, the connect, a resource.
    Failed(RelayError),
    /// The proxy was told to stop (SIGINT/SIGTERM).
    Shutdown,
}

impl CloseReason {
    /// Classify a failed socket call on `side`: resets and broken pipes say "the peer is gone";
    /// the rest are errors.
    pub fn from_io(side: Side, step: Step, err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => CloseReason::Reset(side),
            _ => CloseReason::Failed(RelayError::socket(side, step, err)),
        }
    }

    /// Failures an operator should notice are warnings; everything else is routine.
    pub fn is_warning(&self) -> bool {
        matches!(self, CloseReason::Failed(_))
    }

    /// The reason as a stable code, for programs: the JSON log and the metrics' labels.
    pub fn code(&self) -> CloseCode {
        match self {
            CloseReason::BothEof => CloseCode::BothEof,
            CloseReason::Reset(Side::Client) => CloseCode::ClientReset,
            CloseReason::Reset(Side::Server) => CloseCode::ServerReset,
            CloseReason::Hang(Hang::StallToward(Side::Client)) => CloseCode::StallTowardClient,
            CloseReason::Hang(Hang::StallToward(Side::Server)) => CloseCode::StallTowardServer,
            CloseReason::Hang(Hang::Idle) => CloseCode::Idle,
            CloseReason::Failed(RelayError::Connect(_)) => CloseCode::ConnectFailed,
            CloseReason::Failed(RelayError::BadHeader(_)) => CloseCode::BadProxyHeader,
            CloseReason::Failed(RelayError::Socket { side, .. }) => match side {
                Side::Client => CloseCode::ClientError,
                Side::Server => CloseCode::ServerError,
            },
            CloseReason::Failed(RelayError::NoThread(_) | RelayError::NoBuffer) => {
                CloseCode::OutOfResources
            }
            CloseReason::Failed(RelayError::Panicked) => CloseCode::InternalError,
            CloseReason::Shutdown => CloseCode::Shutdown,
        }
    }
}

/// A close reason without its details: a short, stable name that programs may match on. The
/// words are a contract (documented in docs/reference.md): add new ones, never rename.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCode {
    BothEof,
    ClientReset,
    ServerReset,
    StallTowardClient,
    StallTowardServer,
    Idle,
    ConnectFailed,
    ClientError,
    ServerError,
    OutOfResources,
    InternalError,
    Shutdown,
    BadProxyHeader,
}

impl CloseCode {
    /// Every code, in the order the metrics list them.
    pub const ALL: [CloseCode; 13] = [
        CloseCode::BothEof,
        CloseCode::ClientReset,
        CloseCode::ServerReset,
        CloseCode::StallTowardClient,
        CloseCode::StallTowardServer,
        CloseCode::Idle,
        CloseCode::ConnectFailed,
        CloseCode::ClientError,
        CloseCode::ServerError,
        CloseCode::OutOfResources,
        CloseCode::InternalError,
        CloseCode::Shutdown,
        CloseCode::BadProxyHeader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseCode::BothEof => "both_eof",
            CloseCode::ClientReset => "client_reset",
            CloseCode::ServerReset => "server_reset",
            CloseCode::StallTowardClient => "stall_toward_client",
            CloseCode::StallTowardServer => "stall_toward_server",
            CloseCode::Idle => "idle",
            CloseCode::ConnectFailed => "connect_failed",
            CloseCode::ClientError => "client_error",
            CloseCode::ServerError => "server_error",
            CloseCode::OutOfResources => "out_of_resources",
            CloseCode::InternalError => "internal_error",
            CloseCode::Shutdown => "shutdown",
            CloseCode::BadProxyHeader => "bad_proxy_header",
        }
    }

    /// Its place in [`CloseCode::ALL`], for arrays of counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::BothEof => write!(f, "client EOF+server EOF"),
            CloseReason::Reset(side) => write!(f, "{side} reset"),
            CloseReason::Hang(Hang::StallToward(side)) => write!(f, "stall timeout toward {side}"),
            CloseReason::Hang(Hang::Idle) => write!(f, "idle timeout"),
            CloseReason::Failed(error) => error.fmt(f),
            CloseReason::Shutdown => write!(f, "shutdown"),
        }
    }
}

/// A pair's shutdown flag: empty while the pair runs, its close reason once it has ended.
#[derive(Debug, Default)]
pub struct Ending {
    reason: OnceLock<CloseReason>,
}

impl Ending {
    /// Record `reason` if the pair has not ended yet; `true` if this call ended it.
    pub fn record(&self, reason: CloseReason) -> bool {
        self.reason.set(reason).is_ok()
    }

    pub fn has_ended(&self) -> bool {
        self.reason.get().is_some()
    }

    pub fn reason(&self) -> Option<&CloseReason> {
        self.reason.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_and_broken_pipes_are_resets_the_rest_are_errors() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
        ] {
            let reason = CloseReason::from_io(Side::Server, Step::Relay, kind.into());
            assert_eq!(reason.to_string(), "server reset");
            assert!(!reason.is_warning());
        }
        let other = CloseReason::from_io(Side::Client, Step::Relay, io::Error::other("odd"));
        assert_eq!(other.to_string(), "client error (odd)");
        assert!(other.is_warning());
    }

    #[test]
    fn hang_reasons_name_the_rule_and_the_side() {
        let stall = CloseReason::Hang(Hang::StallToward(Side::Client));
        assert_eq!(stall.to_string(), "stall timeout toward client");
        assert_eq!(CloseReason::Hang(Hang::Idle).to_string(), "idle timeout");
        assert!(!stall.is_warning());
    }

    #[test]
    fn codes_are_listed_in_their_own_order_and_name_the_reason() {
        for (i, code) in CloseCode::ALL.iter().enumerate() {
            assert_eq!(code.index(), i, "{code}");
        }
        let stall = CloseReason::Hang(Hang::StallToward(Side::Server));
        assert_eq!(stall.code().as_str(), "stall_toward_server");
        let refused = CloseReason::Failed(RelayError::Connect(Default::default()));
        assert_eq!(refused.code(), CloseCode::ConnectFailed);
        let client = CloseReason::from_io(Side::Client, Step::Relay, io::Error::other("odd"));
        assert_eq!(client.code(), CloseCode::ClientError);
    }

    #[test]
    fn only_the_first_reason_counts() {
        let ending = Ending::default();
        assert!(!ending.has_ended());
        assert!(ending.record(CloseReason::Shutdown));
        assert!(!ending.record(CloseReason::BothEof));
        assert!(ending.has_ended());
        assert!(matches!(ending.reason(), Some(CloseReason::Shutdown)));
    }
}
