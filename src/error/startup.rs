//! [`StartupError`]: why the proxy could not start (exit status 1).

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::{ActivationError, DumpError};

/// One of the budgets a pair draws on (descriptors, memory mappings), too small for the
/// `--max-connections` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetTooSmall {
    pub requested: u64,
    /// What runs out, as the message says it: "open files", "memory mappings (...)".
    pub what: &'static str,
    pub needed: u64,
    pub limit: u64,
    /// How the operator raises the limit.
    pub raise_with: &'static str,
    /// The largest `--max-connections` that every budget allows: a value that would start.
    pub would_start: u64,
}

/// Why the proxy could not start.
#[derive(Debug)]
pub enum StartupError {
    /// A host name (`what` is "destination" or "--bind address") did not resolve, or resolved to
    /// nothing (`source` is then `None`).
    Resolve {
        what: &'static str,
        host: String,
        source: Option<io::Error>,
    },
    Listen {
        address: SocketAddr,
        source: io::Error,
    },
    /// The sockets systemd passed (or a previous tcpproxy handed over) will not do.
    Activation(ActivationError),
    ListeningAddress(io::Error),
    /// `--metrics`' address cannot be bound (in use, not ours, not allowed).
    Metrics {
        address: SocketAddr,
        source: io::Error,
    },
    /// The destination is this proxy's own listening socket: every pair would connect to itself.
    RelaysToItself {
        destination: SocketAddr,
        listening: SocketAddr,
    },
    MaxConnections(BudgetTooSmall),
    ReserveBuffers {
        slots: usize,
        slot_size: usize,
        source: Option<nix::errno::Errno>,
    },
    LogFile {
        path: PathBuf,
        source: io::Error,
    },
    /// The log file opened, but the first line did not go in (`/dev/full`, a full disk).
    LogWrite {
        path: PathBuf,
        source: io::Error,
    },
    Logger(log::SetLoggerError),
    /// A signal could not be routed where it belongs (`what` says which and how).
    Signal {
        what: &'static str,
        source: nix::errno::Errno,
    },
    Thread {
        name: &'static str,
        source: io::Error,
    },
    /// ctrlc could not install its SIGINT handler or start its thread.
    CtrlC(ctrlc::Error),
    Dump(DumpError),
    /// `--source` is not an address of this host (or cannot be bound).
    Source {
        source: IpAddr,
        error: io::Error,
    },
    /// `--source` is IPv4 and the destination only IPv6, or the other way round.
    SourceFamily {
        source: IpAddr,
        destination: String,
    },
    /// More destinations than a pair can keep track of.
    TooManyDestinations {
        given: usize,
        most: usize,
    },
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StartupError::*;
        match self {
            Resolve {
                what,
                host,
                source: Some(e),
            } => write!(f, "cannot resolve {what} '{host}': {e}"),
            Resolve {
                what,
                host,
                source: None,
            } => write!(f, "{what} '{host}' has no addresses"),
            Listen { address, source } => write!(f, "cannot listen on {address}: {source}"),
            ListeningAddress(e) => write!(f, "cannot read the listening address: {e}"),
            Metrics { address, source } => {
                write!(f, "cannot serve --metrics on {address}: {source}")
            }
            Activation(e) => e.fmt(f),
            RelaysToItself {
                destination,
                listening,
            } => write!(
                f,
                "the destination {destination} is this proxy itself (listening on {listening}): \
                 every client would be relayed to itself; give another destination or port"
            ),
            MaxConnections(budget) => budget.fmt(f),
            ReserveBuffers {
                slots,
                slot_size,
                source,
            } => reserve_buffers(f, *slots, *slot_size, source.as_ref()),
            LogFile { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
            LogWrite { path, source } => {
                write!(f, "cannot write the log file {}: {source}", path.display())
            }
            Logger(e) => write!(f, "cannot set up logging: {e}"),
            Signal { what, source } => write!(f, "cannot {what}: {source}"),
            Thread { name, source } => write!(f, "cannot start the {name} thread: {source}"),
            CtrlC(e) => write!(f, "cannot catch SIGINT (ctrlc): {e}"),
            Dump(e) => e.fmt(f),
            Source { source, error } => write!(
                f,
                "cannot use --source {source}: {error} (is it an address of this host?)"
            ),
            SourceFamily {
                source,
                destination,
            } => write!(
                f,
                "--source {source} and the destination {destination} have no address family in \
                 common"
            ),
            TooManyDestinations { given, most } => {
                write!(f, "{given} destinations given; at most {most} are allowed")
            }
        }
    }
}

impl fmt::Display for BudgetTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--max-connections {} needs {} {}, but the limit is {}; raise it ({}) or ask for at \
             most {}",
            self.requested, self.needed, self.what, self.limit, self.raise_with, self.would_start
        )
    }
}

/// The buffer pool could not be sized (`source` is `None`: the size overflows) or reserved.
fn reserve_buffers(
    f: &mut fmt::Formatter<'_>,
    slots: usize,
    slot_size: usize,
    source: Option<&nix::errno::Errno>,
) -> fmt::Result {
    match source {
        None => write!(
            f,
            "cannot size a pool of {slots} buffers of {slot_size} bytes"
        ),
        Some(e) => write!(
            f,
            "cannot reserve {} MiB of address space for {slots} buffers: {e}",
            (slots * slot_size) >> 20
        ),
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartupError::Resolve {
                source: Some(e), ..
            }
            | StartupError::Listen { source: e, .. }
            | StartupError::Metrics { source: e, .. }
            | StartupError::ListeningAddress(e)
            | StartupError::LogFile { source: e, .. }
            | StartupError::LogWrite { source: e, .. }
            | StartupError::Thread { source: e, .. }
            | StartupError::Source { error: e, .. } => Some(e),
            StartupError::Dump(e) => Some(e),
            StartupError::Activation(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ActivationError> for StartupError {
    fn from(e: ActivationError) -> Self {
        StartupError::Activation(e)
    }
}

impl From<DumpError> for StartupError {
    fn from(e: DumpError) -> Self {
        StartupError::Dump(e)
    }
}
