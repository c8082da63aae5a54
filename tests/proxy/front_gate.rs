//! Who gets in: `--accept-proxy` (the client named by a load balancer's PROXY header), `--deny`
//! and `--max-per-client`, and the full chain HAProxy → tcpproxy → server keeping the real client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain};
use crate::kit::haproxy::Haproxy;
use crate::kit::proxy::Proxy;
use crate::kit::servers::holding_server;
use crate::kit::PATIENCE;

/// A client that sends `first` (a header, and maybe data) as soon as it connects.
fn client_sending(proxy: &Proxy, first: &[u8]) -> TcpStream {
    let mut client = proxy.connect();
    client.set_nodelay(true).expect("nodelay");
    client.write_all(first).expect("send");
    client
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    stream.read_exact(&mut got).expect("bytes arrive");
    got
}

fn next_server(accepted: &Receiver<TcpStream>) -> TcpStream {
    let server = accepted
        .recv_timeout(PATIENCE)
        .expect("the destination is reached");
    server.set_read_timeout(Some(PATIENCE)).expect("timeout");
    server
}

#[test]
fn accept_proxy_takes_the_client_from_the_header_and_passes_on_only_what_follows() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--accept-proxy"]);
    let mut client = client_sending(&proxy, b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\nhello");
    let mut upstream = next_server(&accepted);
    assert_eq!(
        read_exactly(&mut upstream, 5),
        b"hello",
        "the header is ours, not the server's"
    );
    upstream.write_all(b"world").expect("answer");
    assert_eq!(read_exactly(&mut client, 5), b"world");
    drop(upstream);
    drop(client);
    let line = proxy.wait_for_log("closed:");
    assert!(line.contains("pair 1 203.0.113.7:5555 -> "), "{line}");
}

#[test]
fn a_client_without_a_valid_header_is_closed_and_the_reason_logged() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--accept-proxy"]);
    let mut direct = client_sending(&proxy, b"GET / HTTP/1.0\r\n\r\n");
    drain(&mut direct);
    let line = proxy.wait_for_log("closed:");
    assert!(
        line.contains("closed: client error (not a PROXY header (wrong signature))"),
        "{line}"
    );
    let mut bad = client_sending(&proxy, b"PROXY TCP4 203.0.113.7 nonsense\r\n");
    drain(&mut bad);
    let line = proxy.wait_for_log("malformed PROXY header");
    assert!(line.contains("pair 2 "), "{line}");
    assert!(
        accepted.try_recv().is_err(),
        "a bad header never reaches the destination"
    );
}

/// Has nothing ended `stream` yet: no EOF and no reset has arrived (a non-blocking peek would block)?
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("non-blocking");
    let open = matches!(stream.peek(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).expect("blocking again");
    open
}

#[test]
fn a_slow_header_is_cut_at_the_connect_timeout_and_delays_no_one_else() {
    let (server, accepted) = holding_server();
    // 2 s, not 1: the prompt client below must be served inside it, on a loaded 2-core machine.
    let connect_timeout = Duration::from_secs(2);
    let args = ["--accept-proxy", "--connect-timeout", "2"];
    let mut proxy = Proxy::start(server, &args);
    let started = Instant::now();
    let mut slow = client_sending(&proxy, b"PROXY TCP4 203.0.1");
    // Meanwhile a prompt client is accepted and served at once.
    let mut prompt = client_sending(&proxy, b"PROXY TCP4 203.0.113.9 127.0.0.1 6000 80\r\nping");
    let mut upstream = next_server(&accepted);
    assert_eq!(read_exactly(&mut upstream, 4), b"ping");
    upstream.write_all(b"pong").expect("answer");
    assert_eq!(read_exactly(&mut prompt, 4), b"pong");
    // The slow client is the clock: had the prompt one waited behind its header, it would have
    // been served only after the slow one was cut.
    assert!(
        still_open(&slow),
        "served behind the slow header ({:?} after it connected)",
        started.elapsed()
    );
    assert_eq!(drain(&mut slow), 0);
    let took = started.elapsed();
    // The cut waited for the connect timeout (its clock starts at the accept, after `started`;
    // 100 ms spare for timer rounding), and did not wait for the 10 s hang timeout either.
    assert!(
        took >= connect_timeout - Duration::from_millis(100) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let line = proxy.wait_for_log("in time");
    assert!(
        line.contains("pair 1 ") && line.contains("PROXY header"),
        "{line}"
    );
}

#[test]
fn allow_and_max_per_client_judge_the_client_the_header_names() {
    let (server, accepted) = holding_server();
    let args = [
        "--accept-proxy",
        "--allow",
        "203.0.113.0/24",
        "--max-per-client",
        "1",
    ];
    let mut proxy = Proxy::start(server, &args);
    let header = |ip: &str, port: u16| format!("PROXY TCP4 {ip} 127.0.0.1 {port} 80\r\n");
    let mut stranger = client_sending(&proxy, header("198.51.100.9", 1).as_bytes());
    assert_eq!(drain(&mut stranger), 0);
    proxy.wait_for_log("refused 198.51.100.9:1: not in --allow");

    let _first = client_sending(&proxy, header("203.0.113.7", 2).as_bytes());
    let _held = next_server(&accepted);
    let mut again = client_sending(&proxy, header("203.0.113.7", 3).as_bytes());
    assert_eq!(drain(&mut again), 0, "over its limit: closed at once");
    proxy.wait_for_log("refused 203.0.113.7:3: over --max-per-client 1");
    let _neighbour = client_sending(&proxy, header("203.0.113.8", 4).as_bytes());
    let _held_too = next_server(&accepted);
    assert!(
        accepted.try_recv().is_err(),
        "refused clients never reach the destination"
    );
}

#[test]
fn deny_turns_away_a_network_that_allow_lets_in() {
    let (server, accepted) = holding_server();
    let args = ["--allow", "127.0.0.0/8", "--deny", "127.0.0.2"];
    let mut proxy = Proxy::start(server, &args);
    let mut denied = connect_from("127.0.0.2", proxy.addr()).expect("connect");
    assert_eq!(drain(&mut denied), 0, "closed at once");
    proxy.wait_for_log("refused 127.0.0.2:");
    let _welcome = connect_from("127.0.0.3", proxy.addr()).expect("connect");
    let _held = next_server(&accepted);
    let table = proxy.stats_table_when(|t| t[0].contains("1 by --deny"));
    assert!(
        table[0].contains("0 refused by --allow, 1 by --deny"),
        "{}",
        table[0]
    );
}

#[test]
fn a_client_over_its_limit_is_closed_at_once_and_never_reaches_the_destination() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--max-per-client", "2"]);
    let first = proxy.connect();
    let first_server = next_server(&accepted);
    let _second = proxy.connect();
    let _second_server = next_server(&accepted);
    let started = Instant::now();
    let mut third = proxy.connect();
    assert_eq!(drain(&mut third), 0);
    // "At once": the refusal waits for nothing. 3 s is room for a loaded machine, and still far
    // from the 10 s (default --timeout and --connect-timeout) a refusal that waited would take.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "closed at once, not after {took:?}"
    );
    proxy.wait_for_log("over --max-per-client 2");
    let _other_address = connect_from("127.0.0.4", proxy.addr()).expect("connect");
    let _other_server = next_server(&accepted);
    assert!(
        accepted.try_recv().is_err(),
        "the third never reached the destination"
    );
    // One of its pairs ends: the client has room again.
    drop(first);
    drop(first_server);
    proxy.wait_for_log("closed:");
    let _fourth = proxy.connect();
    let _fourth_server = next_server(&accepted);
    let table = proxy.stats_table();
    assert!(table[0].contains("1 over --max-per-client"), "{}", table[0]);
}

/// HAProxy in TCP mode in front of tcpproxy, speaking PROXY protocol `version` to it.
fn balancer(to: SocketAddr, send_proxy: &str) -> Haproxy {
    Haproxy::start(&format!(
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\n\
         frontend lb\n  bind fd@3\n  default_backend to_tcpproxy\n\
         backend to_tcpproxy\n  server tcpproxy {to} {send_proxy}\n"
    ))
}

#[test]
fn the_chain_haproxy_tcpproxy_server_keeps_the_original_client() {
    for send_proxy in ["send-proxy-v2", "send-proxy"] {
        let (server, accepted) = holding_server();
        let proxy = Proxy::start(server, &["--accept-proxy", "--send-proxy", "v1"]);
        let haproxy = balancer(proxy.addr(), send_proxy);
        // The real client: a loopback address of its own, so its address is told apart.
        let mut client = connect_from("127.0.0.5", haproxy.addr).expect("connect to HAProxy");
        client.write_all(b"hi").expect("send");
        let client_addr = client.local_addr().expect("addr");
        let mut upstream = next_server(&accepted);
        let expected = format!(
            "PROXY TCP4 127.0.0.5 127.0.0.1 {} {}\r\nhi",
            client_addr.port(),
            haproxy.addr.port()
        );
        let got = read_exactly(&mut upstream, expected.len());
        assert_eq!(String::from_utf8_lossy(&got), expected, "{send_proxy}");
    }
}
