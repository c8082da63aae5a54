//! [`ArgError`]: a command-line value that cannot be used.

use std::fmt;

/// A command-line value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    EmptyHost,
    /// The destination host given with its port, `127.0.0.1:5432`: two arguments were meant.
    HostWithPort {
        text: String,
        host: String,
        port: u16,
    },
    /// `--bind 127.0.0.1:5000`: the port is the listen-port argument.
    BindWithPort {
        text: String,
        host: String,
    },
    /// Not a number in `range` (`1-65535`, or `0-65535` where 0 means "any free port").
    NotAPort {
        text: String,
        range: &'static str,
    },
    /// Port 0 names no service: a destination needs a real one.
    DestinationPortZero,
    NotAProxyVersion(String),
    NotALogFormat(String),
    /// A SECS value that is not a duration, or not one this option takes.
    Duration(DurationError),
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
    /// Several networks in one value (`10.0.0.0/8,192.168.0.0/16`): the option takes one and is
    /// repeated. `option` is its long name (`allow`) where the parser was told it.
    OneNetworkPerValue {
        option: Option<String>,
        networks: Vec<String>,
    },
    /// An address inside a network written for the network (`10.1.2.3/8`); `meant` is the
    /// network the prefix truncates it to (`10.0.0.0/8`).
    HostBitsSet {
        text: String,
        meant: String,
    },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::EmptyHost => write!(f, "the host must not be empty"),
            ArgError::HostWithPort { text, host, port } => write!(
                f,
                "'{text}' is a host and a port: give them as two arguments: {host} {port}"
            ),
            ArgError::BindWithPort { text, host } => write!(
                f,
                "'{text}' has a port: --bind takes the address alone (--bind {host}); the port is \
                 the listen-port argument"
            ),
            ArgError::NotAPort { text, range } => {
                write!(f, "'{text}' is not a port number: ports are {range}")
            }
            ArgError::DestinationPortZero => {
                f.write_str("the destination port must be 1-65535 (0 names no service)")
            }
            ArgError::NotAProxyVersion(text) => {
                write!(f, "'{text}' is not a PROXY protocol version (v1, v2)")
            }
            ArgError::NotALogFormat(text) => {
                write!(f, "'{text}' is not a log format (text, json)")
            }
            ArgError::Duration(e) => e.fmt(f),
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
            ArgError::OneNetworkPerValue { option, networks } => {
                one_network_per_value(f, option.as_deref(), networks)
            }
            ArgError::HostBitsSet { text, meant } => {
                write!(f, "{text} has host bits set: did you mean {meant}?")
            }
        }
    }
}

/// `--allow a,b`: show the option repeated, once per network, when its name is known.
fn one_network_per_value(
    f: &mut fmt::Formatter<'_>,
    option: Option<&str>,
    networks: &[String],
) -> fmt::Result {
    match option {
        Some(option) => {
            let repeated: Vec<String> =
                networks.iter().map(|n| format!("--{option} {n}")).collect();
            write!(
                f,
                "one network per --{option}: repeat --{option} ({})",
                repeated.join(" ")
            )
        }
        None => write!(
            f,
            "one network per value: repeat the option, once for each of {}",
            networks.join(", ")
        ),
    }
}

impl std::error::Error for ArgError {}

/// A SECS value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Neither bare seconds nor a number with a known unit.
    NotADuration(String),
    Negative(String),
    OutOfRange(String),
    /// A duration that must be whole seconds in `range` (`--keepalive`).
    NotWholeSeconds {
        text: String,
        range: &'static str,
    },
    /// An interval below its floor (`--stats-interval`).
    TooOften {
        text: String,
        floor: std::time::Duration,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::NotADuration(text) => write!(
                f,
                "'{text}' is not a duration: give seconds (10, 0.5) or a number with a unit \
                 (500ms, 10s, 2m, 1h)"
            ),
            DurationError::Negative(text) => {
                write!(f, "'{text}' is negative; give 0 or more seconds")
            }
            DurationError::OutOfRange(text) => write!(f, "'{text}' seconds is out of range"),
            DurationError::NotWholeSeconds { text, range } => {
                write!(f, "'{text}' is not whole seconds in {range} (60, 1m, 2h)")
            }
            DurationError::TooOften { text, floor } => write!(
                f,
                "'{text}' is too often: give 0 (off) or at least {} s",
                floor.as_secs_f64()
            ),
        }
    }
}

impl From<DurationError> for ArgError {
    fn from(e: DurationError) -> Self {
        ArgError::Duration(e)
    }
}
