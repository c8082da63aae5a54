//! Who hears which signal: SIGINT reaches ctrlc's thread and no other (a pump must never be
//! interrupted by it), and the same SIGTERM twice within a second, as GNU `timeout` sends it, is
//! one stop. (A second signal later than that still exits 130: `drain.rs`.)

use std::fs;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::kit::load::{mixed_server, Download};
use crate::kit::process::{KillOnDrop, BINARY};
use crate::kit::proxy::Proxy;
use crate::kit::servers::echo_server;
use crate::kit::PATIENCE;

/// Between two starts of `timeout 1 tcpproxy`: twenty of them take 3 s in all.
const STAGGER: Duration = Duration::from_millis(100);

/// SIGINT is signal 2: bit 1 of a /proc mask.
const SIGINT_BIT: u64 = 1 << 1;

/// Each thread of `pid`: its name, and whether it blocks SIGINT (/proc/PID/task/*/status).
fn sigint_blocked_by_thread(pid: u32) -> Vec<(String, bool)> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let name = fs::read_to_string(dir.join("comm"))
                .ok()?
                .trim()
                .to_string();
            let status = fs::read_to_string(dir.join("status")).ok()?;
            let blocked = status.lines().find_map(|l| l.strip_prefix("SigBlk:"))?;
            let mask = u64::from_str_radix(blocked.trim(), 16).ok()?;
            Some((name, mask & SIGINT_BIT != 0))
        })
        .collect()
}

#[test]
fn sigint_reaches_ctrlc_s_thread_alone_and_a_long_transfer_goes_through_it() {
    let (server, data) = mixed_server(25, 8 * 1024 * 1024, Duration::from_millis(1500));
    let mut proxy = Proxy::start(server, &["--drain", "10"]);
    let download = Download::start(proxy.addr(), data);
    download.wait_until_flowing();
    let threads = sigint_blocked_by_thread(proxy.pid());
    let open: Vec<&String> = (threads.iter())
        .filter(|(_, blocked)| !blocked)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        open,
        ["ctrl-c"],
        "threads that can take SIGINT: {threads:?}"
    );
    assert!(
        threads.len() >= 5,
        "main, signals, ctrl-c and a pair's two: {threads:?}"
    );
    proxy.signal("INT");
    proxy.wait_for_log("SIGINT received: stopping");
    assert_eq!(download.finish(), Ok(8 * 1024 * 1024));
    let status = proxy.wait_exit(PATIENCE).expect("exit after the drain");
    assert_eq!(status.code(), Some(0));
    let closed = proxy.wait_for_log("closed: ");
    assert!(closed.contains("EOF+"), "the pair ended cleanly: {closed}");
    proxy.wait_for_log("stopped: 1 pairs live at the stop: 1 finished, 0 cut");
}

/// GNU `timeout` signals the proxy, then its whole process group, the proxy included: two
/// SIGTERMs a moment apart. Each of twenty runs must stop cleanly. They overlap, to keep the test
/// short, but start [`STAGGER`] apart: twenty signalled at the same instant keep both cores so
/// busy that each `signals` thread wakes only after both signals came, and reads them as one
/// (the kernel keeps one pending SIGTERM), which would hide the bug.
#[test]
fn timeout_stops_it_cleanly_twenty_times_out_of_twenty() {
    let echo = echo_server();
    let runs: Vec<KillOnDrop> = (0..20)
        .map(|n| {
            if n > 0 {
                thread::sleep(STAGGER); // the spacing under test, see above
            }
            let mut command = Command::new("timeout");
            command
                .args(["--preserve-status", "1", BINARY, "127.0.0.1"])
                .arg(echo.port().to_string())
                .arg("0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            KillOnDrop::spawn(&mut command)
        })
        .collect();
    let mut failures = Vec::new();
    for run in runs {
        let finished = run.finish();
        let clean = finished.status == Some(0)
            && finished.stderr.contains("SIGTERM received: stopping")
            && finished.stderr.contains("summary: ")
            && !finished.stderr.contains("received again");
        if !clean {
            failures.push(format!(
                "status {:?}:\n{}",
                finished.status, finished.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 20 runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
