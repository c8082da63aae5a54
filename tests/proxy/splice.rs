//! `--copy-mode splice` keeps every promise the copy keeps: exact bytes, half-close, the hang rule.
//! `--max-connections 1000` leaves the open-file limit room for pipes (the default spends it all
//! on sockets, and splice then falls back to the copy).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use crate::kit::client::{drain, flood_until_cut, read_slowly, round_trip_with_half_close};
use crate::kit::data::{assert_between, random_bytes};
use crate::kit::procfs::pipe_count;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, flood_server, holding_server, serve};
use crate::kit::PATIENCE;

const SPLICE: [&str; 4] = ["--copy-mode", "splice", "--max-connections", "1000"];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    SPLICE.iter().chain(extra).copied().collect()
}

#[test]
fn spliced_echo_of_50_connections_at_once_is_byte_exact() {
    let mut proxy = Proxy::start(echo_server(), &SPLICE);
    let budget = proxy.wait_for_log("splice: up to ");
    assert!(!budget.contains("up to 0 pipes"), "{budget}");
    let clients: Vec<_> = (0..50u64)
        .map(|i| {
            let stream = proxy.connect();
            thread::spawn(move || {
                let payload = random_bytes(5000 + i, 100_000 + (i as usize) * 7919);
                let echoed = round_trip_with_half_close(stream, payload.clone());
                assert!(echoed == payload, "client {i}: echo differs");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
}

#[test]
fn spliced_half_close_then_large_download_arrives_whole() {
    const SIZE: usize = 16 * 1024 * 1024;
    let server = serve(|mut s| {
        let mut request = Vec::new();
        let _ = s.read_to_end(&mut request);
        let _ = s.write_all(&random_bytes(9, SIZE));
    });
    let mut proxy = Proxy::start(server, &SPLICE);
    let mut client = proxy.connect();
    client.write_all(b"GET /big\n").expect("request");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut body = Vec::new();
    client.read_to_end(&mut body).expect("download");
    assert!(
        body == random_bytes(9, SIZE),
        "download differs ({} bytes)",
        body.len()
    );
    let line = proxy.wait_for_log("closed:");
    assert!(
        line.contains("client EOF+server EOF, up 9 B, down 16777216 B (16.0 MiB)"),
        "{line}"
    );
}

#[test]
fn spliced_stalled_client_is_cut_after_timeout() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &with(&["--timeout", "1"]));
    let _client = proxy.connect();
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let (last_ok, cut) = flood_until_cut(upstream);
    assert_between("spliced stall toward client", cut - last_ok, 0.9, 2.5);
    proxy.wait_for_log("closed: stall timeout toward client");
}

#[test]
fn spliced_idle_pair_is_cut_and_slow_reader_survives() {
    let proxy = Proxy::start(flood_server(), &with(&["--timeout", "1"]));
    let pipes_before = pipe_count(proxy.pid());
    let mut slow = proxy.connect();
    read_slowly(
        &mut slow,
        32 * 1024,
        Duration::from_millis(50),
        Duration::from_secs(3),
    );
    // Still live, and spliced: each direction holds a pipe (two descriptors), not a buffer.
    let pipes = pipe_count(proxy.pid());
    assert!(
        pipes >= pipes_before + 4,
        "{pipes} pipe descriptors with a live spliced pair, {pipes_before} before it"
    );
    drop(slow);
    let (server, accepted) = holding_server();
    let mut idle_proxy = Proxy::start(server, &with(&["--timeout", "1"]));
    let mut idle = idle_proxy.connect();
    let _upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    drain(&mut idle);
    idle_proxy.wait_for_log("closed: idle timeout");
}
