//! [`ActivationError`]: the listening socket systemd passed (`LISTEN_FDS`) will not do.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why an inherited listening socket cannot be used (exit status 1, as every start-up error).
#[derive(Debug)]
pub enum ActivationError {
    /// `LISTEN_PID`/`LISTEN_FDS`/`LISTEN_FDNAMES` are set but make no sense.
    Environment(io::Error),
    /// systemd passed several sockets and none has the name we look for.
    NoSocketNamed {
        wanted: &'static str,
        names: Vec<String>,
    },
    NotATcpListener {
        fd: i32,
        name: String,
    },
    /// The command line names a listen port other than the inherited socket's.
    PortDiffers {
        inherited: SocketAddr,
        asked: u16,
    },
    /// `--bind` chooses an address, but under socket activation systemd has chosen it.
    BindGiven,
    /// `--metrics` names a port other than the inherited `metrics` socket's.
    MetricsPortDiffers {
        inherited: SocketAddr,
        asked: SocketAddr,
    },
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ActivationError::*;
        match self {
            Environment(e) => {
                write!(f, "cannot use the sockets passed in LISTEN_FDS (by systemd or a previous tcpproxy): {e}")
            }
            NoSocketNamed { wanted, names } => write!(
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
            PortDiffers { inherited, asked } => write!(
                f,
                "the command line asks for listen port {asked}, but systemd passed a socket \
                 listening on {inherited}; give listen port 0 (or {}) under socket activation",
                inherited.port()
            ),
            BindGiven => write!(
                f,
                "--bind cannot be used under socket activation: the .socket unit's ListenStream= \
                 decides where the proxy listens"
            ),
            MetricsPortDiffers { inherited, asked } => write!(
                f,
                "--metrics asks for {asked}, but the socket passed as 'metrics' listens on \
                 {inherited}; give port 0 (or {}) with an inherited metrics socket",
                inherited.port()
            ),
        }
    }
}

impl std::error::Error for ActivationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ActivationError::Environment(e) => Some(e),
            _ => None,
        }
    }
}
