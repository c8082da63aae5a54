//! `/healthz` and `/ready` on the `--metrics` address, with active checks: ready while a
//! destination is up, 503 while every one is down, ready again when one is back, and 503 from the
//! moment a stop closes the listener, through `--drain`.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::backends::{reach, try_reach, Backend};
use crate::kit::data::assert_between;
use crate::kit::haproxy::Haproxy;
use crate::kit::http::{get, Answer};
use crate::kit::proxy::Proxy;
use crate::kit::servers::DeafDestination;
use crate::kit::PATIENCE;
use crate::metrics::value;

const CHECK_INTERVAL_S: f64 = 0.2;

/// Ask `path` until its status is `status` (the checks run every 0.2 s); the answer.
fn until_status(endpoint: SocketAddr, path: &str, status: u16) -> Answer {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let answer = get(endpoint, path);
        if answer.status == status {
            return answer;
        }
        assert!(
            Instant::now() < give_up,
            "{path} never said {status}: {}",
            answer.body
        );
        thread::sleep(Duration::from_millis(50)); // polling: a state has no change event
    }
}

#[test]
fn ready_follows_the_destinations_up_all_down_and_up_again_and_says_503_while_draining() {
    let (a, b) = (Backend::start("127.0.0.2"), Backend::start("127.0.0.3"));
    let b_name = b.addr.to_string();
    let interval = CHECK_INTERVAL_S.to_string();
    let args = [
        "--check-interval",
        &interval,
        "--connect-timeout",
        "0.5",
        "--drain",
        "10",
        "--destination",
        &b_name,
    ];
    let (mut proxy, endpoint) = Proxy::start_with_metrics(a.addr, &args);
    let listening = proxy.wait_for_log("listening on ");
    assert!(listening.contains("checked every 0.2 s"), "{listening}");
    assert_eq!(get(endpoint, "/healthz").status, 200);
    let ready = get(endpoint, "/ready");
    assert_eq!(
        (ready.status, ready.header("Cache-Control")),
        (200, Some("no-store"))
    );

    a.kill();
    b.kill();
    let not_ready = until_status(endpoint, "/ready", 503);
    assert!(
        not_ready.body.contains("every destination is down"),
        "{}",
        not_ready.body
    );
    assert!(
        not_ready
            .head
            .starts_with("HTTP/1.1 503 Service Unavailable"),
        "{}",
        not_ready.head
    );
    assert_eq!(
        get(endpoint, "/healthz").status,
        200,
        "alive though nothing is up"
    );
    let down = proxy.wait_for_log(&format!("destination {b_name} down: a check failed: "));
    assert!(down.contains("until a check reaches it"), "{down}");

    thread::sleep(Duration::from_secs_f64(3.0 * CHECK_INTERVAL_S)); // three more failed checks
    b.revive();
    until_status(endpoint, "/ready", 200);
    proxy.wait_for_log(&format!(
        "destination {b_name} up: a check reached it after "
    ));
    let log = proxy.log_so_far();
    for name in [a.addr.to_string(), b_name.clone()] {
        let downs = log.iter().filter(|l| l.contains(&format!("{name} down:")));
        assert_eq!(
            downs.count(),
            1,
            "checks that keep failing log nothing more: {log:#?}"
        );
    }

    a_stop_is_not_ready_while_it_drains(proxy, endpoint, &b_name);
}

/// A live pair, then a stop: the listener closes, /ready says so while the pair drains.
fn a_stop_is_not_ready_while_it_drains(mut proxy: Proxy, endpoint: SocketAddr, reached: &str) {
    let (who, live) = reach(proxy.addr());
    assert_eq!(who, reached);
    proxy.signal("TERM");
    proxy.wait_for_log("draining 1 live pairs");
    let stopping = get(endpoint, "/ready");
    assert_eq!(stopping.status, 503, "{}", stopping.body);
    assert!(stopping.body.contains("stopping"), "{}", stopping.body);
    assert_eq!(get(endpoint, "/healthz").status, 200);
    drop(live);
    let status = proxy
        .wait_exit(PATIENCE)
        .expect("exits once the pair is done");
    assert!(status.success(), "{status}");
}

/// Connect through `to` until `wanted(answer)`, at most PATIENCE.
fn connect_until(to: SocketAddr, wanted: impl Fn(&Option<String>) -> bool) {
    let give_up = Instant::now() + PATIENCE;
    while !wanted(&try_reach(to)) {
        assert!(Instant::now() < give_up, "{to} never answered as wanted");
        thread::sleep(Duration::from_millis(50)); // polling: HAProxy's view has no event
    }
}

/// Relay pairs the proxy has accepted so far.
fn accepted(endpoint: SocketAddr) -> f64 {
    value(
        &get(endpoint, "/metrics").body,
        "tcpproxy_pairs_accepted_total",
    )
}

/// The README's deployment: HAProxy sends each client's PROXY v2 header to `--accept-proxy`, and
/// checks `/ready` on the metrics port (`option httpchk`, `check port`) every 100 ms. Its checks
/// open no relay pair (with `send-proxy-v2` and a plain `check`, each check is a header and so a
/// pair, a database session); it stops sending clients while every destination is down, and
/// sends them again once one is back.
#[test]
fn haproxy_checking_ready_follows_the_destinations_and_its_checks_open_no_pair() {
    let a = Backend::start("127.0.0.2");
    let args = [
        "--accept-proxy",
        "--check-interval",
        "0.2",
        "--connect-timeout",
        "0.5",
    ];
    let (proxy, endpoint) = Proxy::start_with_metrics(a.addr, &args);
    let haproxy = Haproxy::start(&format!(
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n  \
         timeout check 1s\n\
         frontend lb\n  bind fd@3\n  default_backend forwarders\n\
         backend forwarders\n  option httpchk GET /ready\n  \
         server fwd1 {} send-proxy-v2 check port {} inter 100ms fall 1 rise 1\n",
        proxy.addr(),
        endpoint.port()
    ));
    let a_name = a.addr.to_string();
    connect_until(haproxy.addr, |got| got.as_deref() == Some(&*a_name));
    let before = accepted(endpoint);
    thread::sleep(Duration::from_secs(1)); // about ten of HAProxy's checks
    assert_eq!(
        accepted(endpoint),
        before,
        "HAProxy's checks opened relay pairs"
    );

    a.kill();
    until_status(endpoint, "/ready", 503);
    // HAProxy takes the proxy out at its next check: then a client no longer reaches it at all.
    let give_up = Instant::now() + PATIENCE;
    loop {
        let seen = accepted(endpoint);
        assert_eq!(try_reach(haproxy.addr), None, "every destination is down");
        if accepted(endpoint) == seen {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "HAProxy kept sending clients to a proxy not ready"
        );
    }
    a.revive();
    connect_until(haproxy.addr, |got| got.as_deref() == Some(&*a_name));
}

/// Each destination has its own checker: one that drops SYNs holds its checker for the whole
/// connect timeout (3 s here), and the others are still checked every 0.2 s.
#[test]
fn a_destination_that_drops_syns_does_not_delay_the_checks_of_the_others() {
    let deaf = DeafDestination::start();
    let live = Backend::start("127.0.0.2");
    let live_name = live.addr.to_string();
    let args = [
        "--check-interval",
        "0.2",
        "--connect-timeout",
        "3",
        "--destination",
        &live_name,
    ];
    let mut proxy = Proxy::start(deaf.addr, &args);
    // Both checkers are under way: the deaf one inside its first 3 s connect.
    thread::sleep(Duration::from_millis(500));
    live.kill();
    let killed = Instant::now();
    proxy.wait_for_log(&format!("destination {live_name} down: a check failed"));
    assert_between(
        "the kill noticed by the live one's checker",
        killed.elapsed(),
        0.0,
        1.5,
    );
    drop(deaf);
}
