//! Bytes arrive exactly, in both directions, and half-close passes through.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use crate::kit::client::round_trip_with_half_close;
use crate::kit::data::random_bytes;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, serve};

#[test]
fn echo_200_connections_one_at_a_time_is_byte_exact() {
    let mut proxy = Proxy::start(echo_server(), &[]);
    for i in 0..200u64 {
        let len = (random_bytes(i, 3)
            .iter()
            .map(|&b| b as usize)
            .sum::<usize>()
            * 300)
            % (256 * 1024);
        let payload = random_bytes(i, len);
        let echoed = round_trip_with_half_close(proxy.connect(), payload.clone());
        assert!(
            echoed == payload,
            "connection {i}: {} bytes sent, {} back, or they differ",
            len,
            echoed.len()
        );
    }
    // Every pair's close line, whatever order they arrived in; each ended with both EOFs.
    for id in 1..=200 {
        let line = proxy.wait_for_log(&format!("pair {id} 127.0.0.1:"));
        assert!(line.contains("closed: client EOF+server EOF"), "{line}");
    }
}

#[test]
fn echo_50_connections_at_once_is_byte_exact() {
    let proxy = Proxy::start(echo_server(), &[]);
    let clients: Vec<_> = (0..50u64)
        .map(|i| {
            let stream = proxy.connect();
            thread::spawn(move || {
                let payload = random_bytes(1000 + i, 64 * 1024 + (i as usize) * 4099);
                let echoed = round_trip_with_half_close(stream, payload.clone());
                assert!(echoed == payload, "client {i}: echo differs");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
}

#[test]
fn server_speaks_first() {
    let banner = b"220 hello from the server\r\n";
    let server = serve(move |mut s| {
        let _ = s.write_all(banner);
        let mut buf = [0u8; 4];
        let _ = s.read_exact(&mut buf); // then wait for the client's "QUIT"
        let _ = s.write_all(b"221 bye\r\n");
    });
    let proxy = Proxy::start(server, &[]);
    let mut client = proxy.connect();
    let mut greeting = vec![0; banner.len()];
    client.read_exact(&mut greeting).expect("banner");
    assert_eq!(greeting, banner);
    client.write_all(b"QUIT").expect("quit");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("bye");
    assert_eq!(rest, b"221 bye\r\n");
}

#[test]
fn client_half_close_then_large_download_arrives_whole() {
    const SIZE: usize = 32 * 1024 * 1024;
    let server = serve(|mut s| {
        let mut request = Vec::new();
        let _ = s.read_to_end(&mut request); // the request ends with the client's EOF
        if request == b"GET /big\n" {
            let _ = s.write_all(&random_bytes(7, SIZE));
        }
    });
    let mut proxy = Proxy::start(server, &[]);
    let mut client = proxy.connect();
    client.write_all(b"GET /big\n").expect("request");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut body = Vec::new();
    client.read_to_end(&mut body).expect("download");
    assert_eq!(body.len(), SIZE);
    assert!(body == random_bytes(7, SIZE), "download differs");
    let line = proxy.wait_for_log("closed:");
    assert!(
        line.contains("client EOF+server EOF, up 9 B, down 33554432 B (32.0 MiB)"),
        "{line}"
    );
}

#[test]
fn close_line_names_both_addresses() {
    let server = echo_server();
    let mut proxy = Proxy::start(server, &[]);
    let client = proxy.connect();
    let client_addr = client.local_addr().expect("addr");
    round_trip_with_half_close(client, b"hello".to_vec());
    let line = proxy.wait_for_log("closed:");
    assert!(
        line.contains(&format!("{client_addr} -> {server} (via 127.0.0.1:")),
        "{line}"
    );
    assert!(line.contains("up 5 B, down 5 B"), "{line}");
}
