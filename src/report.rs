//! What the log says about a pair when it ends, and about the proxy when it stops (SPEC §6).
//!
//! This module owns the words: why a pair closed ([`CloseReason`]), the one line per pair, and the
//! running totals behind the shutdown summary. Keeping the wording in one place means a grep for
//! `stall timeout toward client` finds both the code that decides it and the code that prints it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::direction::Side;
use crate::hang::Hang;

/// Why a pair ended. The first reason recorded wins; later ones are consequences of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent EOF and everything was delivered: the normal end.
    BothEof,
    /// The peer reset the connection, or vanished so that a write to it failed.
    Reset(Side),
    /// Any other socket error on that side.
    Error(Side, String),
    /// The hang rule fired.
    Hang(Hang),
    /// No destination address accepted the connection.
    ConnectFailed(String),
    /// The operating system would not give the pair a thread or memory; only this pair suffers.
    OutOfResources(String),
    /// The proxy was told to stop (SIGINT/SIGTERM).
    Shutdown,
}

impl CloseReason {
    /// Classify a socket error: resets and broken pipes say "the peer is gone"; the rest are errors.
    pub fn from_io(side: Side, err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => CloseReason::Reset(side),
            _ => CloseReason::Error(side, err.to_string()),
        }
    }

    /// Failures an operator should notice are warnings; everything else is routine.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            CloseReason::ConnectFailed(_) | CloseReason::OutOfResources(_) | CloseReason::Error(..)
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::BothEof => write!(f, "client EOF+server EOF"),
            CloseReason::Reset(side) => write!(f, "{side} reset"),
            CloseReason::Error(side, why) => write!(f, "{side} error ({why})"),
            CloseReason::Hang(Hang::StallToward(side)) => write!(f, "stall timeout toward {side}"),
            CloseReason::Hang(Hang::Idle) => write!(f, "idle timeout"),
            CloseReason::ConnectFailed(why) => write!(f, "connect failed ({why})"),
            CloseReason::OutOfResources(why) => write!(f, "out of resources ({why})"),
            CloseReason::Shutdown => write!(f, "shutdown"),
        }
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

/// A byte count for people: `512 B`, `1.2 KiB`, `5.3 MiB`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

/// Proxy-wide counters for the shutdown summary and the stats table, updated once per pair as it
/// ends (and once per refused client).
#[derive(Debug, Default)]
pub struct Totals {
    pairs_served: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    refused: AtomicU64,
    stalls_toward_client: AtomicU64,
    stalls_toward_server: AtomicU64,
    idle: AtomicU64,
}

impl Totals {
    pub fn add_pair(&self, bytes_up: u64, bytes_down: u64, reason: &CloseReason) {
        self.pairs_served.fetch_add(1, Ordering::Relaxed);
        self.bytes_up.fetch_add(bytes_up, Ordering::Relaxed);
        self.bytes_down.fetch_add(bytes_down, Ordering::Relaxed);
        let hang_counter = match reason {
            CloseReason::Hang(Hang::StallToward(Side::Client)) => &self.stalls_toward_client,
            CloseReason::Hang(Hang::StallToward(Side::Server)) => &self.stalls_toward_server,
            CloseReason::Hang(Hang::Idle) => &self.idle,
            _ => return,
        };
        hang_counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A client turned away by `--allow`.
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pairs_served(&self) -> u64 {
        self.pairs_served.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Bytes delivered by pairs that have ended: (client to server, server to client).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }

    /// Pairs cut by the hang rule: (stall toward client, stall toward server, idle).
    pub fn hangs(&self) -> (u64, u64, u64) {
        (
            self.stalls_toward_client.load(Ordering::Relaxed),
            self.stalls_toward_server.load(Ordering::Relaxed),
            self.idle.load(Ordering::Relaxed),
        )
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pairs served, up {}, down {}",
            self.pairs_served.load(Ordering::Relaxed),
            Bytes(self.bytes_up.load(Ordering::Relaxed)),
            Bytes(self.bytes_down.load(Ordering::Relaxed))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_the_spec() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1229).to_string(), "1.2 KiB");
        assert_eq!(Bytes(5_557_453).to_string(), "5.3 MiB");
    }

    #[test]
    fn close_line_matches_the_spec_example() {
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
    fn reasons_name_the_side() {
        let stall = CloseReason::Hang(Hang::StallToward(Side::Client));
        assert_eq!(stall.to_string(), "stall timeout toward client");
        let reset = CloseReason::from_io(Side::Server, &io::ErrorKind::ConnectionReset.into());
        assert_eq!(reset.to_string(), "server reset");
    }
}
