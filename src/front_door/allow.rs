//! Access control: the `--allow CIDR` list.
//!
//! A proxy on the network edge is an open door unless it checks who knocks. This module owns the
//! parsing of `10.0.0.0/8`-style networks and the one question the accept loop asks of them: may this
//! client address come in? It is pure computation: nothing here blocks.
//!
//! An empty list means "everyone". A client that reaches an IPv6 socket from IPv4
//! arrives as an IPv4-mapped address (`::ffff:192.0.2.7`); it is matched against the IPv4 rules,
//! because that is the address the operator wrote down.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::error::ArgError;

/// One network, such as `192.168.0.0/16` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Does `addr` lie inside this network?
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => prefix_matches(
                u32::from(net).into(),
                u32::from(a).into(),
                32,
                self.prefix_len,
            ),
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_matches(u128::from(net), u128::from(a), 128, self.prefix_len)
            }
            _ => false,
        }
    }
}

/// The access list: empty means everyone may connect.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    networks: Vec<Cidr>,
}

impl AllowList {
    pub fn new(networks: Vec<Cidr>) -> Self {
        AllowList { networks }
    }

    /// Is `addr` let in? An empty list lets everyone in (`--allow` not given).
    pub fn permits(&self, addr: IpAddr) -> bool {
        self.networks.is_empty() || self.lists(addr)
    }

    /// Is `addr` in one of the networks? An empty list lists no one (`--deny` not given).
    pub fn lists(&self, addr: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(addr))
    }
}

/// The /64 an IPv6 address lies in: the block one host or site usually holds, so the door
/// counts (`--max-per-client`) and groups (the refusal log) IPv6 clients by it.
pub fn slash_64(v6: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))
}

/// Compare the top `prefix_len` bits of two `width`-bit numbers.
fn prefix_matches(net: u128, addr: u128, width: u8, prefix_len: u8) -> bool {
    if prefix_len == 0 {
        return true; // a shift by the full width would overflow
    }
    let ignored_bits = u32::from(width - prefix_len);
    (net >> ignored_bits) == (addr >> ignored_bits)
}

impl FromStr for Cidr {
    type Err = ArgError;

    /// Accepts `ADDR/LEN` or a bare `ADDR` (a single host, as HAProxy's `src` does). An
    /// IPv4-mapped network (`::ffff:10.0.0.0/104`) means its IPv4 network (`10.0.0.0/8`), since
    /// that is how the accept loop sees the clients it covers.
    fn from_str(text: &str) -> Result<Self, ArgError> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let written = addr_text
            .parse::<IpAddr>()
            .map_err(|_| ArgError::NotAnAddress(addr_text.to_string()))?;
        let network = written.to_canonical();
        let mapped = network.is_ipv4() && written.is_ipv6();
        let (width, allowed) = match (written, mapped) {
            (IpAddr::V4(_), _) => (32, "0 to 32"),
            (IpAddr::V6(_), false) => (128, "0 to 128"),
            (IpAddr::V6(_), true) => (128, "96 to 128 for an IPv4-mapped address"),
        };
        let bad_prefix = |l: &str| ArgError::BadPrefix {
            text: l.to_string(),
            allowed,
        };
        let written_len = match len_text {
            None => width,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= width && (!mapped || n >= 96) => n,
                _ => return Err(bad_prefix(l)),
            },
        };
        Ok(Cidr {
            network,
            prefix_len: if mapped {
                written_len - 96
            } else {
                written_len
            },
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permits(rules: &[&str], addr: &str) -> bool {
        let nets = rules.iter().map(|r| r.parse().unwrap()).collect();
        AllowList::new(nets).permits(addr.parse().unwrap())
    }

    #[test]
    fn empty_list_permits_everyone() {
        assert!(permits(&[], "203.0.113.9"));
    }

    #[test]
    fn ipv4_prefix_matches_only_inside() {
        assert!(permits(&["10.0.0.0/8"], "10.200.3.4"));
        assert!(!permits(&["10.0.0.0/8"], "11.0.0.1"));
        assert!(permits(&["0.0.0.0/0"], "8.8.8.8"));
        assert!(permits(&["127.0.0.1"], "127.0.0.1"));
        assert!(!permits(&["127.0.0.1"], "127.0.0.2"));
    }

    #[test]
    fn mapped_ipv6_client_matches_ipv4_rule() {
        assert!(permits(&["127.0.0.0/8"], "::ffff:127.0.0.1"));
        assert!(!permits(&["::1/128"], "127.0.0.1"));
    }

    #[test]
    fn ipv6_prefix() {
        assert!(permits(&["fd00::/8"], "fd12::1"));
        assert!(!permits(&["fd00::/8"], "fe80::1"));
    }

    #[test]
    fn mapped_ipv6_rule_means_its_ipv4_network() {
        assert!(permits(&["::ffff:127.0.0.1/128"], "127.0.0.1"));
        assert!(!permits(&["::ffff:127.0.0.1/128"], "127.0.0.2"));
        assert!(permits(&["::ffff:127.0.0.0/120"], "127.0.0.2"));
        assert!(permits(&["::ffff:127.0.0.0/120"], "::ffff:127.0.0.9"));
        assert!(permits(&["::ffff:0.0.0.0/96"], "8.8.8.8"));
        assert_eq!(
            "::ffff:10.0.0.0/104".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            "::ffff:10.1.2.3".parse::<Cidr>().unwrap().to_string(),
            "10.1.2.3/32"
        );
        let short = "::ffff:0:0/95".parse::<Cidr>().unwrap_err().to_string();
        assert!(short.contains("96 to 128"), "{short}");
    }

    #[test]
    fn prefix_bits_beyond_the_length_are_ignored() {
        assert!(permits(&["10.1.2.3/8"], "10.200.0.1"));
        assert!(permits(&["10.0.0.0/31"], "10.0.0.1"));
        assert!(!permits(&["10.0.0.0/31"], "10.0.0.2"));
        assert!(permits(&["fd00::/127"], "fd00::1"));
        assert!(!permits(&["fd00::/127"], "fd00::2"));
        assert!(permits(&["::/0"], "2001:db8::1"));
        assert!(
            !permits(&["::/0"], "10.0.0.1"),
            "an IPv6 rule never covers IPv4"
        );
    }

    #[test]
    fn bad_networks_are_refused_with_a_reason() {
        assert!("10.0.0.0/33"
            .parse::<Cidr>()
            .unwrap_err()
            .to_string()
            .contains("0 to 32"));
        assert!("::/129"
            .parse::<Cidr>()
            .unwrap_err()
            .to_string()
            .contains("0 to 128"));
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("ten/8".parse::<Cidr>().is_err());
        assert!("10.0.0.0/".parse::<Cidr>().is_err());
    }
}
