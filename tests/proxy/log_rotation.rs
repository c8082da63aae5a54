//! SIGHUP reopens `--log-file` (logrotate's move-then-signal), and is never a stop: the proxy and
//! its live pairs carry on; without `--log-file` it says so and carries on too. A log that cannot
//! be written is never silent: at the start it is exit 1, later it is counted and told on stderr,
//! and a reopen that fails is told on stderr and in the file still open.

use std::net::SocketAddr;
use std::time::Duration;

use crate::kit::client::{self, ping};
use crate::kit::data::TempDir;
use crate::kit::http;
use crate::kit::process::{command, run_to_exit, send_signal, with_file_size_limit, KillOnDrop};
use crate::kit::proxy::{listening_port, wait_for_line_in_file, Proxy};
use crate::kit::servers::echo_server;

#[test]
fn sighup_after_a_move_logs_into_a_new_file_and_live_pairs_keep_relaying() {
    let dir = TempDir::new("log-rotation");
    let path = dir.0.join("proxy.log");
    let rotated = dir.0.join("proxy.log.1");
    let echo_port = echo_server().port().to_string();
    let log_file = path.to_str().expect("utf-8 path");
    let args = ["-v", "--log-file", log_file, "127.0.0.1", &echo_port, "0"];
    let mut child = KillOnDrop::spawn(&mut command(&args));
    let port = listening_port(&wait_for_line_in_file(&path, "listening on "));
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    let mut before = client::connect(proxy);
    ping(&mut before, b"before the rotation");
    wait_for_line_in_file(&path, "pair 1 open");

    std::fs::rename(&path, &rotated).expect("move the log away, as logrotate does");
    send_signal(child.id(), "HUP");
    let expected = format!("SIGHUP received: reopening the log file {log_file}");
    wait_for_line_in_file(&rotated, &expected);
    wait_for_line_in_file(&path, &format!("log file {log_file} reopened (SIGHUP)"));

    ping(&mut before, b"the pair opened before the HUP still relays");
    let mut after = client::connect(proxy);
    ping(&mut after, b"a pair opened after it");
    drop(before);
    wait_for_line_in_file(&path, "pair 2 open");
    let closed = wait_for_line_in_file(&path, "closed: client EOF+server EOF");
    assert!(
        closed.contains("pair 1 "),
        "the pre-HUP pair's end: {closed}"
    );
    assert!(
        child.wait_exit(Duration::ZERO).is_none(),
        "SIGHUP stopped the proxy"
    );

    let old = std::fs::read_to_string(&rotated).expect("read the rotated log");
    let new = std::fs::read_to_string(&path).expect("read the new log");
    assert!(old.contains("listening on "), "{old}");
    assert!(!old.contains("reopened (SIGHUP)"), "{old}");
    assert!(
        !old.contains("pair 2 open"),
        "new lines went to the old file: {old}"
    );
    assert!(
        !new.contains("listening on "),
        "the new file is not new: {new}"
    );
    let stderr = child.stop().stderr;
    assert!(stderr.is_empty(), "the log went to stderr too: {stderr}");
}

#[test]
fn sighup_without_a_log_file_is_logged_and_the_proxy_keeps_serving() {
    let mut proxy = Proxy::start(echo_server(), &[]);
    let mut before = proxy.connect();
    ping(&mut before, b"before");
    proxy.signal("HUP");
    proxy.wait_for_log("SIGHUP received: no --log-file to reopen; nothing else to do");
    ping(&mut before, b"a live pair carries on");
    let mut after = proxy.connect();
    ping(&mut after, b"and new clients are served");
    assert!(
        proxy.wait_exit(Duration::ZERO).is_none(),
        "SIGHUP stopped the proxy"
    );
}

#[test]
fn a_log_file_that_takes_no_write_stops_the_start_naming_it() {
    for (path, why) in [
        ("/dev/full", "No space left on device"),
        ("/proc/version", "Input/output error"),
    ] {
        let ended = run_to_exit(&["--log-file", path, "127.0.0.1", "9", "0"]);
        assert_eq!(ended.status, Some(1), "{path}: {}", ended.stderr);
        let expected = format!("tcpproxy: error: cannot write the log file {path}: {why}");
        assert!(ended.stderr.contains(&expected), "{}", ended.stderr);
    }
}

#[test]
fn a_log_write_that_fails_later_is_counted_and_told_once_on_stderr() {
    let dir = TempDir::new("log-full");
    let path = dir.0.join("proxy.log");
    let log_file = path.to_str().expect("utf-8 path");
    let echo_port = echo_server().port().to_string();
    let args = [
        "--metrics",
        "127.0.0.1:0",
        "--log-file",
        log_file,
        "127.0.0.1",
        &echo_port,
        "0",
    ];
    // Room for the start-up lines, not for twenty pair lines: the disk fills up while it runs.
    let mut command = command(&args);
    let mut proxy = Proxy::launch(with_file_size_limit(&mut command, 1500));
    let metrics: SocketAddr = wait_for_line_in_file(&path, "metrics on http://")
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .expect("the metrics address");
    let port = listening_port(&wait_for_line_in_file(&path, "listening on "));
    for _ in 0..20 {
        let mut client = client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        ping(&mut client, b"a pair whose line does not fit");
    }
    let told = proxy.wait_for_log("tcpproxy: cannot write the log file ");
    assert!(
        told.contains(log_file) && told.contains("File too large"),
        "{told}"
    );
    let scrape = http::get(metrics, "/metrics").body;
    let errors: u64 = scrape
        .lines()
        .find_map(|l| l.strip_prefix("tcpproxy_log_write_errors_total "))
        .and_then(|n| n.parse().ok())
        .expect("the counter");
    assert!(errors >= 2, "{errors} failed writes counted:\n{scrape}");
    let stderr = proxy.log_so_far();
    let reports = stderr
        .iter()
        .filter(|l| l.contains("cannot write the log file"));
    assert_eq!(
        reports.count(),
        1,
        "told once per run of failures: {stderr:?}"
    );
}

#[test]
fn a_reopen_that_fails_is_told_on_stderr_and_in_the_file_still_open() {
    let dir = TempDir::new("log-reopen-fails");
    let path = dir.0.join("proxy.log");
    let rotated = dir.0.join("proxy.log.1");
    let log_file = path.to_str().expect("utf-8 path");
    let mut proxy = Proxy::launch(&mut command(&[
        "--log-file",
        log_file,
        "127.0.0.1",
        "9",
        "0",
    ]));
    wait_for_line_in_file(&path, "listening on ");
    std::fs::rename(&path, &rotated).expect("move the log away");
    std::fs::create_dir(&path).expect("a directory where the log was: it cannot be opened");
    send_signal(proxy.pid(), "HUP");
    let told = proxy.wait_for_log("tcpproxy: cannot reopen the log file ");
    assert!(told.contains(log_file), "{told}");
    wait_for_line_in_file(&rotated, "cannot reopen the log file");
}
