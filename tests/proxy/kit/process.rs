//! Child processes: the proxy's command line, its open-file limit, running it to its exit, and a
//! guard that never leaves a child running after the test.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// The proxy under test: the binary cargo built for this crate.
pub const BINARY: &str = env!("CARGO_BIN_EXE_tcpproxy");

/// `tcpproxy ARGS...`: stdin and stdout closed, stderr (the log) piped to the test.
pub fn command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    command_of(Path::new(BINARY), args)
}

/// The example `name` (`examples/NAME.rs`), built beside the binary: cargo puts examples in
/// `examples/` next to it (`target/release/examples/lab`). `cargo test` builds them, but a test
/// run narrowed with `--test` does not, so a missing or stale one fails here with what to run.
pub fn example(name: &str) -> PathBuf {
    let dir = Path::new(BINARY).parent().expect("the binary's directory");
    let built = dir.join("examples").join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let build = "build the examples first: cargo build --release --examples (or make)";
    let built_at =
        modified(&built).unwrap_or_else(|| panic!("{} is missing: {build}", built.display()));
    assert!(
        modified(&source).is_none_or(|changed| changed <= built_at),
        "{} is older than {}: {build}",
        built.display(),
        source.display()
    );
    built
}

/// `PROGRAM ARGS...`, set up as [`command`] sets up tcpproxy.
pub fn command_of<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Start `command` with its open-file limit at `soft`/`hard`, as `ulimit -Sn`/`-Hn` would.
pub fn with_open_file_limit(command: &mut Command, soft: u64, hard: u64) -> &mut Command {
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

/// Start `command` with its file-size limit at `bytes` (`ulimit -f`), and SIGXFSZ ignored so a
/// write past the limit fails (EFBIG) instead of killing the process: a disk that fills up, for
/// one process.
pub fn with_file_size_limit(command: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: setrlimit and signal are async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

/// Send `signal` (e.g. "TERM", "HUP") to the process `pid`, as `kill -SIGNAL PID` does.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// How a process ended and what it wrote.
pub struct Finished {
    /// The exit status; `None` if it had to be killed.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `tcpproxy ARGS...` to completion (for command-line errors). A proxy that wrongly starts
/// serving is killed after PATIENCE and reported as status `None`.
pub fn run_to_exit<S: AsRef<OsStr>>(args: &[S]) -> Finished {
    run_program_to_exit(Path::new(BINARY), args)
}

/// Like [`run_to_exit`], for another program (an example: [`example`]).
pub fn run_program_to_exit<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Finished {
    let mut command = command_of(program, args);
    command.stdout(Stdio::piped());
    KillOnDrop::spawn(&mut command).finish()
}

/// A child process killed (by pid) and reaped when this goes out of scope, also in a panic.
pub struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    pub fn spawn(command: &mut Command) -> KillOnDrop {
        KillOnDrop(Some(command.spawn().expect("start the child process")))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still owned")
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("the child is still owned").id()
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child().stdout.take().expect("stdout is piped")
    }

    pub fn take_stderr(&mut self) -> ChildStderr {
        self.child().stderr.take().expect("stderr is piped")
    }

    /// Wait for the child to exit, at most `limit`; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child();
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

    /// Let the child run to its end (killing it after PATIENCE): how it ended and what it wrote.
    /// Reader threads keep a chatty child from blocking on a full pipe while we wait.
    pub fn finish(mut self) -> Finished {
        let child = self.child();
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(read_all);
        let status = self.wait_exit(PATIENCE).and_then(|s| s.code());
        self.kill();
        let text = |reader: Option<thread::JoinHandle<String>>| {
            reader.map_or(String::new(), |r| r.join().expect("output reader"))
        };
        Finished {
            status,
            stdout: text(stdout),
            stderr: text(stderr),
        }
    }

    /// Kill the child now and collect what it wrote.
    pub fn stop(mut self) -> Finished {
        self.kill();
        self.finish()
    }

    fn kill(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}
