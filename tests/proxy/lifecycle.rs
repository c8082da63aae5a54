//! Signals end the proxy cleanly and quickly (docs/reference.md, "Signals", "Exit status").

use std::time::{Duration, Instant};

use crate::kit::client::{drain, ping};
use crate::kit::proxy::Proxy;
use crate::kit::servers::echo_server;
use crate::kit::PATIENCE;

/// How soon after the signal is delivered the test wants the proxy gone. The contract's 1 s is
/// the proxy's own budget with `--drain 0` (cut pairs' threads get 700 ms, then the summary);
/// the test allows 2 s for a loaded 2-core machine to schedule the proxy and the test's own
/// polling. A stop that is broken takes far longer: pairs left to the 10 s hang rule, or a main
/// thread never woken, which never exits.
const STOP_BOUND: Duration = Duration::from_secs(2);

fn stops_cleanly_with_live_pairs(signal: &str) {
    let mut proxy = Proxy::start(echo_server(), &[]);
    let mut clients: Vec<_> = (0..3).map(|_| proxy.connect()).collect();
    for client in &mut clients {
        ping(client, b"alive");
    }
    proxy.signal(signal);
    // From the signal's delivery (`kill` has returned), not from starting `kill`.
    let sent = Instant::now();
    let status = proxy
        .wait_exit(PATIENCE)
        .expect("proxy still running 10 s after the signal");
    let took = sent.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < STOP_BOUND, "exit took {took:?}");
    for client in &mut clients {
        assert_eq!(drain(client), 0, "clients see the proxy close");
    }
    let log = proxy.log_so_far().join("\n");
    assert_eq!(log.matches("closed: shutdown").count(), 3, "{log}");
    assert!(
        log.contains(
            "summary: 3 pairs served (3 reached the destination, 0 did not), up 15 B, down 15 B"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!("SIG{signal} received: stopping")),
        "{log}"
    );
}

#[test]
fn sigterm_with_live_pairs_exits_zero_within_a_second() {
    stops_cleanly_with_live_pairs("TERM");
}

#[test]
fn sigint_with_live_pairs_exits_zero_within_a_second() {
    stops_cleanly_with_live_pairs("INT");
}

#[test]
fn signal_at_the_connection_limit_still_exits() {
    // The main thread is waiting for a free slot, not in accept: the signal must reach it there too.
    let mut proxy = Proxy::start(echo_server(), &["--max-connections", "1"]);
    let mut only = proxy.connect();
    ping(&mut only, b"x");
    let _queued = proxy.connect();
    proxy.wait_for_log("waiting for one to end");
    proxy.signal("TERM");
    let status = proxy
        .wait_exit(STOP_BOUND)
        .expect("exit within STOP_BOUND of the signal");
    assert!(status.success());
}
