//! A name that moves: the proxy runs with a private /etc/hosts (`kit/hosts.rs`), the test
//! rewrites it in place to move the name from 127.0.0.2 to 127.0.0.3, then to remove it. New
//! pairs follow the move within `--resolve-interval`; the live pair stays where it was; a name
//! that no longer resolves keeps its last addresses, with one warning naming it.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::backends::{on_one_port, reach, who_answers};
use crate::kit::hosts::PrivateHosts;
use crate::kit::process::KillOnDrop;
use crate::kit::proxy::Proxy;
use crate::kit::PATIENCE;

const NAME: &str = "db.tcpproxy.test";
const RESOLVE_INTERVAL_S: f64 = 0.2;

#[test]
fn a_moved_name_is_followed_by_new_pairs_and_a_vanished_one_keeps_its_last_addresses() {
    let backends = on_one_port(&["127.0.0.2", "127.0.0.3"]);
    let (old, new) = (backends[0].addr.to_string(), backends[1].addr.to_string());
    let port = backends[0].addr.port().to_string();
    let hosts = PrivateHosts::new(&[&format!("127.0.0.2 {NAME}")]);
    let interval = RESOLVE_INTERVAL_S.to_string();
    let args = ["--resolve-interval", &interval, NAME, &port, "0"];
    let mut proxy = Proxy::spawn(&mut hosts.command(&args));
    let listening = proxy.wait_for_log("listening on ");
    let described = format!("{NAME}:{port} (resolved to {old}) (names re-resolved every 0.2 s)");
    assert!(listening.contains(&described), "{listening}");

    let (who, mut live) = reach(proxy.addr());
    assert_eq!(who, old);
    hosts.rewrite(&[&format!("127.0.0.3 {NAME}")]);
    let moved_at = Instant::now();
    let give_up = moved_at + PATIENCE;
    while who_answers(proxy.addr()) != new {
        assert!(
            Instant::now() < give_up,
            "the proxy never followed the move"
        );
        thread::sleep(Duration::from_millis(10)); // polling: the move has no event to wait on
    }
    let followed = moved_at.elapsed();
    eprintln!("from the name's move to the first pair that followed it: {followed:?}");
    assert!(followed < Duration::from_secs(2), "{followed:?}");
    proxy.wait_for_log(&format!("destination {NAME}:{port} moved: {old} → {new}"));
    // The live pair is untouched: still at the old address, still relaying.
    live.get_mut()
        .write_all(b"still here\n")
        .expect("write on the live pair");
    let mut echoed = String::new();
    std::io::BufRead::read_line(&mut live, &mut echoed).expect("the live pair's echo");
    assert_eq!(echoed, "still here\n");

    hosts.rewrite(&[]);
    let warning = proxy.wait_for_log(&format!("cannot re-resolve destination '{NAME}'"));
    assert!(warning.contains(&format!("keeping {new}")), "{warning}");
    thread::sleep(Duration::from_secs_f64(5.0 * RESOLVE_INTERVAL_S)); // five more failed rounds
    assert_eq!(
        who_answers(proxy.addr()),
        new,
        "the last good addresses are kept"
    );
    let log = proxy.log_so_far();
    let warnings = log
        .iter()
        .filter(|l| l.contains("cannot re-resolve"))
        .count();
    assert_eq!(warnings, 1, "once per change of state: {log:#?}");

    hosts.rewrite(&[&format!("127.0.0.2 {NAME}")]);
    proxy.wait_for_log(&format!("destination {NAME}:{port} resolves again"));
    proxy.wait_for_log(&format!("moved: {new} → {old}"));
}

#[test]
fn a_name_that_does_not_resolve_at_start_is_exit_1_naming_it() {
    let hosts = PrivateHosts::new(&["127.0.0.2 db.tcpproxy.test"]);
    let args = [
        "--destination",
        "dbb.tcpproxy.test:5432",
        "db.tcpproxy.test",
        "5432",
        "0",
    ];
    let exit = KillOnDrop::spawn(&mut hosts.command(&args)).finish();
    assert_eq!(exit.status, Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr
            .contains("cannot resolve destination 'dbb.tcpproxy.test'"),
        "{}",
        exit.stderr
    );
}
