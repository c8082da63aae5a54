//! `--destination HOST:PORT` and `--balance` on the command line: every wrong form is exit 2 with
//! the right one shown; the three right forms start, and the listening line names every
//! destination and the balance.

use crate::kit::backends::Backend;
use crate::kit::process::run_to_exit;
use crate::kit::proxy::Proxy;

#[test]
fn a_destination_that_is_not_host_port_is_exit_2_showing_the_right_form() {
    for (given, says) in [
        ("db.internal", "no :PORT"),
        ("db.internal:0", "port 0 names no service"),
        ("::1:5432", "in brackets"),
        ("db.internal:pg", "must be a number"),
    ] {
        let exit = run_to_exit(&["--destination", given, "127.0.0.1", "1", "0"]);
        assert_eq!(exit.status, Some(2), "{given}: {}", exit.stderr);
        for needed in [says, "HOST:PORT", "[::1]:5432"] {
            assert!(
                exit.stderr.contains(needed),
                "{given}: no {needed:?} in {}",
                exit.stderr
            );
        }
        assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
    }
    let exit = run_to_exit(&["--balance", "random", "127.0.0.1", "1", "0"]);
    assert_eq!(exit.status, Some(2), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("first, round-robin, least-conn"),
        "{}",
        exit.stderr
    );
}

#[test]
fn names_ipv4_and_bracketed_ipv6_destinations_start_and_are_all_named() {
    let (a, b) = (Backend::start("127.0.0.2"), Backend::start("::1"));
    let first = Backend::start("127.0.0.3");
    let more = [a.addr.to_string(), format!("[::1]:{}", b.addr.port())];
    let local = format!("localhost:{}", first.addr.port());
    let args = [
        "--balance",
        "round-robin",
        "--destination",
        &more[0],
        "--destination",
        &more[1],
        "--destination",
        &local,
    ];
    let mut proxy = Proxy::start(first.addr, &args);
    let line = proxy.wait_for_log("listening on ");
    let named = format!(
        "relaying to {}, {}, {}, {local} (resolved to ",
        first.addr, more[0], more[1]
    );
    assert!(line.contains(&named), "{line}");
    assert!(
        line.contains("(--balance round-robin, down after 1 failed connect for 10 s"),
        "{line}"
    );
}
