//! The command line (SPEC §1): bad input is refused with one clear line and status 2; start-up
//! failures with one clear line and status 1; never a panic.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;

use common::*;

fn assert_refused(args: &[&str], status: i32, mention: &str) {
    let (code, stderr) = run_to_exit(args);
    assert_eq!(code, Some(status), "{args:?}: {stderr}");
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
        "not a number of seconds",
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
    let (code, _) = run_to_exit(&["--help"]);
    assert_eq!(code, Some(0));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpproxy"))
        .arg("--help")
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
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
        assert!(help.contains(option), "--help does not mention {option}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpproxy"))
        .arg("--version")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tcpproxy "));
}

#[test]
fn listen_port_zero_picks_a_port_and_logs_it() {
    let proxy = Proxy::start(echo_server(), &[]);
    assert_ne!(proxy.port, 0);
    let mut client = proxy.connect();
    ping(&mut client, b"on the logged port");
}

#[test]
fn ipv6_loopback_clients_and_destinations_work() {
    let listener = TcpListener::bind("[::1]:0").expect("bind ::1");
    let destination = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let reader = s.try_clone().expect("clone");
            let _ = std::io::copy(&mut &reader, &mut s);
        }
    });
    let proxy = Proxy::start_raw(&["[::1]".into(), destination.port().to_string(), "0".into()]);
    let mut client = std::net::TcpStream::connect(("::1", proxy.port)).expect("connect over IPv6");
    ping(&mut client, b"v6");
}

#[test]
fn log_file_receives_the_log() {
    let dir = std::env::temp_dir().join(format!("tcpproxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("proxy.log");
    let _ = std::fs::remove_file(&path);
    // -vv also proves the trace level: every read and write is logged with its size.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tcpproxy"))
        .args([
            "-vv",
            "--log-file",
            path.to_str().expect("utf-8 path"),
            "--bind",
            "127.0.0.1",
        ])
        .args(["127.0.0.1", &echo_server().port().to_string(), "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    let listening = wait_for_file_line(&path, "listening on ");
    let port: u16 = listening
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|p| p.split(',').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    ping(&mut client, b"logged");
    drop(client);
    wait_for_file_line(&path, "closed: client EOF+server EOF");
    let log = std::fs::read_to_string(&path).expect("read log");
    assert!(log.contains("read 6 bytes from client"), "{log}");
    assert!(log.contains("wrote 6 bytes to server"), "{log}");
    assert!(log.contains("pair 1 open"), "{log}");
    let _ = child.kill();
    let (_, stderr) = finish_child(child);
    assert!(stderr.is_empty(), "the log went to stderr too: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Wait (bounded) until the file has a line containing `needle`.
fn wait_for_file_line(path: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        // Polling a file: there is no line-arrived event to wait on.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{} never got a line with {needle:?}", path.display());
}

/// The port a process listens on, found through its socket inodes in /proc (for runs whose log
/// does not say, such as `-q`).
fn listening_port_of(pid: u32) -> Option<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for fields in text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
        {
            let listening = fields.get(3) == Some(&"0A");
            if listening
                && fields
                    .get(9)
                    .is_some_and(|inode| inodes.iter().any(|i| i == inode))
            {
                let port = fields[1].rsplit(':').next()?;
                return u16::from_str_radix(port, 16).ok();
            }
        }
    }
    None
}

#[test]
fn quiet_logs_warnings_only() {
    let dead_port = dead_address().port().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tcpproxy"))
        .args(["-q", "--bind", "127.0.0.1", "127.0.0.1", &dead_port, "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    let deadline = std::time::Instant::now() + PATIENCE;
    let port = loop {
        if let Some(port) = listening_port_of(child.id()) {
            break port;
        }
        assert!(std::time::Instant::now() < deadline, "no listening socket");
        std::thread::sleep(std::time::Duration::from_millis(20)); // polling /proc: no event to wait on
    };
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    assert_eq!(
        drain(&mut client),
        0,
        "refused destination: the client is closed"
    );
    let stderr = child.stderr.take().expect("stderr");
    let first = BufReader::new(stderr)
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.contains("[WARN]") && first.contains("connect failed"),
        "{first}"
    );
}
