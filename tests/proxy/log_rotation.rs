//! SIGHUP reopens `--log-file` (logrotate's move-then-signal), and is never a stop: the proxy and
//! its live pairs carry on; without `--log-file` it says so and carries on too.

use std::net::SocketAddr;
use std::time::Duration;

use crate::kit::client::{self, ping};
use crate::kit::data::TempDir;
use crate::kit::process::{command, send_signal, KillOnDrop};
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
