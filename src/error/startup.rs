//! [`StartupError`]: why the proxy could not start (exit status 1).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::DumpError;

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
    /// `LISTEN_PID`/`LISTEN_FDS`/`LISTEN_FDNAMES` are set but make no sense.
    ActivationEnvironment(io::Error),
    /// systemd passed several sockets and none has the name we look for.
    NoInheritedSocketNamed {
        wanted: &'static str,
        names: Vec<String>,
    },
    NotATcpListener {
        fd: i32,
        name: String,
    },
    /// The command line names a listen port other than the inherited socket's.
    InheritedPortDiffers {
        inherited: SocketAddr,
        asked: u16,
    },
    /// `--bind` chooses an address, but under socket activation systemd has chosen it.
    BindWithInheritedSocket,
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
    Dump(DumpError),
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
            ActivationEnvironment(e) => {
                write!(f, "cannot use the sockets systemd passed (LISTEN_FDS): {e}")
            }
            NoInheritedSocketNamed { wanted, names } => write!(
                f,
                "systemd passed {} sockets ({}) and none is named '{wanted}'; set \
                 FileDescriptorName={wanted} on the one to relay",
                names.len(),
                names.join(", ")
            ),
            NotATcpListener { fd, name } => write!(
                f,
                "the socket systemd passed as descriptor {fd} ('{name}') is not a listening TCP \
                 socket; use ListenStream= in the .socket unit"
            ),
            InheritedPortDiffers { inherited, asked } => write!(
                f,
                "the command line asks for listen port {asked}, but systemd passed a socket \
                 listening on {inherited}; give listen port 0 (or {}) under socket activation",
                inherited.port()
            ),
            BindWithInheritedSocket => write!(
                f,
                "--bind cannot be used under socket activation: the .socket unit's ListenStream= \
                 decides where the proxy listens"
            ),
            RelaysToItself {
                destination,
                listening,
            } => write!(
                f,
                "the destination {destination} is this proxy itself (listening on {listening}): \
                 every client would be relayed to itself; give another destination or port"
            ),
            MaxConnections(b) => write!(
                f,
                "--max-connections {} needs {} {}, but the limit is {}; raise it ({}) or ask for \
                 at most {}",
                b.requested, b.needed, b.what, b.limit, b.raise_with, b.would_start
            ),
            ReserveBuffers {
                slots,
                slot_size,
                source: None,
            } => {
                write!(
                    f,
                    "cannot size a pool of {slots} buffers of {slot_size} bytes"
                )
            }
            ReserveBuffers {
                slots,
                slot_size,
                source: Some(e),
            } => write!(
                f,
                "cannot reserve {} MiB of address space for {slots} buffers: {e}",
                (slots * slot_size) >> 20
            ),
            LogFile { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
            Logger(e) => write!(f, "cannot set up logging: {e}"),
            Signal { what, source } => write!(f, "cannot {what}: {source}"),
            Thread { name, source } => write!(f, "cannot start the {name} thread: {source}"),
            Dump(e) => e.fmt(f),
        }
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
            | StartupError::Thread { source: e, .. } => Some(e),
            StartupError::Dump(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DumpError> for StartupError {
    fn from(e: DumpError) -> Self {
        StartupError::Dump(e)
    }
}
