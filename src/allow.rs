//! Access control: the `--allow CIDR` list.
//!
//! A proxy on the network edge is an open door unless it checks who knocks. This module owns the
//! parsing of `10.0.0.0/8`-style networks and the one question the accept loop asks of them: may this
//! client address come in? It is pure computation: nothing here blocks.
//!
//! An empty list means "everyone", as in SPEC §1. A client that reaches an IPv6 socket from IPv4
//! arrives as an IPv4-mapped address (`::ffff:192.0.2.7`); it is matched against the IPv4 rules,
//! because that is the address the operator wrote down.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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

    pub fn permits(&self, addr: IpAddr) -> bool {
        self.networks.is_empty() || self.networks.iter().any(|net| net.contains(addr))
    }
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
    type Err = String;

    /// Accepts `ADDR/LEN` or a bare `ADDR` (a single host, as HAProxy's `src` does).
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let network = addr_text
            .parse::<IpAddr>()
            .map_err(|_| format!("'{addr_text}' is not an IPv4 or IPv6 address"))?
            .to_canonical();
        let max_len = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len_text {
            None => max_len,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max_len => n,
                _ => return Err(format!("prefix length '/{l}' must be 0 to {max_len}")),
            },
        };
        Ok(Cidr {
            network,
            prefix_len,
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
    fn bad_networks_are_refused_with_a_reason() {
        assert!("10.0.0.0/33"
            .parse::<Cidr>()
            .unwrap_err()
            .contains("0 to 32"));
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("ten/8".parse::<Cidr>().is_err());
        assert!("10.0.0.0/".parse::<Cidr>().is_err());
    }
}
