//! What proptest feeds the parser: valid headers with what they must parse to, and hostile ones
//! made from them (flipped, cut, extended), from near-valid parts, or from nothing at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use crate::proxy_protocol::header::Endpoints;
use crate::proxy_protocol::{write::header, Version, V2_SIGNATURE};

/// A valid header with what it must parse to: from our writer, or built here with TLVs, LOCAL
/// and the families that fall back to the connection's addresses.
pub fn valid_header() -> impl Strategy<Value = (Vec<u8>, Option<Endpoints>)> {
    let v4 =
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b)));
    let v6 = (any::<[u8; 16]>(), any::<[u8; 16]>())
        .prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b)));
    let written = (prop_oneof![v4, v6], any::<(u16, u16)>(), any::<bool>()).prop_map(
        |((a, b), (p, q), v2)| {
            let (client, destination) = (SocketAddr::new(a, p), SocketAddr::new(b, q));
            let version = if v2 { Version::V2 } else { Version::V1 };
            (
                header(version, client, destination),
                Some(Endpoints {
                    client,
                    destination,
                }),
            )
        },
    );
    let tlvs = proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
        0..5,
    );
    let with_tlvs = (written.clone(), tlvs).prop_map(|((mut h, e), tlvs)| {
        if h[0] == b'\r' {
            for (kind, value) in tlvs {
                h.push(kind);
                h.extend((value.len() as u16).to_be_bytes());
                h.extend(value);
            }
            let len = (h.len() - 16) as u16;
            h[14..16].copy_from_slice(&len.to_be_bytes());
        }
        (h, e)
    });
    let speaks_for_itself = (
        prop_oneof![Just(0x20u8), Just(0x21u8)],
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(vc, fam, body)| {
            let fam = if vc == 0x21 {
                [0x00, 0x12, 0x22, 0x31, 0x32][fam as usize % 5]
            } else {
                fam
            };
            let mut h = V2_SIGNATURE.to_vec();
            h.extend([vc, fam]);
            h.extend((body.len() as u16).to_be_bytes());
            h.extend(body);
            (h, None)
        });
    let unknown =
        "( [ -~]{0,91})?".prop_map(|rest| (format!("PROXY UNKNOWN{rest}\r\n").into_bytes(), None));
    prop_oneof![written, with_tlvs, speaks_for_itself, unknown]
}

/// A valid header, then broken: bytes flipped, cut short, bytes inserted; or pure garbage.
pub fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let edits =
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4);
    let mutated = (
        valid_header(),
        edits,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|((mut h, _), edits, trailer)| {
            for (at, byte, how) in edits {
                let i = at.index(h.len() + 1);
                match how {
                    0 if i < h.len() => h[i] ^= byte | 1, // flip at least one bit
                    1 => h.truncate(i),
                    _ => h.insert(i.min(h.len()), byte),
                }
            }
            h.extend(trailer);
            h
        });
    let garbage = proptest::collection::vec(any::<u8>(), 0..200);
    let prefixed =
        ("PROXY (TCP4|TCP6|UNKNOWN|UDP4)?[ 0-9a-fA-F.:\r\n]{0,60}").prop_map(String::into_bytes);
    prop_oneof![5 => mutated, 2 => garbage, 1 => prefixed, 2 => near_v1()]
}

/// v1 lines built from parts that are each almost right: leading zeros, signs, ports past
/// 65535, the other family's address, doubled spaces, a lone CR or LF.
fn near_v1() -> impl Strategy<Value = Vec<u8>> {
    let family = prop_oneof![
        Just("TCP4"),
        Just("TCP6"),
        Just("UNKNOWN"),
        Just("UDP4"),
        Just("")
    ];
    let v4 = any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string());
    let v6 = any::<[u8; 16]>().prop_map(|a| Ipv6Addr::from(a).to_string());
    let address = (
        prop_oneof![v4, v6],
        prop_oneof![4 => Just(""), 1 => Just("0"), 1 => Just("+")],
    )
        .prop_map(|(a, before)| format!("{before}{a}"));
    let port = (
        0..70_000u32,
        prop_oneof![4 => Just(""), 1 => Just("0"), 1 => Just("+")],
    )
        .prop_map(|(p, before)| format!("{before}{p}"));
    let gap = prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("")];
    let end = prop_oneof![8 => Just("\r\n"), 1 => Just("\n"), 1 => Just("\r\r\n")];
    (
        family,
        address.clone(),
        address,
        port.clone(),
        port,
        gap,
        end,
    )
        .prop_map(|(family, src, dst, sport, dport, gap, end)| {
            format!("PROXY {family} {src}{gap}{dst} {sport} {dport}{end}").into_bytes()
        })
}
