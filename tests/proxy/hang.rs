//! The hang rule (docs/design.md, "The hang rule"): stalls and idle pairs are cut between T and
//! T+1 s; progress is never cut.
//!
//! How each case is timed: the hang starts when the last byte moves, which the test sees as its own
//! last successful write (for a stall) or its connect (for an idle pair); the cut is when the test
//! sees the connection break. The proxy may fire up to ~0.5 s after T by design (hang.rs); the
//! upper bound allows T+1.5 s for a loaded machine. The lower bound is T-0.1 s for stalls, because
//! the flooding side's last write lands in kernel buffers a few milliseconds after the proxy's own
//! last progress.

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_with_receive_buffer, drain, flood_until_cut, read_slowly};
use crate::kit::data::assert_between;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{flood_server, holding_server, serve};
use crate::kit::PATIENCE;

const T: f64 = 1.0;

fn timeout_args() -> Vec<&'static str> {
    vec!["--timeout", "1"]
}

#[test]
fn stalled_client_reader_is_cut_after_timeout() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &timeout_args());
    let _client = proxy.connect(); // never reads, like telnet after ^]
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between("stall toward client", cut - last_ok, T - 0.1, T + 1.5);
    proxy.wait_for_log("closed: stall timeout toward client");
}

#[test]
fn stalled_server_reader_is_cut_after_timeout() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &timeout_args());
    let client = proxy.connect();
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted"); // never reads
    let (last_ok, cut) = flood_until_cut(client);
    assert_between("stall toward server", cut - last_ok, T - 0.1, T + 1.5);
    proxy.wait_for_log("closed: stall timeout toward server");
}

#[test]
fn idle_pair_is_cut_after_timeout() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &timeout_args());
    let connected = Instant::now();
    let mut client = proxy.connect();
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    drain(&mut client); // returns at the proxy's close
    assert_between("idle cut", connected.elapsed(), T, T + 1.5);
    proxy.wait_for_log("closed: idle timeout");
}

#[test]
fn trickle_download_longer_than_timeout_survives() {
    let server = serve(|mut s| {
        for i in 0..12u8 {
            // Pacing, not synchronisation: one byte every 0.3 s keeps the pair busy for 3.6 s.
            thread::sleep(Duration::from_millis(300));
            if s.write_all(&[b'a' + i]).is_err() {
                return;
            }
        }
    });
    let mut proxy = Proxy::start(server, &timeout_args());
    let mut client = proxy.connect();
    let mut body = Vec::new();
    client.read_to_end(&mut body).expect("trickle");
    assert_eq!(body, b"abcdefghijkl");
    drop(client);
    proxy.wait_for_log("closed: client EOF+server EOF");
}

#[test]
fn slow_steady_reader_survives() {
    // The server pushes as fast as it can; the client takes 32 KiB every 50 ms (640 KiB/s), so the
    // proxy's writes toward it block most of the time but always move some bytes. (On loopback the
    // client's TCP opens its window in steps of one 64 KiB segment; a reader much slower than one
    // segment per timeout is, as far as any proxy can see, not reading.)
    let proxy = Proxy::start(flood_server(), &timeout_args());
    let mut client = proxy.connect();
    read_slowly(
        &mut client,
        32 * 1024,
        Duration::from_millis(50),
        Duration::from_secs(4),
    );
}

#[test]
fn reader_slower_than_one_buffer_per_timeout_survives() {
    // A small receive window makes the client's TCP take bytes in small steps, and at 40 KiB/s
    // one write of the proxy's (64 KiB or more) takes over 1.6 s > T. Only counting partial
    // writes as progress keeps this pair alive.
    let proxy = Proxy::start(flood_server(), &timeout_args());
    let mut client = connect_with_receive_buffer(proxy.addr(), 8 * 1024);
    read_slowly(
        &mut client,
        4 * 1024,
        Duration::from_millis(100),
        Duration::from_secs(4),
    );
}

#[test]
fn upload_survives_while_the_download_direction_is_quiet() {
    // The reverse case: the client sends for 3 s while the server says nothing back. A per-socket
    // read timeout on the quiet direction would cut this; the pair's clock must not.
    let mut proxy = Proxy::start(
        serve(|mut s| {
            drain(&mut s);
            let _ = s.write_all(b"done");
        }),
        &timeout_args(),
    );
    let mut client = proxy.connect();
    for _ in 0..15 {
        client.write_all(&[b'u'; 1000]).expect("upload");
        thread::sleep(Duration::from_millis(200)); // pacing the upload
    }
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).expect("reply");
    assert_eq!(reply, b"done");
    proxy.wait_for_log("closed: client EOF+server EOF");
}

#[test]
fn idle_timeout_zero_keeps_a_quiet_pair_but_still_cuts_a_stall() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--timeout", "1", "--idle-timeout", "0"]);
    let mut quiet = proxy.connect();
    let quiet_upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    quiet
        .set_read_timeout(Some(Duration::from_millis(2500)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let err = quiet
        .read(&mut byte)
        .expect_err("a quiet pair must stay open, with nothing to read");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    (&quiet_upstream)
        .write_all(b"!")
        .expect("server speaks after 2.5 s");
    quiet.set_read_timeout(Some(PATIENCE)).expect("timeout");
    quiet
        .read_exact(&mut byte)
        .expect("the quiet pair still relays");

    // A client that never reads, under a server that floods it: the stall rule still applies.
    let _frozen = proxy.connect();
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between("stall with idle off", cut - last_ok, T - 0.1, T + 1.5);
    proxy.wait_for_log("closed: stall timeout toward client");
}

#[test]
fn default_idle_timeout_is_ten_seconds() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &[]);
    let connected = Instant::now();
    let mut client = proxy.connect();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    drain(&mut client);
    assert_between("default idle cut", connected.elapsed(), 10.0, 11.5);
    proxy.wait_for_log("closed: idle timeout");
}

#[test]
fn default_stall_timeout_is_ten_seconds() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &[]);
    let _client = proxy.connect(); // never reads
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between("default stall cut", cut - last_ok, 9.9, 11.5);
    proxy.wait_for_log("closed: stall timeout toward client");
}
