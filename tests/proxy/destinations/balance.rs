//! `--balance`: the counts each rule gives, with real backends on 127.0.0.2, .3 and .4, and one
//! of them killed in the middle of a run.

use super::start;
use crate::kit::backends::{reach, who_answers, Backend};

#[test]
fn first_sends_every_pair_to_the_first_destination_up() {
    let (a, b) = (Backend::start("127.0.0.2"), Backend::start("127.0.0.3"));
    let proxy = start(a.addr, &[b.addr], &[]);
    for _ in 0..5 {
        assert_eq!(who_answers(proxy.addr()), a.addr.to_string());
    }
    assert_eq!(
        (a.accepted(), b.accepted()),
        (5, 0),
        "the second is a standby"
    );
}

#[test]
fn round_robin_takes_turns_and_shares_a_killed_destination_s_turns_among_the_rest() {
    let backends: Vec<Backend> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|ip| Backend::start(ip))
        .collect();
    let more: Vec<_> = backends[1..].iter().map(|b| b.addr).collect();
    let mut proxy = start(backends[0].addr, &more, &["--balance", "round-robin"]);
    let names: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    let seen: Vec<String> = (0..9).map(|_| who_answers(proxy.addr())).collect();
    let expected: Vec<String> = (0..9).map(|i| names[i % 3].clone()).collect();
    assert_eq!(seen, expected, "in turn");
    assert!(backends.iter().all(|b| b.accepted() == 3));

    backends[1].kill();
    let after: Vec<String> = (0..10).map(|_| who_answers(proxy.addr())).collect();
    assert!(!after.contains(&names[1]), "{after:?}");
    let to_a = after.iter().filter(|w| **w == names[0]).count();
    let to_c = after.iter().filter(|w| **w == names[2]).count();
    assert_eq!(to_a + to_c, 10);
    assert!(to_a.abs_diff(to_c) <= 2, "shared unevenly: {after:?}");
    // One pair met the killed destination and failed over; the others skipped it. A pair's line
    // comes after its client has its answer: wait for the last of the 19.
    proxy.wait_for_log(") pair 19 ");
    let log = proxy.log_so_far();
    let failed_over = format!("after {} failed", names[1]);
    let met = log.iter().filter(|l| l.contains(&failed_over)).count();
    assert_eq!(met, 1, "{log:#?}");
    proxy.wait_for_log(&format!("destination {} down: ", names[1]));
}

#[test]
fn least_conn_sends_a_pair_where_the_fewest_live_ties_in_order() {
    let (a, b) = (Backend::start("127.0.0.2"), Backend::start("127.0.0.3"));
    let mut proxy = start(a.addr, &[b.addr], &["--balance", "least-conn"]);
    let (a_name, b_name) = (a.addr.to_string(), b.addr.to_string());
    let mut live = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (who, connection) = reach(proxy.addr());
        seen.push(who);
        live.push(connection);
    }
    assert_eq!(
        seen,
        [&*a_name, &b_name, &a_name, &b_name],
        "0-0 a, 1-0 b, 1-1 a, 2-1 b"
    );
    // End pairs 1 and 3 (both at a): a has none live, b two.
    live.remove(2);
    live.remove(0);
    proxy.wait_for_log(") pair 1 ");
    proxy.wait_for_log(") pair 3 ");
    let mut more = Vec::new();
    for _ in 0..4 {
        let (who, connection) = reach(proxy.addr());
        more.push(who);
        live.push(connection);
    }
    assert_eq!(
        more,
        [&*a_name, &a_name, &a_name, &b_name],
        "0-2 a, 1-2 a, 2-2 a, 3-2 b"
    );
    assert_eq!((a.accepted(), b.accepted()), (5, 3));
}
