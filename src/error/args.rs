//! [`ArgError`]: a command-line value that cannot be used.

use std::fmt;

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
    NotALogFormat(String),
    NotSeconds(String),
    NegativeSeconds(String),
    SecondsOutOfRange(String),
    NotAnAddress(String),
    /// `--metrics` wants `IP:PORT` (or `localhost:PORT`).
    NotAMetricsAddress(String),
    /// `--destination` wants HOST:PORT; `why` says what is wrong with `text`.
    NotHostPort {
        text: String,
        why: &'static str,
    },
    NotABalance(String),
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
            ArgError::NotALogFormat(text) => {
                write!(f, "'{text}' is not a log format (text, json)")
            }
            ArgError::NotSeconds(text) => write!(f, "'{text}' is not a number of seconds"),
            ArgError::NegativeSeconds(text) => {
                write!(f, "'{text}' is negative; give 0 or more seconds")
            }
            ArgError::SecondsOutOfRange(text) => write!(f, "'{text}' seconds is out of range"),
            ArgError::NotAnAddress(text) => write!(f, "'{text}' is not an IPv4 or IPv6 address"),
            ArgError::NotAMetricsAddress(text) => write!(
                f,
                "'{text}' is not IP:PORT (127.0.0.1:9100, [::1]:9100 or localhost:9100)"
            ),
            ArgError::NotHostPort { text, why } => write!(
                f,
                "'{text}' is not HOST:PORT ({why}); for example db.internal:5432, \
                 10.0.0.7:5432 or [::1]:5432"
            ),
            ArgError::NotABalance(text) => write!(
                f,
                "'{text}' is not a balance (first, round-robin, least-conn)"
            ),
            ArgError::BadPrefix { text, allowed } => {
                write!(f, "prefix length '/{text}' must be {allowed}")
            }
        }
    }
}

impl std::error::Error for ArgError {}
