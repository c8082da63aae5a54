//! Helpers shared by the integration tests: start the built proxy, own loopback servers, read the
//! proxy's log, and make test data.
//!
//! Every test owns both ends of every socket: a server started here on an ephemeral port, the proxy
//! started with listen port 0 (it logs the port it got), and clients connected by the test.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for anything on a loaded 2-core machine; short enough that a hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running proxy: the child process, its port, and its log lines.
pub struct Proxy {
    child: Child,
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

    /// `tcpproxy ARGS...` exactly as given; the last argument must be listen port 0.
    pub fn start_raw<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Proxy {
        let mut child = spawn_tcpproxy(args);
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut proxy = Proxy {
            child,
            port: 0,
            log,
            seen: Vec::new(),
        };
        let line = proxy.wait_for_log("listening on ");
        proxy.port = listening_port(&line);
        proxy
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr()).expect("connect to proxy");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("set timeout");
        stream
            .set_write_timeout(Some(PATIENCE))
            .expect("set timeout");
        stream
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

    /// Like `wait_for_log`, but `None` if nothing matches within `limit`.
    pub fn wait_for_log_within(&mut self, needle: &str, limit: Duration) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Ask for the stats table (SIGUSR1) and return its lines: the totals line, the header, then
    /// one row per live pair (the record's lines arrive together).
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
                table.push(line);
            }
        }
        table
    }

    /// Every log line seen so far (after draining what has arrived).
    pub fn log_so_far(&mut self) -> Vec<String> {
        while let Ok(line) = self.log.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Open descriptors of the proxy process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/PID/fd")
            .count()
    }

    /// Send `signal` (e.g. "TERM") to the proxy.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait for the proxy to exit, at most `limit`; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_with_deadline(&mut self.child, limit)
    }
}

/// Wait for `child` to exit, at most `limit`; `None` if it is still running.
pub fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Polling a child's exit: std offers no wait with a timeout.
        thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn listening_port(line: &str) -> u16 {
    let after = line.split("listening on ").nth(1).expect("listening line");
    let addr: SocketAddr = after
        .split_whitespace()
        .next()
        .and_then(|a| a.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    addr.port()
}

/// Start `tcpproxy ARGS...` with its stderr piped to us.
fn spawn_tcpproxy<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tcpproxy"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpproxy")
}

/// Run `tcpproxy ARGS...` to completion (for command-line errors): status and stderr. A proxy that
/// wrongly starts serving is killed after PATIENCE and reported as status `None`.
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    finish_child(spawn_tcpproxy(args))
}

/// Wait for a child with piped stderr to exit (killing it after PATIENCE): its exit status
/// (`None` if it had to be killed) and everything it wrote to stderr. The reader thread keeps a
/// chatty child from blocking on a full pipe while we wait.
pub fn finish_child(mut child: Child) -> (Option<i32>, String) {
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_with_deadline(&mut child, PATIENCE).and_then(|status| status.code());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    (status, reader.join().expect("stderr reader"))
}

/// A loopback server that hands each connection to `handle` on its own thread.
pub fn serve<F>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + Clone + 'static,
{
    let listener = listen_with_big_backlog();
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let handle = handle.clone();
            thread::spawn(move || handle(stream));
        }
    });
    addr
}

/// A loopback listener whose accept queue holds a thousand clients at once. std's `bind` asks for
/// 128; a burst larger than that makes the kernel drop SYNs and the client retry a second later,
/// which would show up as a slow proxy.
fn listen_with_big_backlog() -> TcpListener {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&any_port.into()).expect("bind test server");
    socket.listen(4096).expect("listen");
    socket.into()
}

/// Echo everything back; on EOF, half-close in return.
pub fn echo_server() -> SocketAddr {
    serve(|mut stream| {
        let reader = stream.try_clone().expect("clone");
        let _ = io::copy(&mut &reader, &mut stream);
        let _ = stream.shutdown(Shutdown::Write);
    })
}

/// An address where nothing listens (a port just freed).
pub fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// Write `data` and half-close, from a thread, while this thread reads everything back.
pub fn round_trip_with_half_close(stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        writer.write_all(&data).expect("send payload");
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut received = Vec::new();
    (&stream).read_to_end(&mut received).expect("read reply");
    sender.join().expect("sender thread");
    received
}

/// One small request and its echo, timed.
pub fn ping(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(message).expect("ping write");
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).expect("ping read");
    assert_eq!(reply, message);
    started.elapsed()
}

/// Deterministic pseudo-random bytes (xorshift64*), so a failure can be reproduced from its seed.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Read until EOF or error; how many bytes arrived.
pub fn drain(stream: &mut TcpStream) -> usize {
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

/// Assert that `elapsed` lies in `[low, high]` seconds, with a helpful message.
pub fn assert_between(what: &str, elapsed: Duration, low: f64, high: f64) {
    let secs = elapsed.as_secs_f64();
    eprintln!("{what}: {secs:.3} s (allowed {low}..={high})");
    assert!(
        (low..=high).contains(&secs),
        "{what}: took {secs:.3} s, expected between {low} and {high} s"
    );
}

/// A server that accepts and hands each connection to the test, which decides what (not) to do.
pub fn holding_server() -> (SocketAddr, Receiver<TcpStream>) {
    let (sender, accepted) = mpsc::channel();
    let addr = serve(move |stream| {
        let _ = sender.send(stream);
    });
    (addr, accepted)
}

/// Write 64 KiB chunks until the peer stops taking them and the connection breaks. Returns when
/// the last write moved bytes and when the failure came.
///
/// Each write may block for at most 20 ms: a blocking write that is interrupted by the reset
/// returns the bytes it copied long before, which would make the last progress look as late as the
/// cut. With short calls, a write that returns bytes moved them within the last 20 ms.
pub fn flood_until_cut(mut stream: TcpStream) -> (Instant, Instant) {
    stream
        .set_write_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let give_up = Instant::now() + PATIENCE * 2;
    let mut last_ok = Instant::now();
    while Instant::now() < give_up {
        match stream.write(&chunk) {
            Ok(0) => break,
            Ok(_) => last_ok = Instant::now(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (last_ok, Instant::now())
}

/// A server that sends as fast as its client takes, until the client goes away.
pub fn flood_server() -> SocketAddr {
    serve(|mut s| {
        let chunk = vec![b'z'; 64 * 1024];
        while s.write_all(&chunk).is_ok() {}
    })
}

/// Read `chunk` bytes, pause, repeat, for `duration`; panics if the connection ends meanwhile.
pub fn read_slowly(client: &mut TcpStream, chunk: usize, pause: Duration, duration: Duration) {
    let started = Instant::now();
    let mut buf = vec![0u8; chunk];
    let mut total = 0;
    while started.elapsed() < duration {
        let n = client.read(&mut buf).expect("slow read");
        let secs = started.elapsed().as_secs_f64();
        assert!(n > 0, "cut after {secs:.2} s having read {total} bytes");
        total += n;
        thread::sleep(pause); // the slowness under test
    }
}

/// What /proc says about a process: descriptors, threads, resident memory, CPU time.
pub struct ProcStats {
    pub fds: usize,
    pub threads: usize,
    pub rss_kib: u64,
    pub cpu: Duration,
}

pub fn proc_stats(pid: u32) -> ProcStats {
    let count =
        |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, |d| d.count());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): user and system time in
    // clock ticks, which are 1/100 s on Linux.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    ProcStats {
        fds: count("fd"),
        threads: count("task"),
        rss_kib,
        cpu: Duration::from_millis(ticks * 10),
    }
}

/// Set another process's open-file limit (soft and hard), as `prlimit --nofile` does.
pub fn set_open_file_limit(pid: u32, limit: u64) {
    let new = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: prlimit with valid pointers; a null old-limit pointer is allowed.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", io::Error::last_os_error());
}

/// A client connection from a chosen loopback address (127.0.0.2, say), to test `--allow`.
pub fn connect_from(source: &str, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let from: SocketAddr = format!("{source}:0").parse().expect("source address");
    socket.bind(&from.into())?;
    socket.connect(&to.into())?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE))?;
    Ok(stream)
}

/// Wait (bounded by PATIENCE) until `condition` holds for the process's stats; returns the last.
pub fn wait_for_stats(pid: u32, condition: impl Fn(&ProcStats) -> bool) -> ProcStats {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = proc_stats(pid);
        if condition(&stats) || Instant::now() >= deadline {
            return stats;
        }
        // Threads and descriptors go away a moment after the pair's last log line; /proc has no
        // event to wait on.
        thread::sleep(Duration::from_millis(20));
    }
}

/// The destination: echoes, except that a request starting with `R` is answered with a reset.
/// It can be switched off (its port then refuses) and on again, on the same port.
pub struct FaultyDestination {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl FaultyDestination {
    pub fn start() -> FaultyDestination {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let destination = FaultyDestination {
            addr,
            up: Arc::new(AtomicBool::new(false)),
        };
        destination.serve(listener);
        destination
    }

    fn serve(&self, listener: TcpListener) {
        self.up.store(true, Ordering::SeqCst);
        let up = Arc::clone(&self.up);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if !up.load(Ordering::SeqCst) {
                    return; // dropping the listener: the port now refuses
                }
                thread::spawn(move || answer_or_reset(stream));
            }
        });
    }

    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        // Wake the accept loop so it drops the listener; until it has, a connect may still
        // succeed, so wait (bounded) until the port refuses.
        let _ = TcpStream::connect(self.addr);
        for _ in 0..200 {
            if TcpStream::connect(self.addr).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("the destination did not go down");
    }

    pub fn up(&self) {
        self.serve(TcpListener::bind(self.addr).expect("rebind the destination"));
    }
}

fn answer_or_reset(mut stream: TcpStream) {
    let mut first = [0u8; 1];
    if stream.read_exact(&mut first).is_err() {
        return;
    }
    if first[0] == b'R' {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        return;
    }
    let _ = stream.write_all(&first);
    let reader = stream.try_clone().expect("clone");
    let _ = std::io::copy(&mut &reader, &mut stream);
}

/// A fresh directory under the system's temp dir, named after the test's purpose, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(purpose: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tcpproxy-{purpose}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
