//! IPv6 (SPEC §1): the default listener takes IPv4 and IPv6 clients, an IPv6 destination works
//! with or without brackets, and the listening line names it the way an operator writes it.

use std::io::{Read, Write};
use std::net::SocketAddr;

use crate::kit::client::{self, ping};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo, echo_server, serve_at};

fn v6_loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port))
}

#[test]
fn ipv6_loopback_clients_and_destinations_work() {
    let destination = serve_at("::1", echo);
    let proxy = Proxy::start_raw(&["[::1]".into(), destination.port().to_string(), "0".into()]);
    let mut client = client::connect(v6_loopback(proxy.port));
    ping(&mut client, b"v6");
}

#[test]
fn ipv4_and_ipv6_clients_share_the_default_listener() {
    let proxy = Proxy::start(echo_server(), &[]);
    let mut v4 = client::connect(proxy.addr());
    let mut v6 = client::connect(v6_loopback(proxy.port));
    ping(&mut v4, b"over IPv4");
    ping(&mut v6, b"over IPv6");
}

#[test]
fn plain_ipv6_literal_destination_works() {
    let port = serve_at("::1", |mut s| {
        let _ = s.write_all(b"v6 server");
    })
    .port();
    let proxy = Proxy::start_raw(&["::1".to_string(), port.to_string(), "0".into()]);
    let mut reply = Vec::new();
    proxy.connect().read_to_end(&mut reply).expect("read");
    assert_eq!(reply, b"v6 server");
}

#[test]
fn listening_line_brackets_an_ipv6_destination_once() {
    let port = serve_at("::1", echo).port().to_string();
    let mut proxy = Proxy::start_raw(&["::1", &port, "0"]);
    let line = proxy.wait_for_log("listening on ");
    assert!(
        line.contains(&format!("relaying to [::1]:{port}")),
        "{line}"
    );
    assert!(!line.contains("[["), "{line}");

    let port = echo_server().port().to_string();
    let mut proxy = Proxy::start_raw(&["localhost", &port, "0"]);
    let line = proxy.wait_for_log("listening on ");
    assert!(
        line.contains(&format!("relaying to localhost:{port} (resolved to ")),
        "{line}"
    );
    assert!(!line.contains("[["), "{line}");
}
