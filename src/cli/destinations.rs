//! The command line's options for several destinations: `--destination HOST:PORT` (repeatable),
//! `--balance`, passive health (`--max-fails`, `--fail-timeout`), `--check-interval` and
//! `--resolve-interval`; and the parser for HOST:PORT, which shows the right form when it is
//! given another.

use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::error::{ArgError, StartupError};
use crate::relay::upstream::balance::{Balance, MAX_DESTINATIONS};
use crate::relay::upstream::health::HealthRule;
use crate::relay::upstream::pool::Health;
use crate::relay::upstream::Name;

/// nginx's `max_fails` default: one failed connect is enough to try another destination first.
pub const DEFAULT_MAX_FAILS: &str = "1";

/// nginx's `fail_timeout` default is 10 s, the same as the lab's hang timeout.
pub const DEFAULT_FAIL_TIMEOUT_SECS: &str = "10";

/// A moved DNS record (a database failover) is followed within half a minute: the TTL such
/// records are usually given, and one `getaddrinfo` a name every 30 s costs nothing.
pub const DEFAULT_RESOLVE_INTERVAL_SECS: &str = "30";

/// Where else clients may go, and how the proxy chooses and watches.
#[derive(Args, Debug)]
#[command(next_help_heading = "Several destinations")]
pub struct DestinationOptions {
    /// Another destination, after the positional one (repeatable): HOST:PORT, as db.internal:5432,
    /// 10.0.0.7:5432 or [::1]:5432. Each name must resolve at start
    #[arg(long = "destination", value_name = "HOST:PORT", value_parser = host_port)]
    pub destinations: Vec<Name>,

    /// How a pair picks among the destinations that are up: first (in order; the rest are
    /// standbys), round-robin (in turn), least-conn (the fewest live pairs, ties in order)
    #[arg(long, value_name = "RULE", default_value = "first",
          value_parser = PossibleValuesParser::new(["first", "round-robin", "least-conn"])
              .try_map(balance))]
    pub balance: Balance,

    /// This many failed connects in a row mark a destination down: it is skipped while another
    /// is up
    #[arg(long, value_name = "N", default_value = DEFAULT_MAX_FAILS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_fails: u32,

    /// How long a down destination is skipped before clients try it again (with
    /// --check-interval, the checks decide instead)
    #[arg(long, value_name = "SECS", default_value = DEFAULT_FAIL_TIMEOUT_SECS,
          value_parser = super::values::seconds, allow_negative_numbers = true)]
    pub fail_timeout: Duration,

    /// Also connect to every destination every SECS (each on its own thread, within
    /// --connect-timeout), marking it up or down (0 = off)
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = super::values::seconds,
          allow_negative_numbers = true)]
    pub check_interval: Duration,

    /// Resolve destination names again this often, on one resolver thread; a changed answer is
    /// used by the next pairs (0 = only at start; IP literals never)
    #[arg(long, value_name = "SECS", default_value = DEFAULT_RESOLVE_INTERVAL_SECS,
          value_parser = super::values::seconds, allow_negative_numbers = true)]
    pub resolve_interval: Duration,
}

impl DestinationOptions {
    /// How often to check, if at all.
    pub fn check_interval(&self) -> Option<Duration> {
        Some(self.check_interval).filter(|every| !every.is_zero())
    }

    /// What makes a destination down and up again, and whether names are re-resolved.
    pub fn health(&self) -> Health {
        Health {
            rule: HealthRule {
                max_fails: self.max_fails,
                fail_timeout: self.fail_timeout,
                checked: self.check_interval().is_some(),
            },
            moving: !self.resolve_interval.is_zero(),
        }
    }
}

/// `--destination`'s value: `name:port`, `1.2.3.4:port` or `[IPv6]:port`.
pub fn host_port(text: &str) -> Result<Name, ArgError> {
    let bad = |why| ArgError::NotHostPort {
        text: text.to_string(),
        why,
    };
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest
                .split_once(']')
                .ok_or(bad("no ']' after the IPv6 address"))?;
            let port = after
                .strip_prefix(':')
                .ok_or(bad("no :PORT after the ']'"))?;
            (host, port)
        }
        None => {
            let (host, port) = text.rsplit_once(':').ok_or(bad("no :PORT"))?;
            if host.contains(':') {
                return Err(bad("an IPv6 address goes in brackets, as [::1]:5432"));
            }
            (host, port)
        }
    };
    if host.is_empty() {
        return Err(bad("no host before the :PORT"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(bad("port 0 names no service: give 1-65535")),
        Ok(port) => Ok(Name {
            host: host.to_string(),
            port,
        }),
        Err(_) => Err(bad("the port must be a number, 1-65535")),
    }
}

/// The possible values come first, so that `--help` and the completions list them.
fn balance(text: String) -> Result<Balance, ArgError> {
    Balance::parse(&text).ok_or(ArgError::NotABalance(text))
}

/// Every destination, positional first; at most [`MAX_DESTINATIONS`].
pub fn all(first: Name, more: &[Name]) -> Result<Vec<Name>, StartupError> {
    let all: Vec<Name> = std::iter::once(first).chain(more.iter().cloned()).collect();
    if all.len() > MAX_DESTINATIONS {
        return Err(StartupError::TooManyDestinations {
            given: all.len(),
            most: MAX_DESTINATIONS,
        });
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<String, String> {
        host_port(text)
            .map(|n| format!("{}|{}", n.host, n.port))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_ipv4_and_bracketed_ipv6_with_a_port() {
        assert_eq!(
            parsed("db.internal:5432").as_deref(),
            Ok("db.internal|5432")
        );
        assert_eq!(parsed("10.0.0.7:1").as_deref(), Ok("10.0.0.7|1"));
        assert_eq!(parsed("[::1]:65535").as_deref(), Ok("::1|65535"));
    }

    #[test]
    fn every_wrong_form_is_refused_with_the_right_one() {
        for (text, says) in [
            ("db.internal", "no :PORT"),
            ("db:0", "port 0 names no service"),
            ("db:", "must be a number"),
            ("db:x", "must be a number"),
            ("db:70000", "must be a number"),
            (":5432", "no host"),
            ("::1:5432", "in brackets"),
            ("[::1]5432", "no :PORT after"),
            ("[::1:5432", "no ']'"),
        ] {
            let message = parsed(text).unwrap_err();
            assert!(message.contains(says), "{text}: {message}");
            assert!(message.contains("HOST:PORT"), "{text}: {message}");
        }
    }

    #[test]
    fn at_most_the_pool_s_limit() {
        let name = |port| Name {
            host: "h".into(),
            port,
        };
        let more: Vec<Name> = (1..MAX_DESTINATIONS as u16).map(name).collect();
        assert_eq!(all(name(9), &more).unwrap().len(), MAX_DESTINATIONS);
        let one_more: Vec<Name> = (1..=MAX_DESTINATIONS as u16).map(name).collect();
        assert!(all(name(9), &one_more).is_err());
    }
}
