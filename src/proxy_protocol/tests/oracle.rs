//! The oracle: a verdict on a whole buffer, written straight from the specification's text and
//! separately from the parser. v1 lines are split on spaces and must print back exactly as they
//! came (which is what "canonical form, no leading zeros" means for IPv4 and ports); v2 is read at
//! fixed offsets. The parser applies the same rules incrementally; where the two disagree, one of
//! them is wrong.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::proxy_protocol::header::{Endpoints, HeaderError, Parsed};
use crate::proxy_protocol::V2_SIGNATURE;

/// The oracle's verdict on a whole buffer.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    NeedMore,
    Refuse,
    Accept(Option<Endpoints>, usize),
}

pub fn oracle(data: &[u8]) -> Verdict {
    let sig = V2_SIGNATURE;
    let n = data.len().min(12);
    if data.first() == Some(&b'\r') && data[..n] == sig[..n] {
        return oracle_v2(data);
    }
    let n = data.len().min(6);
    if !data.is_empty() && data[..n] == b"PROXY "[..n] {
        return oracle_v1(data);
    }
    if data.is_empty() {
        Verdict::NeedMore
    } else {
        Verdict::Refuse
    }
}

fn oracle_v1(data: &[u8]) -> Verdict {
    let Some(end) = data.iter().take(107).position(|&b| b == b'\n') else {
        return if data.len() < 107 {
            Verdict::NeedMore
        } else {
            Verdict::Refuse
        };
    };
    let line = &data[..=end];
    if line.starts_with(b"PROXY UNKNOWN\r\n") && end == 14
        || line.starts_with(b"PROXY UNKNOWN ") && line.ends_with(b"\r\n")
    {
        return Verdict::Accept(None, end + 1);
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Verdict::Refuse;
    };
    let words: Vec<&str> = text.split(' ').collect();
    let accepted = match words.as_slice() {
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |t: &str| -> Option<IpAddr> {
                if *family == "TCP4" {
                    let v4: Ipv4Addr = t.parse().ok()?;
                    (v4.to_string() == t).then_some(IpAddr::V4(v4))
                } else {
                    t.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
                }
            };
            let port = |t: &str| -> Option<u16> {
                let p: u16 = t.parse().ok()?;
                (p.to_string() == t).then_some(p)
            };
            let dport = dport.strip_suffix("\r\n");
            (|| {
                Some(Endpoints {
                    client: SocketAddr::new(ip(src)?, port(sport)?),
                    destination: SocketAddr::new(ip(dst)?, port(dport?)?),
                })
            })()
        }
        _ => None,
    };
    match accepted {
        Some(endpoints) => Verdict::Accept(Some(endpoints), end + 1),
        None => Verdict::Refuse,
    }
}

fn oracle_v2(data: &[u8]) -> Verdict {
    if data.len() < 12 {
        return Verdict::NeedMore;
    }
    if let Some(&vc) = data.get(12) {
        if vc != 0x20 && vc != 0x21 {
            return Verdict::Refuse;
        }
        if let Some(&fam) = data.get(13) {
            let known = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32];
            if vc == 0x21 && !known.contains(&fam) {
                return Verdict::Refuse;
            }
        }
    }
    if data.len() < 16 {
        return Verdict::NeedMore;
    }
    let len = u16::from_be_bytes([data[14], data[15]]) as usize;
    if len > 2048 {
        return Verdict::Refuse;
    }
    if data.len() < 16 + len {
        return Verdict::NeedMore;
    }
    let body = &data[16..16 + len];
    let addr_len = match (data[12], data[13]) {
        (0x21, 0x11) => 12,
        (0x21, 0x21) => 36,
        _ => return Verdict::Accept(None, 16 + len),
    };
    if len < addr_len {
        return Verdict::Refuse;
    }
    // TLVs: walk by offsets; each must fit, and together they must end exactly at `len`.
    let mut at = addr_len;
    while at < len {
        if at + 3 > len {
            return Verdict::Refuse;
        }
        at += 3 + u16::from_be_bytes([body[at + 1], body[at + 2]]) as usize;
    }
    if at != len {
        return Verdict::Refuse;
    }
    let half = (addr_len - 4) / 2;
    let ip = |b: &[u8]| -> IpAddr {
        match b.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap()),
            _ => IpAddr::from(<[u8; 16]>::try_from(b).unwrap()),
        }
    };
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    Verdict::Accept(
        Some(Endpoints {
            client: SocketAddr::new(ip(&body[..half]), port(2 * half)),
            destination: SocketAddr::new(ip(&body[half..2 * half]), port(2 * half + 2)),
        }),
        16 + len,
    )
}

pub fn verdict(result: &Result<Parsed, HeaderError>) -> Verdict {
    match result {
        Ok(Parsed::Incomplete { .. }) => Verdict::NeedMore,
        Ok(Parsed::Done { header, consumed }) => Verdict::Accept(header.endpoints, *consumed),
        Err(_) => Verdict::Refuse,
    }
}
