//! Upgrades in place: the proxy run from a copy of the binary that the test can replace on disk
//! as a package upgrade does, the new process it starts (ours to end, by pid), and who holds a
//! socket.
//!
//! The new process is the old proxy's child; once the old one exits it would be an orphan, handed
//! to init. The test process makes itself a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`), so
//! the orphan is handed to it instead, and [`Successor`] can end and reap it by pid. (Other
//! tests' orphans now come to this process too; nothing reaps them but this, by pid, so no other
//! test's `wait` is disturbed.)

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use super::data::TempDir;
use super::process::{send_signal, BINARY};
use super::proxy::Proxy;
use super::PATIENCE;

/// Make the test process the reaper of its orphaned descendants, once.
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with an integer option; nothing else.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(rc, 0, "prctl: {}", std::io::Error::last_os_error());
    });
}

/// A directory holding `tcpproxy`, a copy of the built binary, that the test may replace.
pub struct Installed {
    pub dir: TempDir,
}

impl Installed {
    pub fn new() -> Installed {
        become_subreaper();
        let installed = Installed {
            dir: TempDir::new("upgrade"),
        };
        installed.replace_with_binary();
        installed
    }

    pub fn path(&self) -> PathBuf {
        self.dir.0.join("tcpproxy")
    }

    /// Write `bytes` as a new file beside the program, then rename it over the program: what a
    /// package manager does, so the running process keeps its old (now nameless) file.
    fn replace(&self, bytes: &[u8]) {
        let new = self.dir.0.join(".tcpproxy.new");
        fs::write(&new, bytes).expect("write the new program");
        fs::set_permissions(&new, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::rename(&new, self.path()).expect("rename the new program over the old");
    }

    /// The real tcpproxy, freshly copied.
    pub fn replace_with_binary(&self) {
        self.replace(&fs::read(BINARY).expect("read the built binary"));
    }

    /// A shell script in the program's place.
    pub fn replace_with_script(&self, body: &str) {
        self.replace(format!("#!/bin/sh\n{body}\n").as_bytes());
    }

    /// Start `./tcpproxy ARGS...` from the directory (argv[0] relative, as a user types it).
    pub fn start<S: AsRef<OsStr>>(&self, args: &[S]) -> Proxy {
        let mut command = Command::new("./tcpproxy");
        command
            .current_dir(&self.dir.0)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        Proxy::spawn(&mut command)
    }
}

/// The pid in an `upgrade: started PID (PATH)` line.
pub fn started_pid(line: &str) -> u32 {
    line.split("upgrade: started ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// Send SIGUSR2 to `pid` (the proxy, or a process an upgrade of it started, which writes to the
/// same log) and read the pid it says it started.
pub fn ask_for_upgrade(proxy: &mut Proxy, pid: u32) -> Successor {
    let from = proxy.log_so_far().len();
    send_signal(pid, "USR2");
    Successor(started_pid(
        &proxy.wait_for_log_since(from, "upgrade: started "),
    ))
}

/// A process an upgrade started: killed (SIGKILL) and reaped, by pid, when dropped.
pub struct Successor(pub u32);

impl Successor {
    /// Wait (at most `limit`) for it to exit; its exit code, if it is ours to reap.
    pub fn wait_exit(&self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let mut status = 0;
        while Instant::now() < deadline {
            // SAFETY: waitpid on one pid, with a valid pointer.
            let rc = unsafe { libc::waitpid(self.0 as i32, &mut status, libc::WNOHANG) };
            if rc == self.0 as i32 {
                return Some(libc::WEXITSTATUS(status));
            }
            // Polling: std has no wait with a timeout, and this is not even our child.
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        // SAFETY: plain system calls on one pid, which is ours to reap (subreaper) or gone.
        unsafe {
            libc::kill(self.0 as i32, libc::SIGKILL);
            libc::waitpid(self.0 as i32, std::ptr::null_mut(), 0);
        }
    }
}

/// The inode of the listening TCP socket on `port`, as /proc/net/tcp{,6} list it.
pub fn listening_inode(port: u16) -> String {
    let port = format!(":{port:04X}");
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) == Some(&"0A") && fields[1].ends_with(&port) {
                return fields[9].to_string();
            }
        }
    }
    panic!("nothing listens on port {}", &port[1..]);
}

/// Every process with a descriptor for the socket `inode`, found through /proc/PID/fd.
pub fn holders(inode: &str) -> Vec<u32> {
    let target = format!("socket:[{inode}]");
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
                    .any(|link| link.as_os_str() == target.as_str())
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Wait (bounded by PATIENCE) until exactly `pids` hold the socket `inode`.
pub fn wait_for_holders(inode: &str, pids: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = holders(inode);
        if now == pids || Instant::now() >= deadline {
            return now;
        }
        // /proc has no event for a descriptor closing.
        thread::sleep(Duration::from_millis(20));
    }
}
