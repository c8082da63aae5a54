//! The lab's answer, `examples/lab.rs`, held to the lab's rules: the bytes come back whole (also
//! after a half-close), fifty clients at once each get their own answer, a client that stops
//! reading delays nobody, a hung pair is cut between T and T+1 s while a pair that moves is never
//! cut, and a destination that is down costs its client, not the proxy.
//!
//! Each test starts the example (built by `cargo test`, or `cargo build --release --examples`)
//! as a child with listen port 0 and its own loopback servers. The hang timings are read as in
//! `hang.rs`: the hang starts at the test's own last successful write (a stall) or its connect
//! (an idle pair), and the upper bound allows T+1.5 s for a loaded machine.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{
    connect_with_receive_buffer, drain, flood_until_cut, ping, read_slowly, reset,
    round_trip_with_half_close,
};
use crate::kit::data::{assert_between, random_bytes};
use crate::kit::process::{example, run_program_to_exit};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{
    big_ok_server, dead_address, echo_server, flood_server, holding_server, serve, OK_BODY,
};
use crate::kit::PATIENCE;

/// The short hang timeout most tests give the lab, in seconds.
const T: f64 = 1.0;

/// `lab DEST_IP DEST_PORT 0 [TIMEOUT_SECS]`, once it says where it listens.
fn lab(destination: SocketAddr, timeout: Option<&str>) -> Proxy {
    let (ip, port) = (destination.ip().to_string(), destination.port().to_string());
    let mut args = vec![ip, port, "0".into()];
    args.extend(timeout.map(String::from));
    Proxy::start_program(&example("lab"), &args)
}

/// The lab with the short timeout.
fn quick_lab(destination: SocketAddr) -> Proxy {
    lab(destination, Some("1"))
}

#[test]
fn a_few_mib_of_random_bytes_come_back_identical() {
    let proxy = lab(echo_server(), None);
    let data = random_bytes(22, 4 << 20);
    let echoed = round_trip_with_half_close(proxy.connect(), data.clone());
    assert_eq!(echoed.len(), data.len(), "bytes lost or added");
    assert!(echoed == data, "the echo differs from what was sent");
}

#[test]
fn a_request_then_eof_still_gets_the_whole_answer() {
    // The server answers only after the request's EOF, as `printf 'GET /big\n' | nc -N` expects:
    // a proxy that closed both ways on the client's EOF would lose the answer.
    let answer = random_bytes(7, 1 << 20);
    let reply = answer.clone();
    let server = serve(move |mut s| {
        let mut request = Vec::new();
        if s.read_to_end(&mut request).is_ok() && request == b"GET /big\n" {
            let _ = s.write_all(&reply);
        }
    });
    let proxy = lab(server, None);
    let received = round_trip_with_half_close(proxy.connect(), b"GET /big\n".to_vec());
    assert_eq!(received.len(), answer.len(), "the answer was cut short");
    assert!(
        received == answer,
        "the answer differs from what the server sent"
    );
}

#[test]
fn fifty_clients_at_once_each_get_their_own_answer() {
    let proxy = lab(echo_server(), None);
    // All fifty pairs open at the same time (each has answered a ping) before any of them sends
    // its payload: a proxy that served one client at a time would never answer the second ping.
    let clients: Vec<TcpStream> = (0..50)
        .map(|i| {
            let mut client = proxy.connect();
            ping(&mut client, format!("client {i}").as_bytes());
            client
        })
        .collect();
    let runs: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            thread::spawn(move || {
                let data = random_bytes(1000 + i as u64, 256 * 1024);
                let echoed = round_trip_with_half_close(client, data.clone());
                assert!(
                    echoed == data,
                    "client {i} got someone else's bytes, or lost some"
                );
            })
        })
        .collect();
    for run in runs {
        run.join().expect("a client failed");
    }
}

#[test]
fn a_client_that_stops_reading_does_not_delay_another_fetch() {
    // The lab's own test: fetch BIG and stop reading (telnet after ^]), then fetch ok.
    let (server, backed_up) = big_ok_server();
    let proxy = lab(server, None); // the lab's 10 s: the frozen pair lives through the fetch
    let mut frozen = connect_with_receive_buffer(proxy.addr(), 4096);
    frozen.write_all(b"GET /~rtm/BIG\n").expect("ask for BIG");
    let mut start = [0u8; 1024];
    frozen.read_exact(&mut start).expect("BIG starts to arrive");
    backed_up
        .recv_timeout(PATIENCE)
        .expect("BIG filled every buffer back to the server");

    let started = Instant::now();
    let mut client = proxy.connect();
    client.write_all(b"GET /~rtm/ok\n").expect("ask for ok");
    let mut body = Vec::new();
    client.read_to_end(&mut body).expect("read ok");
    assert_eq!(body, OK_BODY);
    assert_between("ok beside a frozen client", started.elapsed(), 0.0, 2.0);
    drop(frozen);
}

#[test]
fn a_client_that_stops_reading_is_cut_between_t_and_t_plus_one() {
    let (server, accepted) = holding_server();
    let mut proxy = quick_lab(server);
    let _client = proxy.connect(); // never reads
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between("stall toward the client", cut - last_ok, T - 0.1, T + 1.5);
    proxy.wait_for_log("pair ended");
}

#[test]
fn a_server_that_stops_reading_is_cut_between_t_and_t_plus_one() {
    let (server, accepted) = holding_server();
    let mut proxy = quick_lab(server);
    let client = proxy.connect();
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted"); // never reads
    let (last_ok, cut) = flood_until_cut(client);
    assert_between("stall toward the server", cut - last_ok, T - 0.1, T + 1.5);
    proxy.wait_for_log("pair ended");
}

#[test]
fn a_stalled_download_is_cut_even_while_the_upload_moves() {
    // The client never reads the server's flood but sends a byte every 200 ms, which the server
    // reads: the pair is never idle, so only the stall rule (a write that moves no byte) cuts it.
    let (server, accepted) = holding_server();
    let mut proxy = quick_lab(server);
    let mut client = proxy.connect(); // never reads
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let mut reader = upstream.try_clone().expect("clone");
    thread::spawn(move || drain(&mut reader));
    let uploader = thread::spawn(move || {
        for _ in 0..100 {
            if client.write_all(b"u").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200)); // the pace of the upload, not a wait
        }
    });
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between(
        "stall beside a moving upload",
        cut - last_ok,
        T - 0.1,
        T + 1.5,
    );
    proxy.wait_for_log("stall");
    uploader.join().expect("uploader");
}

#[test]
fn a_pair_that_goes_quiet_is_cut_t_after_its_last_byte_not_later() {
    // A byte moves just after the quiet direction armed its read, then nothing does (the server
    // half-closes, so only that read is left to notice). Re-arming with the time left cuts the
    // pair T after the byte; re-arming with a fresh T would cut it almost 2T after.
    let (sender, cut) = std::sync::mpsc::channel();
    let server = serve(move |mut s| {
        thread::sleep(Duration::from_millis(150)); // "just after": the lab armed at its start
        let sent = Instant::now();
        let _ = s.write_all(b"x").and_then(|()| s.shutdown(Shutdown::Write));
        drain(&mut s); // returns at the lab's cut
        let _ = sender.send(sent.elapsed());
    });
    let proxy = lab(server, Some("3"));
    let mut client = proxy.connect();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    client.read_exact(&mut byte).expect("the one byte");
    let quiet_for = cut.recv_timeout(Duration::from_secs(20)).expect("cut");
    assert_between("cut after the last byte", quiet_for, 3.0 - 0.1, 3.0 + 1.5);
}

#[test]
fn an_idle_pair_is_cut_between_t_and_t_plus_one() {
    let (server, accepted) = holding_server();
    let mut proxy = quick_lab(server);
    let connected = Instant::now();
    let mut client = proxy.connect();
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    drain(&mut client); // returns at the lab's close
    assert_between("idle cut", connected.elapsed(), T, T + 1.5);
    proxy.wait_for_log("idle");
}

#[test]
fn a_slow_download_longer_than_t_with_a_quiet_upload_is_not_cut() {
    // The upload says nothing for 3.6 s, three times T: a per-socket read timeout would cut the
    // pair; the pair's clock sees the download moving.
    let server = serve(|mut s| {
        for i in 0..12u8 {
            thread::sleep(Duration::from_millis(300)); // the pace under test: a byte every 0.3 s
            if s.write_all(&[b'a' + i]).is_err() {
                return;
            }
        }
    });
    let mut proxy = quick_lab(server);
    let mut client = proxy.connect();
    let mut body = Vec::new();
    client.read_to_end(&mut body).expect("the trickle");
    assert_eq!(body, b"abcdefghijkl");
    assert_not_cut(&mut proxy);
}

#[test]
fn a_reader_slower_than_a_write_per_t_is_not_cut() {
    // 2 KiB every 200 ms through a 4 KiB window: one 16 KiB write of the lab's takes 1.6 s > T,
    // but moves bytes all along. Only counting partial writes as progress keeps the pair alive.
    let mut proxy = quick_lab(flood_server());
    let mut client = connect_with_receive_buffer(proxy.addr(), 4096);
    read_slowly(
        &mut client,
        2 * 1024,
        Duration::from_millis(200),
        Duration::from_secs(3),
    );
    // The reads alone cannot tell: a cut pair's kernel still sends what it had queued (a shutdown
    // discards nothing), far more than this reader takes in 3 s. The lab says when it cuts.
    assert_not_cut(&mut proxy);
}

/// The lab has ended no pair. Its line about a cut comes at once, and any cut was due seconds ago.
fn assert_not_cut(proxy: &mut Proxy) {
    let log = proxy.log_so_far();
    let cut = log.iter().find(|line| line.contains("pair ended"));
    assert!(cut.is_none(), "the pair was cut: {cut:?}");
}

#[test]
fn a_silent_client_is_cut_after_the_labs_ten_seconds() {
    let (server, accepted) = holding_server();
    let mut proxy = lab(server, None);
    let connected = Instant::now();
    let mut client = proxy.connect();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    drain(&mut client);
    assert_between("the default cut", connected.elapsed(), 10.0, 11.5);
    proxy.wait_for_log("idle");
}

#[test]
fn a_server_that_resets_ends_the_pair_at_once() {
    // The client's direction sleeps in a read with the whole 10 s ahead of it: only the other
    // thread ending the pair (the flag and the shutdown) wakes it before then.
    let (server, accepted) = holding_server();
    let proxy = lab(server, None);
    let mut client = proxy.connect();
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.write_all(b"hi").expect("greet"); // the other thread is running: it relays this
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).expect("the greeting");
    let started = Instant::now();
    reset(upstream);
    drain(&mut client);
    assert_between("closed after a server reset", started.elapsed(), 0.0, 1.5);
}

#[test]
fn a_destination_that_is_down_closes_the_client_promptly_and_the_next_is_served() {
    let destination = dead_address();
    let mut proxy = lab(destination, None);
    let started = Instant::now();
    let mut client = proxy.connect();
    drain(&mut client);
    assert_between("closed for a refused connect", started.elapsed(), 0.0, 1.5);
    proxy.wait_for_log("cannot connect");

    // The lab goes on serving: bring the destination up and the next client gets through.
    let listener = TcpListener::bind(destination).expect("rebind the destination port");
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.write_all(b"up").expect("greet");
    });
    let mut next = proxy.connect();
    next.shutdown(Shutdown::Write).expect("half-close");
    let mut greeting = Vec::new();
    next.read_to_end(&mut greeting).expect("read");
    assert_eq!(greeting, b"up");
    server.join().expect("server");
}

#[test]
fn a_bad_command_line_is_exit_2_and_a_port_in_use_exit_1() {
    let lab_binary = example("lab");
    for args in [
        &["127.0.0.1", "80"][..],
        &["127.0.0.1", "80", "0", "10", "more"],
        &["127.0.0.1", "http", "0"],
        &["127.0.0.1", "80", "0", "0"],
    ] {
        let exit = run_program_to_exit(&lab_binary, args);
        assert_eq!(exit.status, Some(2), "{args:?}: {}", exit.stderr);
        assert!(
            exit.stderr.contains("usage: lab"),
            "{args:?}: {}",
            exit.stderr
        );
    }
    let running = lab(dead_address(), None);
    let port = running.port.to_string();
    let exit = run_program_to_exit(&lab_binary, &["127.0.0.1", "80", &port]);
    assert_eq!(exit.status, Some(1), "{}", exit.stderr);
    let why = format!("cannot listen on port {port}: ");
    assert!(exit.stderr.contains(&why), "{}", exit.stderr);
}
