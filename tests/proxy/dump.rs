//! `--dump DIR|-`: byte-exact files per pair and direction in each run's own subdirectory of DIR,
//! a socat-style hex dump in the log, and a dump that falls behind drops (and says so) instead of
//! stalling the relay.

use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{self, drain, ping, round_trip_with_half_close};
use crate::kit::data::{random_bytes, TempDir};
use crate::kit::process::{command, run_to_exit, KillOnDrop};
use crate::kit::proxy::{listening_port, Proxy};
use crate::kit::servers::{echo_server, serve};
use crate::kit::PATIENCE;

#[test]
fn files_hold_exactly_the_bytes_each_way() {
    dump_to_files(&[]);
}

#[test]
fn splice_gives_way_to_the_copy_when_dumping() {
    dump_to_files(&["--copy-mode", "splice"]);
}

fn dump_to_files(extra_args: &[&str]) {
    let dir = TempDir::new("dump");
    let upload = random_bytes(1, 300_000);
    let download = random_bytes(2, 1_100_000);
    let answer = download.clone();
    let (uploaded, arrived) = mpsc::channel();
    let server = serve(move |mut s| {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got); // the whole upload, until the client's half-close
        let _ = s.write_all(&answer);
        let _ = uploaded.send(got);
    });
    let dump_dir = dir.0.join("out"); // created by the proxy
    let mut args = vec!["-v", "--dump", dump_dir.to_str().expect("utf-8")];
    args.extend(extra_args);
    let mut proxy = Proxy::start(server, &args);
    let run = run_directory(&mut proxy, &dump_dir);
    let received = round_trip_with_half_close(proxy.connect(), upload.clone());
    let at_server = arrived
        .recv_timeout(PATIENCE)
        .expect("the server got the upload");
    assert!(
        at_server == upload,
        "the upload differs ({} bytes)",
        at_server.len()
    );
    assert!(
        received == download,
        "the download differs ({} bytes)",
        received.len()
    );
    proxy.wait_for_log("dump: pair 1 c->s: 300000 bytes");
    proxy.wait_for_log("dump: pair 1 s->c: 1100000 bytes");
    let c2s = std::fs::read(run.join("pair-1-c2s.bin")).expect("c2s file");
    let s2c = std::fs::read(run.join("pair-1-s2c.bin")).expect("s2c file");
    assert!(c2s == upload, "c->s dump differs ({} bytes)", c2s.len());
    assert!(s2c == download, "s->c dump differs ({} bytes)", s2c.len());
}

#[test]
fn a_silent_direction_gets_an_empty_file() {
    let dir = TempDir::new("dump-empty");
    let mut proxy = Proxy::start(
        echo_server(),
        &["-v", "--dump", dir.0.to_str().expect("utf-8")],
    );
    let run = run_directory(&mut proxy, &dir.0);
    drop(proxy.connect()); // connects and leaves without a byte
    proxy.wait_for_log("dump: pair 1 s->c");
    proxy.wait_for_log("dump: pair 1 c->s");
    for name in ["pair-1-c2s.bin", "pair-1-s2c.bin"] {
        let len = std::fs::metadata(run.join(name)).expect(name).len();
        assert_eq!(len, 0, "{name}");
    }
}

/// The run's own subdirectory of `dir`, named `<YYYYMMDDTHHMMSSZ>-<pid>`, from the proxy's log.
fn run_directory(proxy: &mut Proxy, dir: &Path) -> PathBuf {
    let line = proxy.wait_for_log("dump: each pair's bytes go into ");
    let run = PathBuf::from(line.split("go into ").nth(1).expect("a path").trim());
    assert_eq!(run.parent(), Some(dir), "{line}");
    assert!(run.is_dir(), "{line}");
    let name = run.file_name().and_then(|n| n.to_str()).expect("a name");
    let (stamp, pid) = name.split_once('-').expect("STAMP-PID");
    assert_eq!(pid, proxy.pid().to_string(), "{line}");
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "99999999T999999Z", "{line}");
    run
}

/// One run of the proxy dumping into `dir`: a pair that sends `message` and reads its echo.
fn dumped_run(dir: &Path, message: &[u8]) -> PathBuf {
    let mut proxy = Proxy::start(
        echo_server(),
        &["-v", "--dump", dir.to_str().expect("utf-8")],
    );
    let run = run_directory(&mut proxy, dir);
    let mut client = proxy.connect();
    ping(&mut client, message);
    drop(client);
    proxy.wait_for_log("dump: pair 1 c->s");
    proxy.wait_for_log("dump: pair 1 s->c");
    run
}

#[test]
fn two_runs_on_one_directory_each_get_their_own_subdirectory() {
    let dir = TempDir::new("dump-twice");
    // A file of an older dump, right in DIR: no run touches it.
    std::fs::write(dir.0.join("pair-1-c2s.bin"), b"precious").expect("write");
    let first = dumped_run(&dir.0, b"the first run");
    let second = dumped_run(&dir.0, b"the second run");
    assert_ne!(first, second);
    for (run, message) in [(&first, "the first run"), (&second, "the second run")] {
        for name in ["pair-1-c2s.bin", "pair-1-s2c.bin"] {
            let bytes = std::fs::read(run.join(name)).expect(name);
            assert_eq!(bytes, message.as_bytes(), "{}", run.join(name).display());
        }
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir.0)
        .expect("list DIR")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    let mut expected = vec![first, second, dir.0.join("pair-1-c2s.bin")];
    expected.sort();
    assert_eq!(entries, expected);
    assert_eq!(
        std::fs::read(dir.0.join("pair-1-c2s.bin")).expect("kept"),
        b"precious"
    );
}

#[test]
fn a_directory_whose_parent_is_missing_is_a_startup_error() {
    let dir = TempDir::new("dump-orphan");
    let orphan = dir.0.join("missing").join("out");
    let exit = run_to_exit(&[
        "--dump",
        orphan.to_str().expect("utf-8"),
        "127.0.0.1",
        "80",
        "0",
    ]);
    assert_eq!(exit.status, Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("cannot create dump directory"),
        "{}",
        exit.stderr
    );
    assert!(!dir.0.join("missing").exists(), "a parent was created");
}

#[test]
fn dash_dumps_annotated_hex_to_the_log() {
    let mut proxy = Proxy::start(echo_server(), &["--dump", "-"]);
    let mut client = proxy.connect();
    ping(&mut client, b"hi\x00\xff there, proxy");
    let header = proxy.wait_for_log("dump: pair 1 c->s > ");
    assert!(header.ends_with("length=17 from=0 to=16"), "{header}");
    let stamp = header.split("> ").nth(1).expect("timestamp");
    assert!(stamp.starts_with("20") && stamp.contains('T'), "{header}");
    proxy.wait_for_log(
        "  00000000  68 69 00 ff 20 74 68 65  72 65 2c 20 70 72 6f 78  hi.. there, prox",
    );
    proxy.wait_for_log("  00000010  79                                                y");
    proxy.wait_for_log("dump: pair 1 s->c > ");
}

/// The proxy, logging into a FIFO that the test reads only when it wants to.
struct ProxyLoggingToFifo {
    _child: KillOnDrop,
    log: BufReader<File>,
    port: u16,
    _dir: TempDir,
}

impl ProxyLoggingToFifo {
    fn start(destination: SocketAddr, args: &[&str]) -> ProxyLoggingToFifo {
        let dir = TempDir::new("fifo");
        let fifo = dir.0.join("log");
        let c_path = CString::new(fifo.as_os_str().as_bytes()).expect("path");
        // SAFETY: a valid C string; mkfifo touches nothing else.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        let mut command = command(args);
        command
            .arg("--log-file")
            .arg(&fifo)
            .args([
                destination.ip().to_string(),
                destination.port().to_string(),
                "0".into(),
            ])
            .stderr(Stdio::null());
        // Guarded at once: if reading the log fails below, the proxy must not outlive the test.
        let child = KillOnDrop::spawn(&mut command);
        let mut log = BufReader::new(File::open(&fifo).expect("open the FIFO")); // waits for the proxy
        let mut line = String::new();
        while !line.contains("listening on ") {
            line.clear();
            assert!(log.read_line(&mut line).expect("read log") > 0, "log ended");
        }
        let port = listening_port(&line);
        ProxyLoggingToFifo {
            _child: child,
            log,
            port,
            _dir: dir,
        }
    }
}

#[test]
fn a_dump_that_falls_behind_drops_with_a_warning_instead_of_stalling() {
    const SIZE: usize = 64 * 1024 * 1024;
    let server = serve(|mut s| {
        let chunk = vec![b'z'; 1024 * 1024];
        for _ in 0..SIZE / chunk.len() {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let mut proxy = ProxyLoggingToFifo::start(server, &["--timeout", "60", "--dump", "-"]);
    // Nobody reads the log now: the dump thread soon blocks writing it, like a full disk.
    let started = Instant::now();
    let mut client = client::connect(SocketAddr::from(([127, 0, 0, 1], proxy.port)));
    client.shutdown(Shutdown::Write).expect("half-close");
    let got = drain(&mut client);
    let took = started.elapsed();
    eprintln!("64 MiB relayed in {took:?} while the log was blocked");
    assert_eq!(got, SIZE, "the relay stalled behind the blocked dump");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Now read the log: the dump catches up and owns up to what it dropped.
    let reader = thread::spawn(move || {
        let mut line = String::new();
        let give_up = Instant::now() + Duration::from_secs(60);
        while Instant::now() < give_up {
            line.clear();
            if proxy.log.read_line(&mut line).unwrap_or(0) == 0 {
                return None;
            }
            if line.contains("the dump of pair 1 s->c is missing") {
                return Some(line.clone());
            }
        }
        None
    });
    let warning = reader
        .join()
        .expect("reader")
        .expect("a warning about the dropped bytes");
    assert!(warning.contains("of 64.0 MiB"), "{warning}");
    assert!(!warning.contains("missing 0 B"), "{warning}");
}
