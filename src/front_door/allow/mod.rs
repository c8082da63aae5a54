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

use std::ffi::OsStr;
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

    /// Does `deny` list every address this list lets in, so that every client would be refused?
    /// The denied networks are merged first (`::/1` and `8000::/1` are `::/0`): a network is
    /// covered by several when it lies inside one of their merged blocks.
    pub fn all_listed_by(&self, deny: &AllowList) -> bool {
        if deny.networks.is_empty() {
            return false;
        }
        let denied = IpNet::aggregate(&deny.networks.iter().map(|net| net.0).collect());
        let everyone = [
            IpNet::V4(Ipv4Net::default()), // 0.0.0.0/0
            IpNet::V6(Ipv6Net::default()), // ::/0
        ];
        let let_in: Vec<IpNet> = match self.networks.is_empty() {
            true => everyone.to_vec(),
            false => self.networks.iter().map(|net| net.0).collect(),
        };
        let_in
            .iter()
            .all(|net| denied.iter().any(|block| block.contains(net)))
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

    /// As [`Cidr::parse`] with no option name: the comma hint says "repeat the option".
    fn from_str(text: &str) -> Result<Self, ArgError> {
        Cidr::parse(text, None)
    }
}

impl Cidr {
    /// Accepts `ADDR/LEN` or a bare `ADDR` (a single host, as HAProxy's `src` does). An
    /// IPv4-mapped network (`::ffff:10.0.0.0/104`) means its IPv4 network (`10.0.0.0/8`), since
    /// that is how the accept loop sees the clients it covers. Refuses, with the form probably
    /// meant: a list (`a,b`: repeat `--option`, the long name the value came from, if known),
    /// and an address with bits set past the prefix (`10.1.2.3/8`: the network 10.0.0.0/8?).
    pub fn parse(text: &str, option: Option<&str>) -> Result<Self, ArgError> {
        if text.contains(',') {
            return Err(ArgError::OneNetworkPerValue {
                option: option.map(str::to_owned),
                networks: text
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
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
        let bad_prefix = || bad_prefix(len_text, written, mapped.is_some());
        let as_written = match len_text {
            None => Some(IpNet::from(written)), // a bare address: one host
            Some(len) => len
                .parse()
                .ok()
                .and_then(|len| IpNet::new(written, len).ok()),
        }
        .ok_or_else(bad_prefix)?;
        let network = match mapped {
            None => as_written,
            Some(v4) => as_written
                .prefix_len()
                .checked_sub(MAPPED_IPV4_AT)
                .and_then(|v4_len| Ipv4Net::new(v4, v4_len).ok())
                .map(IpNet::V4)
                .ok_or_else(bad_prefix)?,
        };
        if as_written.trunc() != as_written {
            return Err(ArgError::HostBitsSet {
                text: text.to_string(),
                meant: as_written.trunc().to_string(), // as written: mapped stays mapped
            });
        }
        Ok(Cidr(network))
    }
}

/// A prefix length `/len_text` that `written` cannot take, with the lengths it can.
fn bad_prefix(len_text: Option<&str>, written: IpAddr, mapped: bool) -> ArgError {
    ArgError::BadPrefix {
        text: len_text.unwrap_or_default().to_string(),
        allowed: match (written, mapped) {
            (IpAddr::V4(_), _) => "0 to 32",
            (IpAddr::V6(_), false) => "0 to 128",
            (IpAddr::V6(_), true) => "96 to 128 for an IPv4-mapped address",
        },
    }
}

/// How clap reads a [`Cidr`] (the derive picks this up for `--allow` and `--deny`): as
/// `FromStr` would, but told which option the value came from, so the comma hint can say
/// "repeat --deny" instead of "repeat the option".
#[derive(Clone, Copy, Debug)]
pub struct CidrParser;

impl clap::builder::ValueParserFactory for Cidr {
    type Parser = CidrParser;

    fn value_parser() -> CidrParser {
        CidrParser
    }
}

impl clap::builder::TypedValueParser for CidrParser {
    type Value = Cidr;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Cidr, clap::Error> {
        let option = arg.and_then(clap::Arg::get_long).map(str::to_owned);
        // clap's own adapter for a fallible conversion: its error names the option and the value
        // ("invalid value 'x' for '--allow <CIDR>': ...") and ends in the usage, as for every other
        // bad value.
        clap::builder::StringValueParser::new()
            .try_map(move |text| Cidr::parse(&text, option.as_deref()))
            .parse_ref(cmd, arg, value)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests;
