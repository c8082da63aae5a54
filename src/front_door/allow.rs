//! Access control: the `--allow CIDR` list.
//!
//! A proxy on the network edge is an open door unless it checks who knocks. This module owns the
//! parsing of `10.0.0.0/8`-style networks and the one question the accept loop asks of them: may this
//! client address come in? It is pure computation: nothing here blocks. The prefix arithmetic
//! (masks, the network a prefix truncates to, which family covers which) is the `ipnet` crate's;
//! what is ours is what an operator may write and what a mistake is told.
//!
//! An empty list means "everyone". A client that reaches an IPv6 socket from IPv4
//! arrives as an IPv4-mapped address (`::ffff:192.0.2.7`); it is matched against the IPv4 rules,
//! because that is the address the operator wrote down.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::ArgError;

/// One network, such as `192.168.0.0/16` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Does `addr` lie inside this network? An IPv4 client of the dual-stack socket is matched
    /// as the IPv4 address it is; an IPv6 network never covers an IPv4 client, nor the reverse.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr.to_canonical())
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
    Ipv6Net::new_assert(v6, 64).network() // 64 <= 128: the assert cannot fire
}

/// The first of the 128 bits at which an IPv4-mapped address (`::ffff:a.b.c.d`) has its IPv4
/// part: `::ffff:a.b.c.d/N` is the IPv4 network `a.b.c.d/(N - 96)`.
const MAPPED_IPV4_AT: u8 = 96;

impl FromStr for Cidr {
    type Err = ArgError;

    /// Accepts `ADDR/LEN` or a bare `ADDR` (a single host, as HAProxy's `src` does). An
    /// IPv4-mapped network (`::ffff:10.0.0.0/104`) means its IPv4 network (`10.0.0.0/8`), since
    /// that is how the accept loop sees the clients it covers.
    fn from_str(text: &str) -> Result<Self, ArgError> {
        let (addr_text, len_text) = text
            .split_once('/')
            .map_or((text, None), |(addr, len)| (addr, Some(len)));
        let written = addr_text
            .parse::<IpAddr>()
            .map_err(|_| ArgError::NotAnAddress(addr_text.to_string()))?;
        let mapped = match written {
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
            IpAddr::V4(_) => None,
        };
        let len = match len_text {
            None => Some(IpNet::from(written).max_prefix_len()), // a bare address: one host
            Some(len) => len.parse::<u8>().ok(),
        };
        let network = len.and_then(|len| match mapped {
            None => IpNet::new(written, len).ok(),
            Some(v4) => len
                .checked_sub(MAPPED_IPV4_AT)
                .and_then(|v4_len| Ipv4Net::new(v4, v4_len).ok())
                .map(IpNet::V4),
        });
        let network = network.ok_or_else(|| ArgError::BadPrefix {
            text: len_text.unwrap_or_default().to_string(),
            allowed: match (written, mapped) {
                (IpAddr::V4(_), _) => "0 to 32",
                (IpAddr::V6(_), None) => "0 to 128",
                (IpAddr::V6(_), Some(_)) => "96 to 128 for an IPv4-mapped address",
            },
        })?;
        Ok(Cidr(network.trunc()))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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
