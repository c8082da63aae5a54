//! The log as a program reads it: `--log-format json` (one object a line, stable keys), exact byte
//! counts, fixed-width times, honest totals, the named signal, refusals counted per network, and
//! what `-q` keeps.

use std::io::{Read, Write};
use std::net::SocketAddr;

use serde_json::Value;

use crate::kit::client::{connect_from, drain};
use crate::kit::http;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{dead_address, holding_server};
use crate::kit::PATIENCE;

/// Every line so far, parsed; a line that is not a JSON object fails the test.
fn objects(proxy: &mut Proxy) -> Vec<Value> {
    let lines = proxy.log_so_far();
    lines
        .iter()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(value.is_object(), "not an object: {line}");
            value
        })
        .collect()
}

fn events<'a>(all: &'a [Value], name: &str) -> Vec<&'a Value> {
    all.iter().filter(|v| v["event"] == name).collect()
}

/// Stop with SIGTERM and wait for the summary, the last line.
fn stop(proxy: &mut Proxy) {
    proxy.signal("TERM");
    proxy.wait_for_log("summary");
    proxy
        .wait_exit(PATIENCE)
        .expect("proxy exits after SIGTERM");
}

#[test]
fn the_json_listening_event_says_where_the_metrics_endpoint_listens() {
    let (server, _accepted) = holding_server();
    let args = ["--log-format", "json", "--metrics", "127.0.0.1:0"];
    let mut proxy = Proxy::start(server, &args);
    let all = objects(&mut proxy);
    let listening = events(&all, "listening");
    let metrics = listening[0]["metrics"].as_str().expect("a metrics key");
    let address: std::net::SocketAddr = metrics.parse().expect("an address");
    assert_ne!(address.port(), 0, "the port chosen, not the 0 asked for");
    assert_eq!(http::get(address, "/metrics").status, 200);
    stop(&mut proxy);
}

#[test]
fn json_log_has_one_object_a_line_with_the_documented_keys() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--log-format", "json"]);
    let mut client = proxy.connect();
    let mut upstream = accepted
        .recv_timeout(PATIENCE)
        .expect("the pair's connection");
    let seen_by_server = upstream.peer_addr().expect("peer");
    // Exact counts: 7 bytes up, 70,000 down (68.4 KiB: a rounded count would not give it back).
    client.write_all(b"request").expect("send");
    let mut got = [0; 7];
    upstream.read_exact(&mut got).expect("arrives");
    upstream.write_all(&vec![b'd'; 70_000]).expect("answer");
    drop(upstream);
    assert_eq!(drain(&mut client), 70_000);
    drop(client);
    proxy.wait_for_log(r#""event":"pair""#);
    proxy.signal("USR1");
    proxy.wait_for_log(r#""event":"stats""#);
    stop(&mut proxy);

    let all = objects(&mut proxy);
    for line in &all {
        let time = line["time"].as_str().expect("time");
        assert_eq!(time.len(), 30, "nine fraction digits and Z: {time}");
        assert!(time.ends_with('Z') && &time[19..20] == ".", "{time}");
        for key in ["level", "thread", "event"] {
            assert!(line[key].is_string(), "no {key} in {line}");
        }
    }
    let listening = events(&all, "listening");
    assert_eq!(listening.len(), 1);
    assert!(listening[0]["listen"]
        .as_str()
        .expect("listen")
        .ends_with(&format!(":{}", proxy.port)));
    assert_eq!(listening[0]["destination"], server.to_string());
    assert!(
        listening[0].get("metrics").is_none(),
        "no --metrics, no key"
    );

    let pair = events(&all, "pair");
    assert_eq!(pair.len(), 1, "{all:?}");
    assert_pair_event(pair[0], proxy.port, seen_by_server, server);
    assert_the_stats_stop_and_summary(&all);
}

/// The one pair of that test: 7 bytes up, 70,000 down, both ends clean.
fn assert_pair_event(pair: &Value, port: u16, seen_by_server: SocketAddr, server: SocketAddr) {
    assert_eq!(pair["id"], 1);
    assert!(pair["client"]
        .as_str()
        .expect("client")
        .starts_with("127.0.0.1:"));
    let listen = format!("127.0.0.1:{}", port);
    assert_eq!(
        pair["listen"], listen,
        "an IPv4 client reached an IPv4 address"
    );
    assert_eq!(
        pair["source"],
        seen_by_server.to_string(),
        "what the server saw"
    );
    assert_eq!(pair["destination"], server.to_string());
    assert_eq!(
        (pair["bytes_up"].as_u64(), pair["bytes_down"].as_u64()),
        (Some(7), Some(70_000))
    );
    assert!(pair["duration_s"].as_f64().expect("seconds") >= 0.0);
    assert_eq!(pair["reason"], "both_eof");
    assert_eq!(pair["reason_text"], "client EOF+server EOF");
}

/// The stats report asked for after the pair, the stop, and the summary of that test.
fn assert_the_stats_stop_and_summary(all: &[Value]) {
    let stats = events(all, "stats");
    assert_eq!(stats.len(), 1, "one object for the whole report");
    assert_eq!(stats[0]["pairs_served"], 1);
    assert_eq!(stats[0]["bytes_down"], 70_000);
    assert!(stats[0]["pairs"].as_array().expect("rows").is_empty());
    let message = stats[0]["message"].as_str().expect("message");
    assert!(message.starts_with("stats: 0 pairs live") && !message.contains('\n'));

    let stop = events(all, "stop");
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0]["signal"], "SIGTERM");
    let summary = events(all, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["pairs_reached"], 1);
    assert_eq!(summary[0]["pairs_not_reached"], 0);
    assert_eq!(summary[0]["bytes_down"], 70_000);
}

#[test]
fn a_stats_report_in_json_holds_every_live_row() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--log-format", "json"]);
    let mut clients = Vec::new();
    let mut held = Vec::new();
    for _ in 0..2 {
        clients.push(proxy.connect());
        held.push(accepted.recv_timeout(PATIENCE).expect("connected"));
    }
    proxy.signal("USR1");
    let line = proxy.wait_for_log(r#""event":"stats""#);
    let stats: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(stats["pairs_live"], 2);
    let rows = stats["pairs"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{line}");
    for row in rows {
        for key in [
            "id",
            "client",
            "destination",
            "age_s",
            "bytes_up",
            "bytes_down",
        ] {
            assert!(!row[key].is_null(), "no {key} in {row}");
        }
        for dir in ["c_to_s", "s_to_c"] {
            let state = row[dir]["state"].as_str().expect("state");
            assert!(["connecting", "reading"].contains(&state), "{row}");
            assert!(row[dir]["pending_bytes"].is_u64() && row[dir]["seconds"].is_f64());
        }
    }
}

#[test]
fn the_summary_tells_pairs_that_reached_the_destination_from_those_that_did_not() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &[]);
    let mut served = proxy.connect();
    ping_through(&mut served, &accepted);
    drop(served);
    proxy.wait_for_log("closed: client EOF+server EOF");
    stop(&mut proxy);
    let summary = proxy.wait_for_log("summary: ");
    assert!(
        summary.contains("1 pairs served (1 reached the destination, 0 did not)"),
        "{summary}"
    );

    let mut nowhere = Proxy::start(dead_address(), &[]);
    let mut refused = nowhere.connect();
    assert_eq!(drain(&mut refused), 0);
    nowhere.wait_for_log("connect failed");
    stop(&mut nowhere);
    let summary = nowhere.wait_for_log("summary: ");
    assert!(
        summary.contains("1 pairs served (0 reached the destination, 1 did not)"),
        "{summary}"
    );
}

/// One byte each way between `client` and the server's side of its pair.
fn ping_through(
    client: &mut std::net::TcpStream,
    accepted: &std::sync::mpsc::Receiver<std::net::TcpStream>,
) {
    let mut upstream = accepted.recv_timeout(PATIENCE).expect("connected");
    client.write_all(b"x").expect("send");
    let mut byte = [0];
    upstream.read_exact(&mut byte).expect("arrives");
    upstream.write_all(b"y").expect("answer");
    client.read_exact(&mut byte).expect("answer arrives");
    drop(upstream);
}

#[test]
fn quiet_keeps_the_listening_line_the_stop_and_the_summary_only() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["-q"]); // waits for the listening line
    let mut client = proxy.connect();
    ping_through(&mut client, &accepted);
    drop(client);
    proxy.signal("USR1"); // stats are silenced too
    stop(&mut proxy);
    let log = proxy.log_so_far().join("\n");
    assert!(log.contains("SIGTERM received: stopping"), "{log}");
    assert!(log.contains("summary: 1 pairs served"), "{log}");
    assert!(!log.contains("closed:"), "a pair line under -q: {log}");
    assert!(!log.contains("stats"), "a stats table under -q: {log}");
}

#[test]
fn refusals_are_counted_per_client_network() {
    let mut proxy = Proxy::start(
        dead_address(),
        &["--allow", "127.0.0.1/32", "--log-format", "json"],
    );
    // 127.0.0.2 and 127.0.1.2 are in different /24s; both reach lo.
    for (source, times) in [("127.0.0.2", 10), ("127.0.1.2", 5)] {
        for _ in 0..times {
            let mut outsider = connect_from(source, proxy.addr()).expect("connect");
            assert_eq!(drain(&mut outsider), 0, "refused at once");
        }
    }
    stop(&mut proxy); // the stop reports what was still held back
    let all = objects(&mut proxy);
    let refused = events(&all, "refused");
    let total: u64 = refused
        .iter()
        .map(|r| r["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(total, 15, "{refused:?}");
    let mut per_network = std::collections::BTreeMap::new();
    for report in &refused {
        if let Some(client) = report["client"].as_str() {
            *per_network.entry(network_of(client)).or_insert(0) += 1;
        }
        for net in report["networks"].as_array().into_iter().flatten() {
            let name = net["network"].as_str().expect("network").to_string();
            *per_network.entry(name).or_insert(0) += net["count"].as_u64().expect("count");
        }
    }
    assert_eq!(
        per_network.get("127.0.0.0/24"),
        Some(&10),
        "{per_network:?}"
    );
    assert_eq!(per_network.get("127.0.1.0/24"), Some(&5), "{per_network:?}");
    assert!(refused.len() < 15, "every refusal got its own line");
}

/// "127.0.1.2:5555" -> "127.0.1.0/24"
fn network_of(client: &str) -> String {
    let ip = client.split(':').next().expect("ip");
    let mut octets: Vec<&str> = ip.split('.').collect();
    octets[3] = "0";
    format!("{}/24", octets.join("."))
}

#[test]
fn text_times_are_always_nine_fraction_digits() {
    let (server, _accepted) = holding_server();
    let mut proxy = Proxy::start(server, &[]);
    let _idle = proxy.connect();
    proxy.signal("USR1");
    proxy.wait_for_log("stats: ");
    for line in proxy.log_so_far() {
        let time = line.split(' ').next().expect("time");
        assert_eq!(time.len(), 30, "{line}");
        assert!(time.ends_with('Z'), "{line}");
    }
}

#[test]
fn a_pair_whose_client_reset_names_the_address_it_reached_not_the_wildcard() {
    let (server, accepted) = holding_server();
    // The default listener is [::], dual-stack: the address an IPv4 client reached is 127.0.0.1,
    // and a reset socket would report the wildcard instead.
    let mut proxy = Proxy::start(server, &["--log-format", "json"]);
    let client = connect_from("127.0.0.1", proxy.addr()).expect("connect");
    let _upstream = accepted.recv_timeout(PATIENCE).expect("the pair connected");
    crate::kit::client::reset(client);
    proxy.wait_for_log(r#""event":"pair""#);
    stop(&mut proxy);
    let all = objects(&mut proxy);
    let pair = events(&all, "pair");
    assert_eq!(pair.len(), 1, "{all:?}");
    assert_eq!(pair[0]["reason"], "client_reset");
    assert_eq!(pair[0]["listen"], format!("127.0.0.1:{}", proxy.port));
}

#[test]
fn a_pair_refused_for_a_bad_proxy_header_names_the_address_it_reached() {
    let mut proxy = Proxy::start(dead_address(), &["--log-format", "json", "--accept-proxy"]);
    let mut client = connect_from("127.0.0.1", proxy.addr()).expect("connect");
    client
        .write_all(b"GARBAGE\r\n")
        .expect("a header that is none");
    drain(&mut client);
    proxy.wait_for_log(r#""event":"pair""#);
    stop(&mut proxy);
    let all = objects(&mut proxy);
    let pair = events(&all, "pair");
    assert_eq!(pair[0]["reason"], "bad_proxy_header");
    assert_eq!(pair[0]["listen"], format!("127.0.0.1:{}", proxy.port));
}
