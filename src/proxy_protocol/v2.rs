//! PROXY protocol v2: binary. A fixed part of 16 bytes, then exactly as many bytes as it
//! announces:
//!
//! ```text
//!   0..12  signature \r\n\r\n\0\r\nQUIT\n     12  version (high nibble, 2) and command (LOCAL 0, PROXY 1)
//!   13     family and transport               14..16  length of the rest (big-endian)
//!   16..   addresses (TCP4: 12 bytes, TCP6: 36), then TLVs: type (1), length (2), value
//! ```
//!
//! Each fixed field is checked as soon as its byte arrives, so a bad header is refused at once
//! rather than after waiting for more. Nothing here blocks.

use std::net::{IpAddr, SocketAddr};

use crate::proxy_protocol::header::{Endpoints, HeaderError, Parsed, ProxyHeader};
use crate::proxy_protocol::Version;

/// The fixed part: signature, version and command, family, length.
pub const FIXED: usize = 16;
/// The most we accept after the fixed part. HAProxy accepts up to its 16 KiB buffer (and 1 KiB
/// per TLV value); 2 KiB holds TCP6's 36 bytes of addresses with room for every TLV a balancer
/// sends in practice (TLS details, a cloud endpoint id, a CRC), and caps what a hostile client
/// can make us hold.
pub const MAX_LENGTH: usize = 2048;

const LOCAL: u8 = 0x0;
const PROXY: u8 = 0x1;
const TCP4: u8 = 0x11;
const TCP6: u8 = 0x21;
/// The other families the specification defines: UNSPEC, UDP over IPv4 and IPv6, UNIX stream
/// and datagram. "A receiver is not required to implement [them], provided that it
/// automatically falls back to the UNSPEC mode": the connection's own addresses.
const OTHER_DEFINED: [u8; 5] = [0x00, 0x12, 0x22, 0x31, 0x32];

/// Parse `bytes`, which begin with the whole signature (the caller checked).
pub fn parse(bytes: &[u8]) -> Result<Parsed, HeaderError> {
    let command = bytes.get(12).map(|&b| command(b)).transpose()?;
    if let (Some(PROXY), Some(&family)) = (command, bytes.get(13)) {
        if family != TCP4 && family != TCP6 && !OTHER_DEFINED.contains(&family) {
            return Err(HeaderError::UnsupportedFamily(format!(
                "0x{family:02x} (v2)"
            )));
        }
    }
    let (Some(command), Some(&[family, high, low])) = (command, bytes.get(13..FIXED)) else {
        return Ok(Parsed::Incomplete {
            missing: FIXED - bytes.len(),
        });
    };
    let length = usize::from(u16::from_be_bytes([high, low]));
    if length > MAX_LENGTH {
        return Err(HeaderError::TooLong {
            announced: Some(length),
            limit: MAX_LENGTH,
        });
    }
    let total = FIXED + length;
    let Some(block) = bytes.get(FIXED..total) else {
        return Ok(Parsed::Incomplete {
            missing: total - bytes.len(),
        });
    };
    // LOCAL: "the receiver must ... discard the protocol block including the family".
    let endpoints = match (command, family) {
        (PROXY, TCP4) => Some(tcp4(block)?),
        (PROXY, TCP6) => Some(tcp6(block)?),
        _ => None,
    };
    let header = ProxyHeader {
        version: Version::V2,
        endpoints,
    };
    Ok(Parsed::Done {
        header,
        consumed: total,
    })
}

/// The 13th byte: version 2 and a command we know, or the header is refused.
fn command(byte: u8) -> Result<u8, HeaderError> {
    match (byte >> 4, byte & 0x0f) {
        (2, command @ (LOCAL | PROXY)) => Ok(command),
        (2, _) => Err(HeaderError::Malformed(
            "the v2 command is neither LOCAL nor PROXY",
        )),
        _ => Err(HeaderError::Malformed(
            "the version after the v2 signature is not 2",
        )),
    }
}

/// TCP over IPv4: source and destination address (4 bytes each) and port (2 each), then TLVs.
fn tcp4(block: &[u8]) -> Result<Endpoints, HeaderError> {
    let a = addresses(block, 12)?;
    let ip = |at: usize| IpAddr::from([a[at], a[at + 1], a[at + 2], a[at + 3]]);
    Ok(endpoints(ip(0), ip(4), &a[8..]))
}

/// TCP over IPv6: the same with 16-byte addresses.
fn tcp6(block: &[u8]) -> Result<Endpoints, HeaderError> {
    let a = addresses(block, 36)?;
    let ip = |at: usize| {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&a[at..at + 16]);
        IpAddr::from(octets)
    };
    Ok(endpoints(ip(0), ip(16), &a[32..]))
}

/// The first `len` bytes of the block (the addresses and ports), once the TLVs after them check.
fn addresses(block: &[u8], len: usize) -> Result<&[u8], HeaderError> {
    let short = HeaderError::Malformed("the v2 header is shorter than its family's addresses");
    let (addresses, tlvs) = block.split_at_checked(len).ok_or(short)?;
    skip_tlvs(tlvs)?;
    Ok(addresses)
}

fn endpoints(client: IpAddr, destination: IpAddr, ports: &[u8]) -> Endpoints {
    let port = |at: usize| u16::from_be_bytes([ports[at], ports[at + 1]]);
    Endpoints {
        client: SocketAddr::new(client, port(0)),
        destination: SocketAddr::new(destination, port(2)),
    }
}

/// TLVs are not ours to interpret, but they must tile the rest of the header exactly, as HAProxy
/// also insists. The walk is bounded: each step eats at least 3 of at most [`MAX_LENGTH`] bytes.
fn skip_tlvs(mut rest: &[u8]) -> Result<(), HeaderError> {
    while let [_type, high, low, after @ ..] = rest {
        let value = usize::from(u16::from_be_bytes([*high, *low]));
        rest = after.get(value..).ok_or(HeaderError::Malformed(
            "a v2 TLV runs past the end of the header",
        ))?;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(HeaderError::Malformed("a v2 TLV is cut short"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_protocol::{write::header, V2_SIGNATURE};

    fn fixed(version_command: u8, family: u8, length: u16) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.extend([version_command, family]);
        out.extend(length.to_be_bytes());
        out
    }

    fn done(bytes: &[u8]) -> (Option<Endpoints>, usize) {
        match parse(bytes).unwrap() {
            Parsed::Done { header, consumed } => (header.endpoints, consumed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tcp4_and_tcp6_from_our_own_writer() {
        for (client, local) in [
            ("10.0.0.1:258", "10.0.0.2:80"),
            ("[::1]:1", "[2001:db8::2]:2"),
        ] {
            let (client, local) = (client.parse().unwrap(), local.parse().unwrap());
            let mut bytes = header(Version::V2, client, local);
            let len = bytes.len();
            bytes.extend(b"client's own bytes");
            let expected = Endpoints {
                client,
                destination: local,
            };
            assert_eq!(done(&bytes), (Some(expected), len));
        }
    }

    #[test]
    fn tlvs_are_skipped_and_must_tile_the_header() {
        let mut bytes = fixed(0x21, TCP4, 12 + 7 + 3);
        bytes.extend([127, 0, 0, 1, 127, 0, 0, 2, 0, 1, 0, 2]);
        bytes.extend([0x03, 0, 4, 1, 2, 3, 4]); // a CRC32C TLV (not checked)
        bytes.extend([0xEA, 0, 0]); // an empty one
        assert_eq!(done(&bytes).1, bytes.len());
        assert_eq!(
            done(&bytes).0.unwrap().client,
            "127.0.0.1:1".parse().unwrap()
        );
        for cut in [1, 2, 5] {
            let mut bad = bytes.clone();
            bad.truncate(bad.len() - cut);
            bad[15] -= cut as u8; // the length still matches: the last TLV is what is short
            assert!(
                matches!(parse(&bad), Err(HeaderError::Malformed(_))),
                "{cut}"
            );
        }
    }

    #[test]
    fn local_and_other_families_use_the_connections_addresses() {
        let mut local = fixed(0x20, 0x99, 5); // LOCAL: even a family that does not exist
        local.extend([1, 2, 3, 4, 5]);
        assert_eq!(done(&local), (None, 21));
        for family in OTHER_DEFINED {
            let mut other = fixed(0x21, family, 3);
            other.extend([9, 9, 9]);
            assert_eq!(done(&other), (None, 19), "family {family:#x}");
        }
    }

    #[test]
    fn refusals_come_as_soon_as_the_byte_that_decides() {
        let err = |bytes: &[u8]| parse(bytes).unwrap_err();
        assert!(matches!(
            err(&fixed(0x31, TCP4, 12)[..13]),
            HeaderError::Malformed("the version after the v2 signature is not 2")
        ));
        assert!(matches!(
            err(&fixed(0x22, TCP4, 12)[..13]),
            HeaderError::Malformed("the v2 command is neither LOCAL nor PROXY")
        ));
        let family = err(&fixed(0x21, 0x13, 12)[..14]);
        assert_eq!(
            family.to_string(),
            "PROXY header with unsupported family 0x13 (v2)"
        );
        let long = err(&fixed(0x21, TCP4, 2049));
        assert!(matches!(
            long,
            HeaderError::TooLong {
                announced: Some(2049),
                ..
            }
        ));
        let short = err(&[fixed(0x21, TCP6, 12), vec![0; 12]].concat());
        assert!(matches!(short, HeaderError::Malformed(_)), "{short:?}");
    }

    #[test]
    fn until_the_announced_length_more_is_missing() {
        let bytes = fixed(0x21, TCP4, 12);
        assert_eq!(
            parse(&bytes[..12]).unwrap(),
            Parsed::Incomplete { missing: 4 }
        );
        assert_eq!(parse(&bytes).unwrap(), Parsed::Incomplete { missing: 12 });
    }

    #[test]
    fn the_announced_length_may_be_the_limit_and_not_one_byte_more() {
        let limit = u16::try_from(MAX_LENGTH).unwrap();
        // LOCAL carries no addresses the parser checks: the block may be any bytes.
        let at_limit = fixed(0x20, 0x00, limit);
        assert_eq!(
            parse(&at_limit).unwrap(),
            Parsed::Incomplete {
                missing: MAX_LENGTH
            }
        );
        let whole = [at_limit, vec![0; MAX_LENGTH]].concat();
        assert_eq!(done(&whole), (None, FIXED + MAX_LENGTH));
        let over = parse(&fixed(0x20, 0x00, limit + 1)).unwrap_err();
        assert!(
            matches!(over, HeaderError::TooLong { announced: Some(n), limit: MAX_LENGTH } if n == MAX_LENGTH + 1),
            "{over:?}"
        );
    }
}
