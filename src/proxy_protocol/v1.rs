//! PROXY protocol v1: one line of US-ASCII text, `PROXY TCP4 SRC DST SPORT DPORT\r\n`.
//!
//! The line's end is only known when its CRLF arrives, so nothing is decoded before that (the
//! specification says so too: an address cut in half still looks like an address). Within the
//! line the rules are strict, because "any sequence which does not exactly match the protocol
//! must be discarded": single spaces, addresses in their family's canonical text, ports in
//! decimal without leading zeros. Nothing here blocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::proxy_protocol::header::{Endpoints, HeaderError, Parsed, ProxyHeader};
use crate::proxy_protocol::Version;

/// What every v1 line begins with.
pub const PREFIX: &[u8] = b"PROXY ";
/// The longest line the specification allows, CRLF included:
/// `PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n`.
pub const MAX_LINE: usize = 107;
/// The shortest: `PROXY UNKNOWN\r\n`.
pub const MIN_LINE: usize = 15;

/// Parse `bytes`, which begin with [`PREFIX`] (the caller checked), up to the first LF.
pub fn parse(bytes: &[u8]) -> Result<Parsed, HeaderError> {
    let window = &bytes[..bytes.len().min(MAX_LINE)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if bytes.len() >= MAX_LINE {
            return Err(HeaderError::TooLong {
                announced: None,
                limit: MAX_LINE,
            });
        }
        // At least one more byte, and at least enough for the shortest line.
        let missing = MIN_LINE.saturating_sub(bytes.len()).max(1);
        return Ok(Parsed::Incomplete { missing });
    };
    let header = ProxyHeader {
        version: Version::V1,
        endpoints: line(&bytes[..=lf])?,
    };
    Ok(Parsed::Done {
        header,
        consumed: lf + 1,
    })
}

/// One whole line, up to and including its LF: the endpoints it names (`None` for UNKNOWN).
fn line(line: &[u8]) -> Result<Option<Endpoints>, HeaderError> {
    use HeaderError::Malformed;
    let body = line
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(b"\r\n"))
        .ok_or(Malformed("the v1 line does not end with CRLF"))?;
    // "For UNKNOWN ... the receiver must ignore anything presented before the CRLF."
    if body == b"UNKNOWN" || body.starts_with(b"UNKNOWN ") {
        return Ok(None);
    }
    let text = std::str::from_utf8(body)
        .ok()
        .filter(|text| text.is_ascii())
        .ok_or(Malformed("the v1 line is not ASCII text"))?;
    let fields: Vec<&str> = text.split(' ').collect();
    let family = match fields[0] {
        "TCP4" => Family::V4,
        "TCP6" => Family::V6,
        "" => return Err(Malformed("no protocol after 'PROXY '")),
        other => return Err(HeaderError::UnsupportedFamily(format!("'{other}' (v1)"))),
    };
    let [_, source, destination, source_port, destination_port] = fields[..] else {
        return Err(Malformed(
            "a v1 TCP line has exactly: protocol, two addresses, two ports",
        ));
    };
    Ok(Some(Endpoints {
        client: SocketAddr::new(family.address(source)?, port(source_port)?),
        destination: SocketAddr::new(family.address(destination)?, port(destination_port)?),
    }))
}

enum Family {
    V4,
    V6,
}

impl Family {
    /// std's parsers take exactly the canonical forms: IPv4 as four decimal numbers without
    /// leading zeros, IPv6 as hexadecimal groups with at most one `::`.
    fn address(&self, text: &str) -> Result<IpAddr, HeaderError> {
        let parsed = match self {
            Family::V4 => text.parse::<Ipv4Addr>().map(IpAddr::V4),
            Family::V6 => text.parse::<Ipv6Addr>().map(IpAddr::V6),
        };
        parsed.map_err(|_| HeaderError::Malformed("an address is not one of its family's"))
    }
}

/// A port: decimal digits only (no sign, no spaces), no leading zero, at most 65535.
fn port(text: &str) -> Result<u16, HeaderError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    match text.parse() {
        Ok(port) if digits && !leading_zero => Ok(port),
        _ => Err(HeaderError::Malformed(
            "a port is not a decimal number 0-65535",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(bytes: &[u8]) -> Option<Endpoints> {
        match parse(bytes).unwrap() {
            Parsed::Done { header, consumed } => {
                assert_eq!(consumed, bytes.len());
                header.endpoints
            }
            other => panic!("{other:?}"),
        }
    }

    fn error(bytes: &[u8]) -> HeaderError {
        parse(bytes).unwrap_err()
    }

    #[test]
    fn tcp4_and_tcp6_lines_name_both_ends() {
        let four = endpoints(b"PROXY TCP4 192.0.2.7 198.51.100.1 50312 3000\r\n").unwrap();
        assert_eq!(four.client, "192.0.2.7:50312".parse().unwrap());
        assert_eq!(four.destination, "198.51.100.1:3000".parse().unwrap());
        let six = endpoints(b"PROXY TCP6 2001:DB8::1 ::1 0 65535\r\n").unwrap();
        assert_eq!(six.client, "[2001:db8::1]:0".parse().unwrap());
        assert_eq!(six.destination, "[::1]:65535".parse().unwrap());
    }

    #[test]
    fn unknown_names_no_one_whatever_follows() {
        assert_eq!(endpoints(b"PROXY UNKNOWN\r\n"), None);
        assert_eq!(endpoints(b"PROXY UNKNOWN \xff anything\r\n"), None);
    }

    #[test]
    fn a_line_is_read_no_further_than_its_lf() {
        let got = parse(b"PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n").unwrap();
        assert!(matches!(got, Parsed::Done { consumed: 15, .. }), "{got:?}");
    }

    #[test]
    fn every_departure_from_the_grammar_is_malformed() {
        for line in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..],     // LF alone
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",      // CR, CR, LF
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",       // two spaces
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",          // a port missing
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",      // a field too many
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",       // leading zero
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",            // IPv6 under TCP4
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",            // IPv4 under TCP6
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",       // leading zero in a port
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",       // a sign
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",    // beyond 65535
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xc3\xa9\r\n", // not ASCII
            b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",       // no protocol
        ] {
            assert!(
                matches!(error(line), HeaderError::Malformed(_)),
                "{}",
                line.escape_ascii()
            );
        }
    }

    #[test]
    fn an_unknown_protocol_is_an_unsupported_family() {
        let e = error(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n");
        assert!(matches!(e, HeaderError::UnsupportedFamily(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "PROXY header with unsupported family 'UDP4' (v1)"
        );
    }

    #[test]
    fn no_crlf_within_107_bytes_is_too_long() {
        let mut line = b"PROXY UNKNOWN ".to_vec();
        line.resize(MAX_LINE - 2, b'x');
        line.extend(b"\r\n"); // exactly 107: the longest allowed
        assert_eq!(endpoints(&line), None);
        let mut long = line[..MAX_LINE - 2].to_vec();
        long.extend(b"x\r\n");
        assert!(matches!(
            error(&long),
            HeaderError::TooLong {
                announced: None,
                limit: MAX_LINE
            }
        ));
    }

    #[test]
    fn until_the_lf_more_is_missing() {
        assert_eq!(parse(b"PROXY ").unwrap(), Parsed::Incomplete { missing: 9 });
        assert_eq!(
            parse(b"PROXY TCP4 1.2.3.4").unwrap(),
            Parsed::Incomplete { missing: 1 }
        );
    }
}
