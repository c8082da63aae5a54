//! No client or server can hang the proxy or delay other pairs, and a pair that ends
//! badly leaves nothing behind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain, ping, reset};
use crate::kit::process::run_to_exit;
use crate::kit::procfs::{proc_stats, tcp_sockets_of};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{dead_address, echo, echo_server, flood, holding_server, serve};
use crate::kit::PATIENCE;

/// A server that floods a client whose first byte is `F`, and echoes everyone else.
fn flood_or_echo_server() -> SocketAddr {
    serve(|mut s| {
        let mut first = [0u8; 1];
        if s.read_exact(&mut first).is_err() {
            return;
        }
        if first[0] == b'F' {
            flood(s);
        } else if s.write_all(&first).is_ok() {
            echo(s);
        }
    })
}

#[test]
fn one_stalled_client_does_not_delay_twenty_others() {
    let mut proxy = Proxy::start(flood_or_echo_server(), &["--timeout", "5"]);
    let mut frozen = proxy.connect();
    frozen.write_all(b"F").expect("ask for the flood"); // then never read, like telnet after ^]
    let stalled = |table: &[String]| {
        table.iter().skip(2).any(|row| {
            row.split_whitespace().next() == Some("1") && row.contains("writing, blocked")
        })
    };
    let table = proxy.stats_table_when(stalled);
    assert!(
        stalled(&table),
        "pair 1 never stalled toward its client:\n{}",
        table.join("\n")
    );
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let mut client = proxy.connect();
            thread::spawn(move || {
                for round in 0..10 {
                    let rtt = ping(&mut client, format!("client {i} round {round}").as_bytes());
                    assert!(
                        rtt < Duration::from_secs(1),
                        "client {i} round {round}: {rtt:?}"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    // The frozen pair is still stalled, and still there: its time (5 s) has not come yet.
    let table = proxy.stats_table();
    assert!(stalled(&table), "pair 1 is gone:\n{}", table.join("\n"));
    let mut flood = [0u8; 1];
    frozen
        .read_exact(&mut flood)
        .expect("the frozen pair still relays");
    assert_eq!(&flood, b"z");
}

#[test]
fn refused_destination_closes_the_client_quickly_and_the_next_is_served() {
    let destination = dead_address();
    let mut proxy = Proxy::start(destination, &[]);
    let started = Instant::now();
    let mut client = proxy.connect();
    drain(&mut client);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "client closed after {:?}",
        started.elapsed()
    );
    let line = proxy.wait_for_log("closed: connect failed");
    assert!(
        line.contains("WARN"),
        "a failed connect is a warning: {line}"
    );

    // The proxy keeps serving: bring the destination up and the next client gets through.
    let listener = TcpListener::bind(destination).expect("rebind the destination port");
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.write_all(b"up").expect("greet");
    });
    let mut next = proxy.connect();
    let mut greeting = Vec::new();
    next.read_to_end(&mut greeting).expect("read");
    assert_eq!(greeting, b"up");
    server.join().expect("server");
}

#[test]
fn client_reset_ends_the_pair_and_frees_its_descriptors() {
    let mut proxy = Proxy::start(echo_server(), &[]);
    let baseline = proc_stats(proxy.pid()).fds;
    let mut client = proxy.connect();
    ping(&mut client, b"hello");
    assert!(
        proc_stats(proxy.pid()).fds >= baseline + 2,
        "a live pair holds two sockets"
    );
    reset(client);
    proxy.wait_for_log("closed: client reset");
    // The close line is written after the sockets are closed, so no waiting is needed here.
    assert_eq!(proc_stats(proxy.pid()).fds, baseline);
}

#[test]
fn server_reset_ends_the_pair_and_frees_its_descriptors() {
    let server = serve(|mut s| {
        let mut buf = [0u8; 5];
        if s.read_exact(&mut buf).is_ok() {
            reset(s); // the client's request is answered with a RST
        }
    });
    let mut proxy = Proxy::start(server, &[]);
    let baseline = proc_stats(proxy.pid()).fds;
    let mut client = proxy.connect();
    client.write_all(b"hello").expect("send");
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest); // EOF or reset: either way the proxy let go
    proxy.wait_for_log("closed: server reset");
    assert_eq!(proc_stats(proxy.pid()).fds, baseline);
}

#[test]
fn max_connections_two_holds_a_third_client_until_one_ends() {
    let mut proxy = Proxy::start(echo_server(), &["--max-connections", "2"]);
    let mut first = proxy.connect();
    let mut second = proxy.connect();
    ping(&mut first, b"one");
    ping(&mut second, b"two");
    let mut third = proxy.connect(); // the kernel's backlog takes it; the proxy does not
    third.write_all(b"three").expect("send");
    proxy.wait_for_log("waiting for one to end");
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut reply = [0u8; 5];
    assert!(
        third.read(&mut reply).is_err(),
        "the third client was served beyond the limit"
    );

    drop(first);
    third.set_read_timeout(Some(PATIENCE)).expect("timeout");
    third
        .read_exact(&mut reply)
        .expect("served once a slot is free");
    assert_eq!(&reply, b"three");
    ping(&mut second, b"still two");
}

#[test]
fn client_outside_allow_is_closed_without_reaching_the_destination() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--allow", "10.0.0.0/8", "--allow", "::1"]);
    let mut client = proxy.connect();
    assert_eq!(drain(&mut client), 0);
    proxy.wait_for_log("refused 127.0.0.1:");
    assert!(
        accepted.recv_timeout(Duration::from_millis(300)).is_err(),
        "destination was contacted"
    );
}

#[test]
fn client_inside_allow_is_served() {
    let proxy = Proxy::start(echo_server(), &["--allow", "127.0.0.0/8"]);
    let mut client = proxy.connect();
    ping(&mut client, b"inside");
}

#[test]
fn both_sockets_of_a_pair_have_tcp_nodelay() {
    let proxy = Proxy::start(echo_server(), &[]);
    let mut client = proxy.connect();
    ping(&mut client, b"interactive");
    let sockets = tcp_sockets_of(proxy.pid());
    assert_eq!(
        sockets.len(),
        2,
        "one pair: a client socket and a destination socket"
    );
    for socket in sockets {
        assert!(
            socket.tcp_nodelay().expect("getsockopt"),
            "TCP_NODELAY is off on {:?}",
            socket.peer_addr()
        );
    }
}

#[test]
fn ipv4_mapped_allow_network_means_its_ipv4_network() {
    // ::ffff:127.0.0.1/128 is the one IPv4 address 127.0.0.1, written the IPv6 way.
    let mut proxy = Proxy::start(echo_server(), &["--allow", "::ffff:127.0.0.1/128"]);
    ping(&mut proxy.connect(), b"inside");
    let mut outsider = connect_from("127.0.0.2", proxy.addr()).expect("connect from 127.0.0.2");
    assert_eq!(drain(&mut outsider), 0, "127.0.0.2 is not 127.0.0.1");
    proxy.wait_for_log("refused 127.0.0.2:");

    // /120 of a mapped address is /24 of the IPv4 one.
    let proxy = Proxy::start(echo_server(), &["--allow", "::ffff:127.0.0.0/120"]);
    let mut neighbour = connect_from("127.0.0.2", proxy.addr()).expect("connect from 127.0.0.2");
    ping(&mut neighbour, b"in 127.0.0.0/24");

    // Shorter than /96 reaches outside the mapped range: that is not an IPv4 network.
    let exit = run_to_exit(&["--allow", "::ffff:0:0/95", "127.0.0.1", "80", "0"]);
    assert_eq!(exit.status, Some(2), "{}", exit.stderr);
    assert!(exit.stderr.contains("::ffff:0:0/95"), "{}", exit.stderr);
}
