//! The back door, toward the destination, and the sockets of a pair: `--source` is the address
//! the destination sees (and a wrong one stops the start), `--keepalive` is set on both sockets of
//! every pair, checked from outside the proxy with pidfd_getfd.

use std::net::IpAddr;
use std::time::Duration;

use crate::kit::client::ping;
use crate::kit::process::run_to_exit;
use crate::kit::procfs::tcp_sockets_of;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, holding_server};
use crate::kit::PATIENCE;

/// The address the destination sees a pair's connection come from, with `args`.
fn seen_by_the_destination(args: &[&str]) -> IpAddr {
    let (server, accepted) = holding_server();
    let proxy = Proxy::start(server, args);
    let _client = proxy.connect();
    let at_server = accepted
        .recv_timeout(PATIENCE)
        .expect("the pair reaches the server");
    at_server.peer_addr().expect("peer address").ip()
}

#[test]
fn the_destination_sees_the_source_address() {
    // Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2 is an address of this host.
    let expected: IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(
        seen_by_the_destination(&["--source", "127.0.0.2"]),
        expected
    );
    assert_ne!(
        seen_by_the_destination(&[]),
        expected,
        "without --source: the kernel's choice"
    );
}

#[test]
fn a_source_address_not_of_this_host_is_a_startup_error_naming_it() {
    let port = echo_server().port().to_string();
    let exit = run_to_exit(&["--source", "192.0.2.1", "127.0.0.1", &port, "0"]);
    assert_eq!(exit.status, Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr
            .contains("cannot use --source 192.0.2.1: Cannot assign requested address"),
        "{}",
        exit.stderr
    );
    let other_family = run_to_exit(&["--source", "::1", "127.0.0.1", &port, "0"]);
    assert_eq!(other_family.status, Some(1), "{}", other_family.stderr);
    assert!(
        other_family.stderr.contains("--source ::1"),
        "{}",
        other_family.stderr
    );
}

#[test]
fn keepalive_is_set_on_both_sockets_of_a_pair_and_only_when_asked() {
    let proxy = Proxy::start(echo_server(), &["--keepalive", "60"]);
    let mut client = proxy.connect();
    ping(&mut client, b"alive?");
    let sockets = tcp_sockets_of(proxy.pid());
    assert_eq!(
        sockets.len(),
        2,
        "one pair: a client socket and a destination socket"
    );
    for socket in &sockets {
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        assert!(socket.keepalive().expect("SO_KEEPALIVE"), "off on {peer:?}");
        // 60 s: silent for 30 s, then 3 probes 10 s apart (src/relay/upstream/keepalive.rs).
        assert_eq!(
            socket.tcp_keepalive_time().expect("TCP_KEEPIDLE"),
            Duration::from_secs(30)
        );
        assert_eq!(
            socket.tcp_keepalive_interval().expect("TCP_KEEPINTVL"),
            Duration::from_secs(10)
        );
        assert_eq!(
            socket.tcp_keepalive_retries().expect("TCP_KEEPCNT"),
            3,
            "{peer:?}"
        );
    }

    let proxy = Proxy::start(echo_server(), &[]);
    let mut client = proxy.connect();
    ping(&mut client, b"no keepalive");
    let sockets = tcp_sockets_of(proxy.pid());
    assert_eq!(sockets.len(), 2);
    for socket in sockets {
        assert!(
            !socket.keepalive().expect("SO_KEEPALIVE"),
            "on without --keepalive"
        );
    }
}
