//! A destination as the command line names it: HOST:PORT, the host a name or an IP literal. The
//! name is what the operator sees everywhere (the log, the metrics' `destination` label, the
//! tables), whatever it resolves to now. Nothing here blocks.

use std::fmt;
use std::net::IpAddr;

/// A destination as the command line named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// A host name or an IP literal, without brackets.
    pub host: String,
    pub port: u16,
}

impl Name {
    /// An IP literal resolves to itself, and is never re-resolved.
    pub fn is_literal(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port) // an IPv6 literal
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_literal_is_bracketed_and_only_literals_are_literal() {
        let name = |host: &str| Name {
            host: host.into(),
            port: 5432,
        };
        assert_eq!(name("::1").to_string(), "[::1]:5432");
        assert_eq!(name("db.internal").to_string(), "db.internal:5432");
        assert!(name("::1").is_literal() && name("10.0.0.7").is_literal());
        assert!(!name("db.internal").is_literal());
    }
}
