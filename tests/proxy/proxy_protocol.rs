//! `--send-proxy v1|v2`: the destination hears who the client is, byte-exact, before the client's
//! own bytes — checked against the specification's layout, and against HAProxy's `accept-proxy`
//! (`make test-deps` installs HAProxy; without it that test fails). And a client that leaves while
//! its pair connects is blamed for the pair's end.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use crate::kit::client::{self, reset};
use crate::kit::haproxy::Haproxy;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{holding_server, DeafDestination};
use crate::kit::PATIENCE;

/// What one client's pair looks like from both ends.
struct Through {
    _proxy: Proxy,
    /// Kept open until the test ends.
    _client: TcpStream,
    /// The destination's end of the pair, to read from.
    server: TcpStream,
    client: SocketAddr,
    /// The address the client connected to.
    proxy: SocketAddr,
}

/// A client of a proxy started with `proxy_args` and listening on `ip`; the client sends `hello`.
fn through_proxy(proxy_args: &[&str], ip: &str) -> Through {
    let (server, accepted) = holding_server();
    let mut args = proxy_args.to_vec();
    args.extend(["--bind", ip]);
    let proxy = Proxy::start(server, &args);
    let proxy_addr = SocketAddr::new(ip.parse().expect("ip"), proxy.port);
    let mut client = client::connect(proxy_addr);
    client.write_all(b"hello").expect("send");
    let client_addr = client.local_addr().expect("client addr");
    let server = accepted
        .recv_timeout(PATIENCE)
        .expect("the pair reaches the server");
    server.set_read_timeout(Some(PATIENCE)).expect("timeout");
    Through {
        _proxy: proxy,
        _client: client,
        server,
        client: client_addr,
        proxy: proxy_addr,
    }
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    stream.read_exact(&mut got).expect("header and hello");
    got
}

#[test]
fn v1_header_comes_before_the_clients_bytes_over_ipv4_and_ipv6() {
    for (ip, family) in [("127.0.0.1", "TCP4"), ("::1", "TCP6")] {
        let mut pair = through_proxy(&["--send-proxy", "v1"], ip);
        let expected = format!(
            "PROXY {family} {ip} {ip} {} {}\r\nhello",
            pair.client.port(),
            pair.proxy.port()
        );
        let got = read_exactly(&mut pair.server, expected.len());
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
}

/// The v2 header for TCP over `client`'s family, laid out by hand from the specification.
fn v2_expected(client: SocketAddr, proxy: SocketAddr) -> Vec<u8> {
    let mut out = vec![
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, // signature
        0x21, // version 2, command PROXY
    ];
    match (client.ip(), proxy.ip()) {
        (IpAddr::V4(c), IpAddr::V4(p)) => {
            out.extend([0x11, 0x00, 12]);
            out.extend(c.octets());
            out.extend(p.octets());
        }
        (IpAddr::V6(c), IpAddr::V6(p)) => {
            out.extend([0x21, 0x00, 36]);
            out.extend(c.octets());
            out.extend(p.octets());
        }
        _ => panic!("mixed families"),
    }
    out.extend(client.port().to_be_bytes());
    out.extend(proxy.port().to_be_bytes());
    out.extend(b"hello");
    out
}

#[test]
fn v2_ipv4_and_ipv6_headers_are_byte_exact() {
    for ip in ["127.0.0.1", "::1"] {
        let mut pair = through_proxy(&["--send-proxy", "v2"], ip);
        let expected = v2_expected(pair.client, pair.proxy);
        let got = read_exactly(&mut pair.server, expected.len());
        assert_eq!(got, expected, "{ip}");
    }
}

#[test]
fn without_the_option_the_destination_hears_only_the_client() {
    let mut pair = through_proxy(&[], "127.0.0.1");
    assert_eq!(read_exactly(&mut pair.server, 5), b"hello");
}

/// HAProxy in front of nothing: it reads the PROXY header (`accept-proxy`) and answers each HTTP
/// request with the client address it believes in.
fn believing_haproxy() -> Haproxy {
    Haproxy::start(
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\n\
         frontend from_tcpproxy\n  bind fd@3 accept-proxy\n  \
         http-request return status 200 content-type text/plain lf-string \"%[src] %[src_port] %[dst] %[dst_port]\"\n",
    )
}

/// Ask HAProxy, through tcpproxy, whom it thinks it is talking to.
fn haproxy_sees(version: &str, ip: &str) -> (String, String) {
    let haproxy = believing_haproxy();
    let args = ["--send-proxy", version, "--bind", ip];
    let proxy = Proxy::start(haproxy.addr, &args);
    let proxy_addr = SocketAddr::new(ip.parse().expect("ip"), proxy.port);
    let mut client = client::connect(proxy_addr);
    client
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    client.read_to_string(&mut answer).expect("answer");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    let client_addr = client.local_addr().expect("addr");
    let expected = format!(
        "{} {} {} {}",
        client_addr.ip(),
        client_addr.port(),
        proxy_addr.ip(),
        proxy_addr.port()
    );
    (body, expected)
}

#[test]
fn haproxy_accept_proxy_believes_v1_and_v2() {
    for (version, ip) in [
        ("v1", "127.0.0.1"),
        ("v2", "127.0.0.1"),
        ("v1", "::1"),
        ("v2", "::1"),
    ] {
        let (seen, expected) = haproxy_sees(version, ip);
        assert_eq!(seen, expected, "{version} over {ip}");
    }
}

#[test]
fn client_that_leaves_during_send_proxy_is_blamed() {
    // The destination's accept queue is full, so the proxy's SYN is dropped and retried a second
    // later: time for the client to leave while the pair is still connecting.
    let mut destination = DeafDestination::start();
    let mut proxy = Proxy::start(destination.addr, &["--send-proxy", "v1", "-v"]);
    let client = proxy.connect();
    proxy.wait_for_log("pair 1 open: client ");
    reset(client);
    destination.make_room();
    let mut at_destination = destination.accept_within(PATIENCE);
    let close = proxy.wait_for_log("closed:");
    assert!(
        close.contains("closed: client reset"),
        "the client left first, so the client is to blame: {close}"
    );
    at_destination
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    while !header.ends_with(b"\r\n") && header.len() < 108 {
        if at_destination.read(&mut byte).expect("read the PROXY line") == 0 {
            break;
        }
        header.push(byte[0]);
    }
    let header = String::from_utf8_lossy(&header);
    assert!(
        header.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 ") && header.ends_with("\r\n"),
        "the pair reached the destination with its header: {header:?}"
    );
}
