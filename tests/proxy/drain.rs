//! The stop with `--drain SECS`: the listener closes at once, live pairs run to their natural end
//! for up to SECS, the rest are reset; a second signal (a second or more after the first)
//! cuts everything and exits 130; without `--drain` a live pair is reset at once.

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{self, ping, read_until_reset};
use crate::kit::data::{assert_between, random_bytes};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, holding_server, serve};
use crate::kit::PATIENCE;

const TRANSFER: usize = 8 * 1024 * 1024;
const PIECES: usize = 32;

/// A server that sends TRANSFER bytes in PIECES pieces over about 1.5 s, then closes.
fn paced_download() -> std::net::SocketAddr {
    serve(|mut stream| {
        let data = random_bytes(12, TRANSFER);
        for piece in data.chunks(TRANSFER / PIECES) {
            if stream.write_all(piece).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(1500 / PIECES as u64)); // the pace under test
        }
    })
}

/// A server that sends a little every 50 ms until the peer goes away (at most a minute).
fn endless_trickle() -> std::net::SocketAddr {
    serve(|mut stream| {
        let give_up = Instant::now() + Duration::from_secs(60);
        while Instant::now() < give_up && stream.write_all(&[b't'; 512]).is_ok() {
            thread::sleep(Duration::from_millis(50)); // the pace under test
        }
    })
}

#[test]
fn a_transfer_that_outlives_the_signal_arrives_whole_while_new_clients_are_refused() {
    let mut proxy = Proxy::start(paced_download(), &["--drain", "10"]);
    let mut client = proxy.connect();
    let mut received = vec![0u8; 1024];
    client.read_exact(&mut received).expect("the first bytes");
    let signalled = Instant::now();
    proxy.signal("TERM");
    proxy.wait_for_log("draining 1 live pairs for up to 10 s");
    match client::try_connect(proxy.addr()) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a new client got in during the drain"),
    }
    client
        .read_to_end(&mut received)
        .expect("the rest, ending in an EOF rather than a reset");
    assert_eq!(received.len(), TRANSFER, "the download was cut short");
    assert!(
        received == random_bytes(12, TRANSFER),
        "the download differs"
    );
    drop(client); // the client's EOF: with the server's, the pair has ended on its own
    let status = proxy.wait_exit(PATIENCE).expect("exit after the drain");
    assert_eq!(status.code(), Some(0));
    // The pair finished on its own: the proxy must not sit out the rest of the 10 s.
    assert_between("signal to exit", signalled.elapsed(), 0.0, 8.0);
    proxy.wait_for_log("stopped: 1 pairs live at the stop: 1 finished, 0 cut");
    proxy.wait_for_log("summary: 1 pairs served");
}

#[test]
fn a_transfer_that_outlives_the_drain_is_reset_at_the_deadline() {
    let mut proxy = Proxy::start(endless_trickle(), &["--drain", "1"]);
    let mut client = proxy.connect();
    client.read_exact(&mut [0u8; 512]).expect("the first bytes");
    let signalled = Instant::now();
    proxy.signal("TERM");
    read_until_reset(&mut client);
    assert_between("signal to reset", signalled.elapsed(), 0.8, 4.0);
    let status = proxy.wait_exit(PATIENCE).expect("exit after the drain");
    assert_eq!(status.code(), Some(0));
    let log = proxy.log_so_far().join("\n");
    assert!(log.contains("draining 1 live pairs for up to 1 s"), "{log}");
    assert!(
        log.contains("stopped: 1 pairs live at the stop: 0 finished, 1 cut"),
        "{log}"
    );
}

#[test]
fn a_second_signal_during_the_drain_resets_every_pair_and_exits_130() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--drain", "10", "--timeout", "30"]);
    let mut client = proxy.connect();
    client.write_all(b"hi").expect("write");
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    upstream.read_exact(&mut [0u8; 2]).expect("relayed");
    proxy.signal("TERM");
    proxy.wait_for_log("draining 1 live pairs");
    // The same signal within a second is the same stop (GNU timeout sends two): a person who
    // means "again" takes longer, and so does this test.
    thread::sleep(Duration::from_millis(1200));
    let second = Instant::now();
    proxy.signal("TERM");
    let status = proxy
        .wait_exit(PATIENCE)
        .expect("exit after the second signal");
    assert_between("second signal to exit", second.elapsed(), 0.0, 2.0);
    assert_eq!(status.code(), Some(130));
    read_until_reset(&mut client);
    read_until_reset(&mut upstream);
    proxy.wait_for_log("SIGTERM received again: cutting every live pair and exiting now");
}

#[test]
fn without_drain_a_live_pair_is_reset_at_once() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &[]);
    let mut client = proxy.connect();
    client.write_all(b"hi").expect("write");
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    upstream.read_exact(&mut [0u8; 2]).expect("relayed");
    let signalled = Instant::now();
    proxy.signal("TERM");
    read_until_reset(&mut client);
    read_until_reset(&mut upstream);
    let status = proxy.wait_exit(PATIENCE).expect("exit");
    assert_between("signal to exit", signalled.elapsed(), 0.0, 2.0);
    assert_eq!(status.code(), Some(0));
    let log = proxy.log_so_far().join("\n");
    assert!(!log.contains("draining"), "{log}");
    assert!(
        log.contains("stopped: 1 pairs live at the stop: 0 finished, 1 cut"),
        "{log}"
    );
}

#[test]
fn a_drain_with_no_live_pairs_exits_at_once() {
    let mut proxy = Proxy::start(echo_server(), &["--drain", "10"]);
    let mut client = proxy.connect();
    ping(&mut client, b"in and out");
    drop(client);
    proxy.wait_for_log("closed: client EOF+server EOF");
    let signalled = Instant::now();
    proxy.signal("INT");
    let status = proxy.wait_exit(PATIENCE).expect("exit");
    assert_between("signal to exit", signalled.elapsed(), 0.0, 2.0);
    assert_eq!(status.code(), Some(0));
    let log = proxy.log_so_far().join("\n");
    assert!(!log.contains("draining"), "{log}");
    proxy.wait_for_log("stopped: 0 pairs live at the stop: 0 finished, 0 cut");
}
