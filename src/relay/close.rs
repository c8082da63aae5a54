//! Why a pair ended, the flag that records it, and the pair's one closing line.
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
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::relay::direction::Side;
use crate::relay::error::{RelayError, Step};
use crate::relay::hang::Hang;
use crate::units::Bytes;

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

/// The facts of one finished pair, as its log line prints them.
pub struct PairReport<'a> {
    pub id: u64,
    pub client: SocketAddr,
    /// The destination address connected to, or the name asked for if none answered.
    pub server: String,
    pub reason: &'a CloseReason,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration: Duration,
}

impl fmt::Display for PairReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pair {} {} -> {} closed: {}, up {}, down {}, {:.2} s",
            self.id,
            self.client,
            self.server,
            self.reason,
            Bytes(self.bytes_up),
            Bytes(self.bytes_down),
            self.duration.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_line_reads_as_documented() {
        let line = PairReport {
            id: 17,
            client: "198.51.100.7:50312".parse().unwrap(),
            server: "127.0.0.1:80".into(),
            reason: &CloseReason::BothEof,
            bytes_up: 1229,
            bytes_down: 5_557_453,
            duration: Duration::from_millis(2410),
        }
        .to_string();
        assert_eq!(
            line,
            "pair 17 198.51.100.7:50312 -> 127.0.0.1:80 closed: \
             client EOF+server EOF, up 1.2 KiB, down 5.3 MiB, 2.41 s"
        );
    }

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
    fn only_the_first_reason_counts() {
        let ending = Ending::default();
        assert!(!ending.has_ended());
        assert!(ending.record(CloseReason::Shutdown));
        assert!(!ending.record(CloseReason::BothEof));
        assert!(ending.has_ended());
        assert!(matches!(ending.reason(), Some(CloseReason::Shutdown)));
    }
}
