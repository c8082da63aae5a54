//! Aborts are resets, ends are FINs: whenever a pair ends other than by both sides' EOF, the proxy
//! resets both its sockets, so no peer takes a cut for a finished transfer; a normal end stays a
//! half-close and a FIN.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use crate::kit::client::{self, flood_until_cut, ping, read_until_reset};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{dead_address, holding_server, FaultyDestination};
use crate::kit::PATIENCE;

#[test]
fn a_destination_reset_resets_the_client() {
    let destination = FaultyDestination::start();
    let mut proxy = Proxy::start(destination.addr, &["--timeout", "5"]);
    let mut client = proxy.connect();
    ping(&mut client, b"first an echo");
    client
        .write_all(b"R")
        .expect("the request that is answered with a reset");
    read_until_reset(&mut client);
    proxy.wait_for_log("closed: ");
}

#[test]
fn a_client_reset_resets_the_destination() {
    let (server, accepted) = holding_server();
    let proxy = Proxy::start(server, &["--timeout", "5"]);
    let mut client = proxy.connect();
    client.write_all(b"hello").expect("write");
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut hello = [0u8; 5];
    upstream.read_exact(&mut hello).expect("the relayed hello");
    client::reset(client);
    read_until_reset(&mut upstream);
}

#[test]
fn an_idle_cut_resets_both_sides() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--idle-timeout", "1"]);
    let mut client = proxy.connect();
    client
        .write_all(b"one byte each way, then silence")
        .expect("write");
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut request = [0u8; 31];
    upstream.read_exact(&mut request).expect("relayed");
    read_until_reset(&mut client);
    read_until_reset(&mut upstream);
    proxy.wait_for_log("closed: idle timeout");
}

#[test]
fn a_stall_cut_resets_the_stalled_client() {
    // The client stops reading while the server floods: the stall toward the client is cut. The
    // flooding destination cannot tell a reset from a FIN (a close with unread data is a reset
    // either way), so only the client is checked here; the idle cut checks both.
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--timeout", "1"]);
    let mut client = client::connect_with_receive_buffer(proxy.addr(), 4096);
    let upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let flooder = thread::spawn(move || flood_until_cut(upstream));
    proxy.wait_for_log("closed: stall timeout toward client");
    // What the client had buffered comes first; then the reset, never an EOF.
    read_until_reset(&mut client);
    flooder.join().expect("flooder");
}

#[test]
fn an_unreachable_destination_resets_the_client() {
    let mut proxy = Proxy::start(dead_address(), &["--timeout", "5"]);
    let mut client = proxy.connect();
    read_until_reset(&mut client);
    proxy.wait_for_log("closed: connect failed");
}

#[test]
fn a_normal_end_is_a_fin_both_ways() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--timeout", "5"]);
    let mut client = proxy.connect();
    client.write_all(b"request").expect("write");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("server accepted");
    upstream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut request = Vec::new();
    upstream
        .read_to_end(&mut request)
        .expect("the request, then EOF");
    assert_eq!(request, b"request");
    assert_eq!(upstream.read(&mut [0u8; 8]).expect("EOF again"), 0);
    upstream.write_all(b"response").expect("answer");
    upstream
        .shutdown(Shutdown::Write)
        .expect("half-close in return");
    let mut response = Vec::new();
    client
        .read_to_end(&mut response)
        .expect("the response, then EOF");
    assert_eq!(response, b"response");
    assert_eq!(client.read(&mut [0u8; 8]).expect("EOF again"), 0);
    proxy.wait_for_log("closed: client EOF+server EOF");
}
