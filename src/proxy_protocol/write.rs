//! Writing the header (`--send-proxy v1|v2`): who the client really is, told to the destination
//! before the client's first byte.
//!
//! - **v1** is one line of text: `PROXY TCP4 192.0.2.7 198.51.100.1 50312 3000\r\n`.
//! - **v2** is binary: a 12-byte signature, version and command, family, length, then the
//!   addresses and ports in network byte order. Cheaper to parse, same facts.
//!
//! Nothing here blocks; the caller writes the bytes.

use std::net::{IpAddr, SocketAddr};

use crate::proxy_protocol::{Version, V2_SIGNATURE};

/// Version 2 (high nibble), command PROXY (low nibble: the connection is on behalf of a client).
const V2_PROXY_COMMAND: u8 = 0x21;
/// Address family and transport: TCP over IPv4 / IPv6, or unspecified.
const V2_TCP4: u8 = 0x11;
const V2_TCP6: u8 = 0x21;
const V2_UNSPEC: u8 = 0x00;

/// The header for a client at `client` that connected to us at `local`.
pub fn header(version: Version, client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; the header must say TCP4.
    let client = SocketAddr::new(client.ip().to_canonical(), client.port());
    let local = SocketAddr::new(local.ip().to_canonical(), local.port());
    match version {
        Version::V1 => v1(client, local),
        Version::V2 => v2(client, local),
    }
}

fn v1(client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let family = match (client.ip(), local.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => "TCP4",
        (IpAddr::V6(_), IpAddr::V6(_)) => "TCP6",
        // Mixed families cannot be described; the specification's answer is UNKNOWN.
        _ => return b"PROXY UNKNOWN\r\n".to_vec(),
    };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        client.ip(),
        local.ip(),
        client.port(),
        local.port()
    )
    .into_bytes()
}

fn v2(client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let (family, addresses): (u8, Vec<u8>) = match (client.ip(), local.ip()) {
        (IpAddr::V4(c), IpAddr::V4(l)) => (V2_TCP4, [c.octets(), l.octets()].concat()),
        (IpAddr::V6(c), IpAddr::V6(l)) => (V2_TCP6, [c.octets(), l.octets()].concat()),
        _ => (V2_UNSPEC, Vec::new()),
    };
    let mut body = addresses;
    if family != V2_UNSPEC {
        body.extend(client.port().to_be_bytes());
        body.extend(local.port().to_be_bytes());
    }
    let mut out = V2_SIGNATURE.to_vec();
    out.push(V2_PROXY_COMMAND);
    out.push(family);
    // At most 36 bytes of addresses: the length always fits.
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn versions_are_named_as_the_command_line_takes_them() {
        assert_eq!(Version::parse("v1"), Some(Version::V1));
        assert_eq!(Version::parse("v2"), Some(Version::V2));
        assert_eq!(Version::parse("V1"), None);
        assert_eq!(Version::parse("2"), None);
    }

    #[test]
    fn mixed_families_cannot_be_described() {
        let v4 = addr("10.0.0.1:1");
        let v6 = addr("[2001:db8::1]:2");
        assert_eq!(header(Version::V1, v4, v6), b"PROXY UNKNOWN\r\n");
        assert_eq!(
            header(Version::V2, v6, v4),
            b"\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x00"
        );
    }

    #[test]
    fn v1_matches_the_specification_examples() {
        let h = header(
            Version::V1,
            addr("192.168.0.1:56324"),
            addr("192.168.0.11:443"),
        );
        assert_eq!(h, b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
        let h = header(Version::V1, addr("[2001:db8::1]:1"), addr("[::1]:2"));
        assert_eq!(h, b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n");
    }

    #[test]
    fn mapped_ipv4_is_sent_as_ipv4() {
        let h = header(
            Version::V1,
            addr("[::ffff:127.0.0.1]:5"),
            addr("[::ffff:127.0.0.1]:6"),
        );
        assert_eq!(h, b"PROXY TCP4 127.0.0.1 127.0.0.1 5 6\r\n");
    }

    #[test]
    fn v2_ipv4_layout() {
        let h = header(Version::V2, addr("10.0.0.1:258"), addr("10.0.0.2:80"));
        let mut expected = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        expected.extend([10, 0, 0, 1, 10, 0, 0, 2, 0x01, 0x02, 0x00, 0x50]);
        assert_eq!(h, expected);
    }

    #[test]
    fn v2_ipv6_is_36_bytes_of_addresses() {
        let h = header(Version::V2, addr("[::1]:1"), addr("[::2]:2"));
        assert_eq!(&h[12..16], &[0x21, 0x21, 0x00, 36]);
        assert_eq!(h.len(), 16 + 36);
        assert_eq!(h[16 + 15], 1);
        assert_eq!(h[32 + 15], 2);
    }
}
