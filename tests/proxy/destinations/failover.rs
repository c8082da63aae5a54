//! Failover within a pair and passive health: a destination that drops SYNs or refuses is tried,
//! failed over from, marked down, skipped, and tried again after `--fail-timeout`.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::start;
use crate::kit::backends::{reach, Backend};
use crate::kit::data::assert_between;
use crate::kit::proxy::Proxy;
use crate::kit::servers::DeafDestination;

const CONNECT_TIMEOUT: &str = "0.5";
const FAIL_TIMEOUT_S: f64 = 1.5;

/// What a client sees: the time from its connect to the first line of the backend that answered.
fn timed_reach(proxy: &Proxy) -> (String, Duration) {
    let started = Instant::now();
    let (who, _connection) = reach(proxy.addr());
    (who, started.elapsed())
}

#[test]
fn a_syn_dropping_primary_costs_the_first_client_one_connect_timeout_and_the_next_none() {
    let deaf = DeafDestination::start();
    let standby = Backend::start("127.0.0.2");
    let fail_timeout = FAIL_TIMEOUT_S.to_string();
    let args = [
        "--connect-timeout",
        CONNECT_TIMEOUT,
        "--fail-timeout",
        &fail_timeout,
    ];
    let mut proxy = start(deaf.addr, &[standby.addr], &args);
    let primary = deaf.addr.to_string();

    let (who, first) = timed_reach(&proxy);
    assert_eq!(who, standby.addr.to_string());
    assert_between(
        "the first client, failed over from a SYN-dropping primary",
        first,
        0.45,
        2.5,
    );
    let down = proxy.wait_for_log(&format!("destination {primary} down: "));
    assert!(down.contains(&format!("{primary}: timed out")), "{down}");
    assert!(
        down.contains("skipped while another is up, for 1.5 s"),
        "{down}"
    );
    let line = proxy.wait_for_log(") pair 1 ");
    assert!(
        line.contains(&format!("(after {primary} failed)")),
        "{line}"
    );

    the_next_clients_skip_the_down_primary(&mut proxy, standby.addr);

    // Once --fail-timeout is over, a client tries the primary again: down again, at once.
    thread::sleep(Duration::from_secs_f64(FAIL_TIMEOUT_S));
    let (who, again) = timed_reach(&proxy);
    assert_eq!(who, standby.addr.to_string());
    assert_between("a client after --fail-timeout", again, 0.45, 2.5);
    proxy.wait_for_log(&format!("destination {primary} up: --fail-timeout over"));
    let log = proxy.log_so_far();
    let downs = log
        .iter()
        .filter(|l| l.contains(&format!("{primary} down:")))
        .count();
    assert_eq!(downs, 2, "each change is logged once: {log:#?}");
    assert!(proxy
        .wait_for_log(") pair 7 ")
        .contains(&format!("after {primary} failed")));
    drop(deaf);
}

/// Pairs 2 to 6 go straight to the standby: no wait, no failover.
fn the_next_clients_skip_the_down_primary(proxy: &mut Proxy, standby: SocketAddr) {
    let mut next = Vec::new();
    for _ in 0..5 {
        let (who, delay) = timed_reach(proxy);
        assert_eq!(who, standby.to_string(), "the down primary is skipped");
        next.push(delay);
    }
    eprintln!("the next 5 clients' delays: {next:?}");
    let slowest = next.iter().max().expect("five delays");
    assert!(
        *slowest < Duration::from_millis(400),
        "a later client waited: {next:?}"
    );
    for id in 2..=6 {
        let line = proxy.wait_for_log(&format!(") pair {id} "));
        assert!(
            !line.contains("after"),
            "pair {id} tried the down primary: {line}"
        );
    }
}

/// The `pair` event of pair `id`, from a `--log-format json` proxy.
fn pair_event(proxy: &mut Proxy, id: u64) -> Value {
    let line = proxy.wait_for_log(&format!(r#""event":"pair","id":{id},"#));
    serde_json::from_str(&line).expect("a JSON pair event")
}

#[test]
fn a_destination_killed_mid_run_is_failed_over_skipped_and_used_again_once_back() {
    let primary = Backend::start("127.0.0.2");
    let standby = Backend::start("127.0.0.3");
    let fail_timeout = FAIL_TIMEOUT_S.to_string();
    let args = ["--log-format", "json", "--fail-timeout", &fail_timeout];
    let mut proxy = start(primary.addr, &[standby.addr], &args);
    let (p, s) = (primary.addr.to_string(), standby.addr.to_string());
    for _ in 0..3 {
        assert_eq!(reach(proxy.addr()).0, p);
    }
    let served = pair_event(&mut proxy, 1);
    assert_eq!(served["destination"], p);
    assert_eq!(served["destination_name"], p);
    assert_eq!(served["failed_over"], serde_json::json!([]));

    primary.kill();
    assert_eq!(reach(proxy.addr()).0, s, "refused: failed over");
    // The primary was marked down inside that pair, before its answer came: --fail-timeout has
    // surely run out a --fail-timeout from now (from the kill, a loaded machine could be late).
    let marked_down_by = Instant::now();
    let failed_over = pair_event(&mut proxy, 4);
    assert_eq!(failed_over["destination"], s);
    assert_eq!(failed_over["destination_name"], s);
    assert_eq!(failed_over["failed_over"], serde_json::json!([p]));
    let down = proxy.wait_for_log(r#""event":"destination""#);
    let down: Value = serde_json::from_str(&down).expect("JSON");
    assert_eq!(
        (down["destination"].as_str(), down["state"].as_str()),
        (Some(&*p), Some("down"))
    );
    assert!(
        down["reason"]
            .as_str()
            .is_some_and(|r| r.contains("refused")),
        "{down}"
    );
    for id in 5..=7 {
        assert_eq!(reach(proxy.addr()).0, s);
        assert_eq!(
            pair_event(&mut proxy, id)["failed_over"],
            serde_json::json!([])
        );
    }

    primary.revive();
    thread::sleep(Duration::from_secs_f64(FAIL_TIMEOUT_S).saturating_sub(marked_down_by.elapsed()));
    assert_eq!(reach(proxy.addr()).0, p, "back after --fail-timeout");
    assert_eq!(
        pair_event(&mut proxy, 8)["failed_over"],
        serde_json::json!([])
    );
    proxy.wait_for_log(r#""state":"up""#);
    assert_eq!((primary.accepted(), standby.accepted()), (4, 4));
}

#[test]
fn when_every_destination_refuses_each_is_tried_once_then_the_client_is_reset() {
    let (a, b) = (Backend::start("127.0.0.2"), Backend::start("127.0.0.3"));
    let mut proxy = start(a.addr, &[b.addr], &["--balance", "round-robin"]);
    a.kill();
    b.kill();
    for id in 1..=2 {
        let mut client = proxy.connect();
        let read = std::io::Read::read(&mut client, &mut [0u8; 1]);
        let kind = read.expect_err("the client is reset").kind();
        assert_eq!(kind, std::io::ErrorKind::ConnectionReset);
        let line = proxy.wait_for_log(&format!(") pair {id} "));
        assert!(line.contains("closed: connect failed ("), "{line}");
        for backend in [&a, &b] {
            assert_eq!(
                line.matches(&backend.addr.to_string()).count(),
                2,
                "once each: {line}"
            );
        }
    }
    // Both down: the next client still tries both (nginx's rule), never refused on memory alone.
    let line = proxy.wait_for_log(") pair 2 ");
    assert!(line.contains("failed)"), "{line}");
}
