//! The errors that stop the proxy before it serves anyone, one type per concern:
//!
//! - [`ArgError`]: a value on the command line makes no sense (clap prints it with the usage line
//!   and exits 2);
//! - [`StartupError`]: the command line was fine, but the proxy cannot start (exit 1): a port in
//!   use, a name that does not resolve, a limit too small;
//! - [`DumpError`]: `--dump` cannot be set up.
//!
//! Errors that end a single pair while the proxy goes on are the relay's own
//! ([`crate::relay::RelayError`]). Every message names what failed, the address or path involved,
//! and why, so that one line on stderr is enough to act on. Nothing here blocks.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A command-line value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    EmptyHost,
    /// Not a number in `range` (`1-65535`, or `0-65535` where 0 means "any free port").
    NotAPort {
        text: String,
        range: &'static str,
    },
    /// Port 0 names no service: a destination needs a real one.
    DestinationPortZero,
    NotAProxyVersion(String),
    NotSeconds(String),
    NegativeSeconds(String),
    SecondsOutOfRange(String),
    NotAnAddress(String),
    /// A prefix length longer than the address, or (IPv4-mapped) shorter than its IPv4 part.
    BadPrefix {
        text: String,
        allowed: &'static str,
    },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::EmptyHost => write!(f, "the host must not be empty"),
            ArgError::NotAPort { text, range } => {
                write!(f, "'{text}' is not a port number: ports are {range}")
            }
            ArgError::DestinationPortZero => {
                write!(
                    f,
                    "the destination port must be 1-65535 (0 names no service)"
                )
            }
            ArgError::NotAProxyVersion(text) => {
                write!(f, "'{text}' is not a PROXY protocol version (v1, v2)")
            }
            ArgError::NotSeconds(text) => write!(f, "'{text}' is not a number of seconds"),
            ArgError::NegativeSeconds(text) => {
                write!(f, "'{text}' is negative; give 0 or more seconds")
            }
            ArgError::SecondsOutOfRange(text) => write!(f, "'{text}' seconds is out of range"),
            ArgError::NotAnAddress(text) => write!(f, "'{text}' is not an IPv4 or IPv6 address"),
            ArgError::BadPrefix { text, allowed } => {
                write!(f, "prefix length '/{text}' must be {allowed}")
            }
        }
    }
}

impl std::error::Error for ArgError {}

/// `--dump DIR` cannot be used.
#[derive(Debug)]
pub enum DumpError {
    CreateDirectory {
        path: PathBuf,
        source: io::Error,
    },
    ReadDirectory {
        path: PathBuf,
        source: io::Error,
    },
    /// The directory holds files of an earlier run, which this one would overwrite.
    NotEmpty {
        path: PathBuf,
        found: String,
    },
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::CreateDirectory { path, source } => {
                write!(
                    f,
                    "cannot create dump directory {}: {source}",
                    path.display()
                )
            }
            DumpError::ReadDirectory { path, source } => {
                write!(f, "cannot read dump directory {}: {source}", path.display())
            }
            DumpError::NotEmpty { path, found } => write!(
                f,
                "dump directory {} already holds a dump ({found}); give an empty or new directory",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DumpError {}

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
    ListeningAddress(io::Error),
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
    SignalHandler(ctrlc::Error),
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
            SignalHandler(e) => write!(f, "cannot install the SIGINT/SIGTERM handler: {e}"),
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
