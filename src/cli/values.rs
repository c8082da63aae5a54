//! Turning each command-line value into its type, or into an [`ArgError`] that says what is
//! wrong and, where a mistake looks like another form, the form it was probably meant as.
//!
//! clap calls these as it reads the command line; nothing here blocks.

use std::time::Duration;

use crate::cli::MIN_STATS_INTERVAL;
use crate::error::{ArgError, DurationError};
use crate::events::LogFormat;
use crate::proxy_protocol::Version;
use crate::relay::upstream::keepalive;
use crate::units;

/// The destination host. `127.0.0.1:5432` is the usual mistake (the form other tools take):
/// say to give the host and the port as two arguments, rather than let clap report a missing
/// listen port (or a port 0 that names no service) further on.
pub fn host(text: &str) -> Result<String, ArgError> {
    if let Some((host, port)) = host_and_port(text) {
        return Err(ArgError::HostWithPort {
            text: text.to_string(),
            host,
            port,
        });
    }
    bare_host(text)
}

/// `--bind` takes an address alone: the port is the listen-port argument.
pub fn bind_address(text: &str) -> Result<String, ArgError> {
    if let Some((host, _)) = host_and_port(text) {
        return Err(ArgError::BindWithPort {
            text: text.to_string(),
            host,
        });
    }
    bare_host(text)
}

/// `host:port`, `1.2.3.4:port` or `[::1]:port`, split; `None` for anything else, such as a bare
/// IPv6 address (`::1` has colons but no port).
pub fn host_and_port(text: &str) -> Option<(String, u16)> {
    if let Ok(address) = text.parse::<std::net::SocketAddr>() {
        return Some((address.ip().to_string(), address.port()));
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    (!host.is_empty() && !host.contains(':')).then(|| (host.to_string(), port))
}

pub fn bare_host(text: &str) -> Result<String, ArgError> {
    // `[::1]` is how people write an IPv6 host next to a port; the resolver wants it bare.
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.is_empty() {
        return Err(ArgError::EmptyHost);
    }
    Ok(bare.to_string())
}

pub fn destination_port(text: &str) -> Result<u16, ArgError> {
    match text.parse::<u16>() {
        Ok(0) => Err(ArgError::DestinationPortZero),
        Ok(port) => Ok(port),
        Err(_) => Err(ArgError::NotAPort {
            text: text.to_string(),
            range: "1-65535",
        }),
    }
}

pub fn listen_port(text: &str) -> Result<u16, ArgError> {
    text.parse::<u16>().map_err(|_| ArgError::NotAPort {
        text: text.to_string(),
        range: "1-65535, or 0 for any free port",
    })
}

// The possible values come first so that `--help` and the shell completions list them; these
// then turn the value that passed into our own type.
pub fn log_format(text: String) -> Result<LogFormat, ArgError> {
    match text.as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ArgError::NotALogFormat(text)),
    }
}

pub fn proxy_version(text: String) -> Result<Version, ArgError> {
    Version::parse(&text).ok_or(ArgError::NotAProxyVersion(text))
}

/// Every SECS option: bare seconds (`10`, `0.5`) or a number with a unit (`500ms`, `2m`, `1h`).
pub fn seconds(text: &str) -> Result<Duration, ArgError> {
    Ok(units::parse_duration(text)?)
}

/// `--stats-interval`: 0 (only on SIGUSR1) or at least [`MIN_STATS_INTERVAL`].
pub fn stats_interval(text: &str) -> Result<Duration, ArgError> {
    let every = seconds(text)?;
    if !every.is_zero() && every < MIN_STATS_INTERVAL {
        let too_often = DurationError::TooOften {
            text: text.to_string(),
            floor: MIN_STATS_INTERVAL,
        };
        return Err(too_often.into());
    }
    Ok(every)
}

/// `--keepalive`: whole seconds, 1 to [`keepalive::MAX_SECS`] (the kernel counts whole seconds),
/// with a unit or without (`60`, `1m`).
pub fn keepalive_seconds(text: &str) -> Result<u32, ArgError> {
    let within = seconds(text)?;
    u32::try_from(within.as_secs())
        .ok()
        .filter(|secs| within.subsec_nanos() == 0 && (1..=keepalive::MAX_SECS).contains(secs))
        .ok_or_else(|| {
            let range = "1-32767";
            DurationError::NotWholeSeconds {
                text: text.to_string(),
                range,
            }
            .into()
        })
}
