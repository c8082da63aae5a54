//! A running proxy: start the built binary, read its log and stats table, signal it, see it exit.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use super::client;
use super::process::{command, command_of, send_signal, KillOnDrop};
use super::PATIENCE;

/// A running proxy: the child process, its port, and its log lines.
pub struct Proxy {
    child: KillOnDrop,
    pub port: u16,
    log: Receiver<String>,
    seen: Vec<String>,
}

impl Proxy {
    /// `tcpproxy ARGS... DEST_IP DEST_PORT 0`, waiting for its listening line.
    pub fn start(destination: SocketAddr, args: &[&str]) -> Proxy {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend([
            destination.ip().to_string(),
            destination.port().to_string(),
            "0".into(),
        ]);
        Proxy::start_raw(&all)
    }

    /// `tcpproxy --metrics 127.0.0.1:0 ARGS... DEST_IP DEST_PORT 0`, and the address its metrics
    /// endpoint (and status page) listens on, as its `metrics on http://ADDR/metrics` line says.
    pub fn start_with_metrics(destination: SocketAddr, args: &[&str]) -> (Proxy, SocketAddr) {
        let mut all = vec!["--metrics", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut proxy = Proxy::start(destination, &all);
        let line = proxy.wait_for_log("metrics on http://");
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        (proxy, address)
    }

    /// `tcpproxy ARGS...` exactly as given; it must log a listening line.
    pub fn start_raw<S: AsRef<OsStr>>(args: &[S]) -> Proxy {
        Proxy::spawn(&mut command(args))
    }

    /// `PROGRAM ARGS...`: another proxy (the lab's answer, say: [`example`]), which must log a
    /// `listening on ADDR` line as tcpproxy does.
    ///
    /// [`example`]: super::process::example
    pub fn start_program<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Proxy {
        Proxy::spawn(&mut command_of(program, args))
    }

    /// Start `command` (from [`command`], stderr piped) and wait for its listening line.
    pub fn spawn(command: &mut Command) -> Proxy {
        let mut proxy = Proxy::launch(command);
        let line = proxy.wait_for_log("listening on ");
        proxy.port = listening_port(&line);
        proxy
    }

    /// Start `command` (stderr piped) and read its log, without waiting for anything: for a
    /// launcher (systemd-socket-activate) that starts the proxy only later. `port` is 0 until the
    /// caller sets it.
    pub fn launch(command: &mut Command) -> Proxy {
        let mut child = KillOnDrop::spawn(command);
        let stderr = child.take_stderr();
        let (sender, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Proxy {
            child,
            port: 0,
            log,
            seen: Vec::new(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of the proxy (over IPv4 loopback), with PATIENCE for every read and write.
    pub fn connect(&self) -> TcpStream {
        client::connect(self.addr())
    }

    /// The first log line (already seen or yet to come) containing `needle`; panics after PATIENCE.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        self.wait_for_log_within(needle, PATIENCE)
            .unwrap_or_else(|| {
                panic!(
                    "no log line with {needle:?}; log so far:\n{}",
                    self.seen.join("\n")
                )
            })
    }

    /// The first line containing `needle` among the lines from number `from` on (0 is the first
    /// line the proxy wrote; `log_so_far().len()` marks "from now on"); panics after PATIENCE.
    pub fn wait_for_log_since(&mut self, from: usize, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.seen.iter().skip(from).find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no log line with {needle:?} after line {from}; log so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Like `wait_for_log`, but `None` if nothing matches within `limit`.
    pub fn wait_for_log_within(&mut self, needle: &str, limit: Duration) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.log.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// Ask for the stats table (SIGUSR1) and return its lines: the totals line (whole), then the
    /// header and one row per live pair, each without its time, level, thread and `stats` marker
    /// (the record's lines arrive together).
    pub fn stats_table(&mut self) -> Vec<String> {
        self.log_so_far();
        self.signal("USR1");
        let mut table: Vec<String> = Vec::new();
        let mut rows_expected = usize::MAX;
        while table.len() < rows_expected {
            let line = self.log.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!("no stats table; log so far:\n{}", self.seen.join("\n"))
            });
            self.seen.push(line.clone());
            if table.is_empty() {
                if let Some(live) = line.split("stats: ").nth(1) {
                    let live: usize = live
                        .split(' ')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("live count");
                    rows_expected = live + 2;
                    table.push(line);
                }
            } else {
                let row = line
                    .split_once(") stats ")
                    .map_or(line.as_str(), |(_, row)| row);
                table.push(row.to_string());
            }
        }
        table
    }

    /// Ask for the table until `ready` accepts it (a pump publishes its state just after the event
    /// the test can see), at most 5 s; the last table either way.
    pub fn stats_table_when(&mut self, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
        let give_up = Instant::now() + Duration::from_secs(5);
        loop {
            let table = self.stats_table();
            if ready(&table) || Instant::now() > give_up {
                return table;
            }
            thread::sleep(Duration::from_millis(100)); // polling: the table has no change event
        }
    }

    /// Every log line seen so far (after draining what has arrived).
    pub fn log_so_far(&mut self) -> Vec<String> {
        while let Ok(line) = self.log.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Send `signal` (e.g. "TERM") to the proxy.
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// Wait for the proxy to exit, at most `limit`; `None` if it is still running. Once it has
    /// exited, its last lines are read in too: the reader thread may not have reached them yet,
    /// and a test that looks at the summary after the exit must see it. (Until the pipe's end:
    /// at most PATIENCE, should something the proxy started still hold its stderr.)
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = self.child.wait_exit(limit)?;
        let give_up = Instant::now() + PATIENCE;
        while let Ok(line) = self
            .log
            .recv_timeout(give_up.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        Some(status)
    }
}

/// The port in a `listening on ADDR, ...` line.
pub fn listening_port(line: &str) -> u16 {
    let after = line.split("listening on ").nth(1).expect("listening line");
    let addr: SocketAddr = after
        .split_whitespace()
        .next()
        .and_then(|a| a.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    addr.port()
}

/// Wait (bounded by PATIENCE) until the log file at `path` has a line containing `needle`.
pub fn wait_for_line_in_file(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        // Polling a file: there is no line-arrived event to wait on.
        thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never got a line with {needle:?}", path.display());
}
