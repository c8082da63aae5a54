//! The command line (docs/reference.md, "Command line" and "Options"): bad input is refused with
//! one clear line and status 2; start-up failures with one clear line and status 1; never a panic.
//! And what a started proxy tells its operator: the listening line, `--log-file`, `-vv`, `-q`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{self, drain, ping};
use crate::kit::data::TempDir;
use crate::kit::process::{command, run_to_exit, KillOnDrop};
use crate::kit::procfs::listening_port_of;
use crate::kit::proxy::{listening_port, wait_for_line_in_file, Proxy};
use crate::kit::servers::{dead_address, echo_server};
use crate::kit::PATIENCE;

fn assert_refused(args: &[&str], status: i32, mention: &str) {
    let exit = run_to_exit(args);
    let stderr = exit.stderr;
    assert_eq!(exit.status, Some(status), "{args:?}: {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("error"),
        "{args:?}: first line is not an error: {stderr}"
    );
    assert!(
        stderr.contains(mention),
        "{args:?}: stderr does not mention {mention:?}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn no_arguments_is_a_usage_error() {
    assert_refused(&[], 2, "Usage:");
}

#[test]
fn two_arguments_is_a_usage_error() {
    assert_refused(&["127.0.0.1", "80"], 2, "LISTEN_PORT");
}

#[test]
fn non_numeric_listen_port_is_refused() {
    assert_refused(&["127.0.0.1", "80", "abc"], 2, "'abc' is not a port number");
}

#[test]
fn destination_port_zero_is_refused() {
    assert_refused(
        &["127.0.0.1", "0", "3000"],
        2,
        "destination port must be 1-65535",
    );
}

#[test]
fn port_70000_is_refused() {
    assert_refused(
        &["127.0.0.1", "70000", "3000"],
        2,
        "'70000' is not a port number",
    );
    assert_refused(
        &["127.0.0.1", "80", "70000"],
        2,
        "'70000' is not a port number",
    );
}

#[test]
fn negative_timeout_is_refused() {
    assert_refused(&["--timeout", "-1", "127.0.0.1", "80", "0"], 2, "negative");
}

#[test]
fn non_numeric_timeout_is_refused() {
    assert_refused(
        &["--timeout", "abc", "127.0.0.1", "80", "0"],
        2,
        "'abc' is not a duration: give seconds (10, 0.5) or a number with a unit",
    );
}

#[test]
fn bad_allow_prefix_is_refused() {
    assert_refused(
        &["--allow", "10.0.0.0/33", "127.0.0.1", "80", "0"],
        2,
        "0 to 32",
    );
}

#[test]
fn a_comma_list_of_networks_says_repeat_the_option() {
    assert_refused(
        &[
            "--allow",
            "10.0.0.0/8,192.168.0.0/16",
            "127.0.0.1",
            "80",
            "0",
        ],
        2,
        "one network per --allow: repeat --allow (--allow 10.0.0.0/8 --allow 192.168.0.0/16)",
    );
    assert_refused(
        &["--deny", "10.66.0.0/16, fd00::/8", "127.0.0.1", "80", "0"],
        2,
        "one network per --deny: repeat --deny (--deny 10.66.0.0/16 --deny fd00::/8)",
    );
}

#[test]
fn a_network_with_host_bits_names_the_network_meant() {
    assert_refused(
        &["--allow", "10.1.2.3/8", "127.0.0.1", "80", "0"],
        2,
        "10.1.2.3/8 has host bits set: did you mean 10.0.0.0/8?",
    );
    assert_refused(
        &["--deny", "fd00::1/8", "127.0.0.1", "80", "0"],
        2,
        "fd00::1/8 has host bits set: did you mean fd00::/8?",
    );
}

#[test]
fn unknown_copy_mode_is_refused() {
    assert_refused(
        &["--copy-mode", "zero", "127.0.0.1", "80", "0"],
        2,
        "'zero'",
    );
}

#[test]
fn unknown_option_is_refused() {
    assert_refused(&["--frobnicate", "127.0.0.1", "80", "0"], 2, "--frobnicate");
}

#[test]
fn unresolvable_destination_is_a_startup_error() {
    // Two dots: the resolver rejects the name without asking any DNS server.
    assert_refused(
        &["no..such-host.invalid", "80", "0"],
        1,
        "cannot resolve destination 'no..such-host.invalid'",
    );
}

#[test]
fn listen_port_in_use_is_a_startup_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    assert_refused(
        &["--bind", "127.0.0.1", "127.0.0.1", "80", &port],
        1,
        "cannot listen on 127.0.0.1",
    );
}

#[test]
fn bind_to_a_foreign_address_is_a_startup_error() {
    assert_refused(
        &["--bind", "192.0.2.1", "127.0.0.1", "80", "0"],
        1,
        "cannot listen on 192.0.2.1:0",
    );
}

#[test]
fn help_and_version_succeed() {
    let help = run_to_exit(&["--help"]);
    assert_eq!(help.status, Some(0), "{}", help.stderr);
    for option in [
        "--bind",
        "--timeout",
        "--idle-timeout",
        "--connect-timeout",
        "--max-connections",
        "--allow",
        "--log-file",
        "--copy-mode",
        "--verbose",
        "--quiet",
    ] {
        assert!(
            help.stdout.contains(option),
            "--help does not mention {option}"
        );
    }
    let version = run_to_exit(&["--version"]);
    assert_eq!(version.status, Some(0), "{}", version.stderr);
    assert!(
        version.stdout.starts_with("tcpproxy "),
        "{}",
        version.stdout
    );
}

#[test]
fn help_names_the_signals_exit_statuses_and_environment() {
    let help = run_to_exit(&["--help"]);
    assert_eq!(help.status, Some(0), "{}", help.stderr);
    let text = help.stdout;
    for name in [
        "--drain",
        "SIGTERM",
        "SIGINT",
        "SIGHUP",
        "SIGUSR1",
        "SIGUSR2",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        assert!(
            text.contains(name),
            "--help does not mention {name}: {text}"
        );
    }
    // The exit statuses, in their own paragraph: words, so "130" does not count as "1" or "0".
    let statuses = text
        .split("\n\n")
        .find(|p| p.to_lowercase().contains("exit status"))
        .unwrap_or_else(|| panic!("no exit-status paragraph: {text}"));
    let words: Vec<&str> = statuses
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .collect();
    for status in ["0", "1", "2", "130"] {
        assert!(words.contains(&status), "exit status {status}: {statuses}");
    }
}

#[test]
fn listen_port_zero_picks_a_port_and_logs_it() {
    let proxy = Proxy::start(echo_server(), &[]);
    assert_ne!(proxy.port, 0);
    let mut client = proxy.connect();
    ping(&mut client, b"on the logged port");
}

#[test]
fn log_file_receives_the_log() {
    let dir = TempDir::new("log-file");
    let path = dir.0.join("proxy.log");
    // -vv also proves the trace level: every read and write is logged with its size.
    let echo_port = echo_server().port().to_string();
    let log_file = path.to_str().expect("utf-8 path");
    let args = [
        "-vv",
        "--log-file",
        log_file,
        "--bind",
        "127.0.0.1",
        "127.0.0.1",
        &echo_port,
        "0",
    ];
    let child = KillOnDrop::spawn(&mut command(&args));
    let port = listening_port(&wait_for_line_in_file(&path, "listening on "));
    let mut client = client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    ping(&mut client, b"logged");
    drop(client);
    wait_for_line_in_file(&path, "closed: client EOF+server EOF");
    let log = std::fs::read_to_string(&path).expect("read log");
    assert!(log.contains("read 6 bytes from client"), "{log}");
    assert!(log.contains("wrote 6 bytes to server"), "{log}");
    assert!(log.contains("pair 1 open"), "{log}");
    let stderr = child.stop().stderr;
    assert!(stderr.is_empty(), "the log went to stderr too: {stderr}");
}

#[test]
fn quiet_still_says_where_it_listens_and_warns() {
    let dead_port = dead_address().port().to_string();
    let args = ["-q", "--bind", "127.0.0.1", "127.0.0.1", &dead_port, "0"];
    let mut child = KillOnDrop::spawn(&mut command(&args));
    let deadline = Instant::now() + PATIENCE;
    let port = loop {
        if let Some(port) = listening_port_of(child.id()) {
            break port;
        }
        assert!(Instant::now() < deadline, "no listening socket");
        thread::sleep(Duration::from_millis(20)); // polling /proc: no event to wait on
    };
    let mut client = client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(
        drain(&mut client),
        0,
        "refused destination: the client is closed"
    );
    let mut lines = BufReader::new(child.take_stderr()).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    let first = next();
    assert!(first.contains("listening on 127.0.0.1:"), "{first}");
    let second = next();
    assert!(
        second.contains("[WARN]") && second.contains("connect failed"),
        "{second}"
    );
}

#[test]
fn negative_port_says_ports_are_1_to_65535() {
    for (args, mention) in [
        (["127.0.0.1", "-1", "0"], "1-65535"),
        (["127.0.0.1", "80", "-1"], "65535"),
    ] {
        assert_refused(&args, 2, mention);
        let stderr = run_to_exit(&args).stderr;
        assert!(
            !stderr.contains("-- -1"),
            "{args:?}: a tip that misleads: {stderr}"
        );
    }
}

#[test]
fn destination_that_is_the_proxy_itself_is_refused() {
    let port = dead_address().port().to_string();
    // The default listener ([::], both families) covers 127.0.0.1, and so covers localhost.
    for host in ["127.0.0.1", "localhost"] {
        assert_refused(&[host, &port, &port], 1, "itself");
    }
    // A listener on 127.0.0.1 only does not cover 127.0.0.2: that proxy starts.
    let proxy = Proxy::start_raw(&["--bind", "127.0.0.1", "127.0.0.2", &port, &port]);
    assert_eq!(proxy.port.to_string(), port);
}

#[test]
fn durations_take_units_and_the_listening_line_says_the_seconds_understood() {
    let args = [
        "--timeout",
        "10s",
        "--idle-timeout",
        "1h",
        "--connect-timeout",
        "500ms",
        "--drain",
        "2m",
    ];
    let mut proxy = Proxy::start(dead_address(), &args);
    let line = proxy.wait_for_log("listening on ");
    assert!(
        line.contains("timeout 10 s, idle timeout 3600 s, connect timeout 0.5 s, drain 120 s"),
        "{line}"
    );
}

#[test]
fn a_stats_interval_under_a_second_is_refused() {
    assert_refused(
        &["--stats-interval", "0.001", "127.0.0.1", "80", "0"],
        2,
        "too often: give 0 (off) or at least 1 s",
    );
}

#[test]
fn a_mistake_that_looks_like_another_form_gets_that_form() {
    // The host with its port: clap would say a listen port is missing, or that port 0 names
    // no service; the form meant was two arguments.
    for args in [
        &["127.0.0.1:55432", "56900"][..],
        &["127.0.0.1:55432", "0", "6000"],
    ] {
        assert_refused(args, 2, "give them as two arguments: 127.0.0.1 55432");
    }
    assert_refused(
        &["--bind", "127.0.0.1:5000", "127.0.0.1", "80", "0"],
        2,
        "--bind takes the address alone (--bind 127.0.0.1)",
    );
}

#[test]
fn rules_that_refuse_everyone_are_warned_about_at_the_start() {
    let warned = |args: &[&str]| {
        let mut proxy = Proxy::start(dead_address(), args);
        proxy.wait_for_log("listening on ");
        proxy
            .log_so_far()
            .iter()
            .any(|line| line.contains("every client will be refused"))
    };
    assert!(warned(&["--deny", "0.0.0.0/0", "--deny", "::/0"]));
    assert!(warned(&["--allow", "127.0.0.1", "--deny", "127.0.0.0/8"]));
    assert!(!warned(&[
        "--allow",
        "10.0.0.0/8",
        "--deny",
        "10.66.0.0/16"
    ]));
    assert!(
        !warned(&["--deny", "0.0.0.0/0"]),
        "IPv6 clients still come in"
    );
}
