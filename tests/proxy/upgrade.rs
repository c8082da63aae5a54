//! Upgrade in place (SIGUSR2): the proxy runs from a copy of the binary in a directory of the
//! test's own, which the test replaces on disk as a package upgrade does; the old process hands
//! the listening socket (and the metrics socket) to the program it finds there, then drains and
//! exits 0. Under load nobody is refused or reset; a new program that fails changes nothing.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::kit::client::{self, ping};
use crate::kit::data::assert_between;
use crate::kit::http;
use crate::kit::load::{mixed_server, Counts, Download, EchoLoad};
use crate::kit::process::BINARY;
use crate::kit::procfs::tcp_sockets_of;
use crate::kit::proxy::Proxy;
use crate::kit::servers::echo_server;
use crate::kit::upgrade::{
    ask_for_upgrade, holders, listening_inode, wait_for_holders, Installed, Successor,
};
use crate::kit::PATIENCE;

/// Long enough for every download the tests start to finish in the old process's drain.
const DRAIN: &str = "10";

/// Each download: 4 MiB, spread over 1.5 s, so it is under way when the handover comes.
const DOWNLOAD_BYTES: usize = 4 * 1024 * 1024;
const DOWNLOAD_TIME: Duration = Duration::from_millis(1500);

/// `DEST_IP DEST_PORT 0`, after `options`.
fn args(options: &[&str], destination: SocketAddr) -> Vec<String> {
    let mut all: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    all.extend([destination.ip().to_string(), destination.port().to_string()]);
    all.push("0".into());
    all
}

/// SIGUSR2 to `from`, which must hand over to the process it starts: that process, once `from`
/// has logged `PID ready; handing over`.
fn upgrade(proxy: &mut Proxy, from: u32) -> Successor {
    let new = ask_for_upgrade(proxy, from);
    proxy.wait_for_log(&format!("upgrade: {} ready; handing over", new.0));
    new
}

/// One upgrade of `from` while `downloads` slow downloads run through it; the process it hands
/// over to. The old process must exit 0 (`exited` waits for it) with every download whole.
fn upgrade_during_downloads(
    proxy: &mut Proxy,
    from: u32,
    data: &std::sync::Arc<Vec<u8>>,
    exited: impl FnOnce(&mut Proxy) -> Option<i32>,
) -> Successor {
    let downloads: Vec<Download> = (0..3)
        .map(|_| Download::start(proxy.addr(), data.clone()))
        .collect();
    for download in &downloads {
        download.wait_until_flowing();
    }
    let new = upgrade(proxy, from);
    assert_eq!(exited(proxy), Some(0), "the old process {from} exits 0");
    for download in downloads {
        assert_eq!(
            download.finish(),
            Ok(DOWNLOAD_BYTES),
            "a download through {from}"
        );
    }
    new
}

#[test]
fn under_load_two_upgrades_in_a_row_refuse_and_reset_nobody() {
    let installed = Installed::new();
    let (server, data) = mixed_server(24, DOWNLOAD_BYTES, DOWNLOAD_TIME);
    let options = ["--drain", DRAIN, "--bind", "127.0.0.1", "--timeout", "5"];
    let mut proxy = installed.start(&args(&options, server));
    let old = proxy.pid();
    let inode = listening_inode(proxy.port);
    assert_eq!(holders(&inode), [old]);
    let load = EchoLoad::start(proxy.addr(), 3, Duration::from_millis(3));
    let first = upgrade_during_downloads(&mut proxy, old, &data, |proxy| {
        proxy.wait_exit(PATIENCE).and_then(|status| status.code())
    });
    assert_eq!(wait_for_holders(&inode, &[first.0]), [first.0]);
    let second =
        upgrade_during_downloads(&mut proxy, first.0, &data, |_| first.wait_exit(PATIENCE));
    assert_eq!(wait_for_holders(&inode, &[second.0]), [second.0]);
    let counts = load.finish();
    eprintln!("echo clients through two upgrades: {counts:?}");
    assert_no_client_hurt(&counts);
    let log = proxy.log_so_far().join("\n");
    let path = installed.path();
    assert!(
        log.contains(&format!(
            "upgrade: started {} ({})",
            first.0,
            path.display()
        )),
        "argv[0] ./tcpproxy is started as an absolute path: {log}"
    );
    let stopped: Vec<&str> = log.lines().filter(|l| l.contains("stopped: ")).collect();
    assert_eq!(stopped.len(), 2, "{log}");
    assert!(stopped.iter().all(|l| l.ends_with(" 0 cut")), "{stopped:?}");
    assert_eq!(log.matches("summary: ").count(), 2, "{log}");
}

fn assert_no_client_hurt(counts: &Counts) {
    assert!(counts.ok > 100, "too few echo clients to tell: {counts:?}");
    assert_eq!(counts.refused, 0, "refused: {counts:?}");
    assert_eq!(counts.reset, 0, "reset: {counts:?}");
    assert!(counts.other.is_empty(), "{counts:?}");
}

#[test]
fn the_program_on_disk_now_is_what_starts() {
    let installed = Installed::new();
    let real = installed.dir.0.join("tcpproxy-real");
    fs::copy(BINARY, &real).expect("copy the binary");
    let mark = installed.dir.0.join("mark");
    let mut proxy = installed.start(&args(&[], echo_server()));
    installed.replace_with_script(&format!(
        "echo $$ > {}\nexec {} \"$@\"",
        mark.display(),
        real.display()
    ));
    let old = proxy.pid();
    let new = upgrade(&mut proxy, old);
    let marked = fs::read_to_string(&mark).expect("the script left its mark");
    assert_eq!(
        marked.trim(),
        new.0.to_string(),
        "the script execs, keeping its pid"
    );
    assert_eq!(proxy.wait_exit(PATIENCE).and_then(|s| s.code()), Some(0));
    let mut client = proxy.connect();
    ping(&mut client, b"served by the program the script started");
}

#[test]
fn a_new_program_that_exits_changes_nothing_and_the_next_try_works() {
    let installed = Installed::new();
    let mut proxy = installed.start(&args(&[], echo_server()));
    let old = proxy.pid();
    let inode = listening_inode(proxy.port);
    installed.replace_with_script("exit 1");
    let failed = ask_for_upgrade(&mut proxy, old);
    proxy.wait_for_log(&format!(
        "upgrade failed: {} exited with status 1 before it was ready; still serving",
        failed.0
    ));
    still_serving_alone(&mut proxy, &inode, failed.0);
    installed.replace_with_binary();
    let new = upgrade(&mut proxy, old);
    assert_eq!(proxy.wait_exit(PATIENCE).and_then(|s| s.code()), Some(0));
    assert_eq!(wait_for_holders(&inode, &[new.0]), [new.0]);
}

/// The old process still serves, holds the socket alone, and `failed` is gone (reaped).
fn still_serving_alone(proxy: &mut Proxy, inode: &str, failed: u32) {
    assert!(
        proxy.wait_exit(Duration::ZERO).is_none(),
        "the old process went on"
    );
    let mut client = proxy.connect();
    ping(&mut client, b"still here");
    assert_eq!(
        holders(inode),
        [proxy.pid()],
        "no stray process holds the port"
    );
    let gone = Path::new(&format!("/proc/{failed}")).exists();
    assert!(!gone, "{failed} was ended and reaped");
}

#[test]
fn a_new_program_that_never_gets_ready_is_ended_after_ten_seconds() {
    let installed = Installed::new();
    let mut proxy = installed.start(&args(&[], echo_server()));
    let old = proxy.pid();
    let inode = listening_inode(proxy.port);
    installed.replace_with_script("exec sleep 60");
    let asked = Instant::now();
    let stuck = ask_for_upgrade(&mut proxy, old);
    // A second SIGUSR2 while the first upgrade is under way is logged and ignored.
    proxy.signal("USR2");
    proxy.wait_for_log(&format!(
        "SIGUSR2 received: the upgrade to {} is under way; ignored",
        stuck.0
    ));
    let line = format!(
        "upgrade failed: {} was not ready in 10 s; ended it",
        stuck.0
    );
    let ended = proxy.wait_for_log_within(&line, PATIENCE + Duration::from_secs(5));
    assert!(ended.is_some(), "{:?}", proxy.log_so_far());
    assert_between("SIGUSR2 to giving up", asked.elapsed(), 10.0, 13.0);
    still_serving_alone(&mut proxy, &inode, stuck.0);
}

#[test]
fn the_metrics_port_answers_after_the_old_process_is_gone() {
    let installed = Installed::new();
    let options = ["--metrics", "127.0.0.1:0"];
    let mut proxy = installed.start(&args(&options, echo_server()));
    let old = proxy.pid();
    let line = proxy.wait_for_log("metrics on http://");
    let metrics: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let (listener, metrics_inode) = (listening_inode(proxy.port), listening_inode(metrics.port()));
    let new = upgrade(&mut proxy, old);
    assert_eq!(proxy.wait_exit(PATIENCE).and_then(|s| s.code()), Some(0));
    let answer = http::get(metrics, "/metrics");
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("tcpproxy_build_info"),
        "{}",
        answer.body
    );
    assert_eq!(holders(&metrics_inode), [new.0]);
    // Where the new process says its sockets came from, and where they are: 3 and 4,
    // close-on-exec now that it holds them.
    let from = format!("(from the previous tcpproxy, pid {old}: descriptor");
    proxy.wait_for_log(&format!("{metrics}/metrics {from} 4, 'metrics')"));
    proxy.wait_for_log(&format!("{from} 3, 'tcpproxy'), relaying to"));
    for (fd, inode) in [(3, &listener), (4, &metrics_inode)] {
        let link = fs::read_link(format!("/proc/{}/fd/{fd}", new.0)).expect("fd");
        assert_eq!(link.to_string_lossy(), format!("socket:[{inode}]"));
        let info = fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", new.0)).expect("fdinfo");
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .expect("flags");
        let flags = u32::from_str_radix(flags.trim(), 8).expect("octal flags");
        assert_ne!(flags & libc::O_CLOEXEC as u32, 0, "descriptor {fd}: {info}");
    }
}

/// At `--max-connections 1` with one pair live, the old process accepts nothing: a second client
/// waits in the kernel's accept queue. That queue belongs to the socket, not to a process, so
/// after the handover the new process accepts the client from it.
#[test]
fn a_client_waiting_in_the_accept_queue_at_the_handover_is_served_by_the_new_process() {
    let installed = Installed::new();
    let options = ["--max-connections", "1", "--drain", DRAIN];
    let mut proxy = installed.start(&args(&options, echo_server()));
    let old = proxy.pid();
    let mut live = proxy.connect();
    ping(&mut live, b"the one pair allowed");
    let mut queued = proxy.connect();
    proxy.wait_for_log("waiting for one to end before accepting more");
    let new = upgrade(&mut proxy, old);
    ping(&mut queued, b"accepted by the new process");
    let theirs = queued.local_addr().expect("address");
    // The listener is dual-stack: its side names the client ::ffff:127.0.0.1.
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let held_by_new = tcp_sockets_of(new.0).iter().any(|socket| {
        socket
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(canonical)
            == Some(theirs)
    });
    assert!(held_by_new, "the queued client is the new process's");
    proxy.wait_for_log(&format!(
        "(new clients go to {}; a signal cuts them at once)",
        new.0
    ));
    ping(&mut live, b"the old pair drains");
    drop(live);
    assert_eq!(proxy.wait_exit(PATIENCE).and_then(|s| s.code()), Some(0));
    drop(queued); // the new process's one pair, at --max-connections 1
    let mut later = client::connect(proxy.addr());
    ping(&mut later, b"and the new process serves on");
}

/// The figures for the docs, not a check: ten upgrades in a row under the same load, with how
/// long each handover took. `cargo test --release --test proxy upgrade::ten -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn ten_upgrades_under_load_with_timings() {
    let installed = Installed::new();
    let (server, data) = mixed_server(26, DOWNLOAD_BYTES, DOWNLOAD_TIME);
    let options = ["--drain", DRAIN, "--timeout", "5"];
    let mut proxy = installed.start(&args(&options, server));
    let load = EchoLoad::start(proxy.addr(), 3, Duration::from_millis(3));
    let mut current: Option<Successor> = None;
    for round in 1..=10 {
        let from = current.as_ref().map_or(proxy.pid(), |s| s.0);
        let downloads: Vec<Download> = (0..3)
            .map(|_| Download::start(proxy.addr(), data.clone()))
            .collect();
        downloads.iter().for_each(Download::wait_until_flowing);
        let mark = proxy.log_so_far().len();
        let asked = Instant::now();
        let new = upgrade(&mut proxy, from);
        let ready = asked.elapsed();
        let status = match &current {
            None => proxy.wait_exit(PATIENCE).and_then(|s| s.code()),
            Some(old) => old.wait_exit(PATIENCE),
        };
        let exited = asked.elapsed();
        assert_eq!(status, Some(0));
        for download in downloads {
            assert_eq!(download.finish(), Ok(DOWNLOAD_BYTES));
        }
        let log = proxy.log_so_far()[mark..].to_vec();
        let at = |needle: &str| log.iter().find(|l| l.contains(needle)).map(|l| seconds(l));
        let ready_at = at(&format!("upgrade: {} ready", new.0));
        let left_at = at("live pairs at the stop").or(at("draining "));
        let left = ready_at
            .zip(left_at)
            .map_or(f64::NAN, |(r, l)| (l - r) * 1000.0);
        eprintln!(
            "upgrade {round}: {from} -> {}: SIGUSR2 to READY {:.1} ms, READY to old out of \
             accept {:.2} ms, SIGUSR2 to old exit {:.0} ms (its downloads drained)",
            new.0,
            ready.as_secs_f64() * 1000.0,
            left,
            exited.as_secs_f64() * 1000.0
        );
        current = Some(new);
    }
    let counts = load.finish();
    eprintln!("echo clients through ten upgrades: {counts:?}");
    assert_no_client_hurt(&counts);
}

/// The seconds-of-day of a log line's RFC 3339 time (`...T17:01:23.688785132Z`).
fn seconds(line: &str) -> f64 {
    let time = line
        .split('T')
        .nth(1)
        .and_then(|t| t.split('Z').next())
        .unwrap_or("");
    let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    parts.iter().fold(0.0, |total, part| total * 60.0 + part)
}
