//! What /proc says about a process — descriptors, threads, resident memory, CPU time, limits, its
//! listening port, its sockets — and setting its open-file limit from outside (prlimit).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// A snapshot of one process: descriptors, threads, resident memory, CPU time.
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

/// How many of the process's descriptors are pipes (splice's, and its stdio).
/// How many of `pid`'s threads are named `name` (/proc/PID/task/*/comm).
pub fn threads_named(pid: u32, name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

pub fn pipe_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|link| link.to_string_lossy().starts_with("pipe:"))
        .count()
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

/// The process's open-file limit as /proc/PID/limits shows it: `[soft, hard]`.
pub fn open_file_limit(pid: u32) -> [String; 2] {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let words: Vec<&str> = line.split_whitespace().collect();
    [words[3].to_string(), words[4].to_string()]
}

/// The port a process listens on, found through its socket inodes in /proc (for runs whose log
/// does not say, such as `-q`).
pub fn listening_port_of(pid: u32) -> Option<u16> {
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

/// The process's descriptors for connected TCP sockets, borrowed from it with pidfd_getfd(2), so
/// the test can read their options.
pub fn tcp_sockets_of(pid: u32) -> Vec<socket2::Socket> {
    // SAFETY: plain syscalls; each returned descriptor is checked and owned exactly once.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(pidfd >= 0, "pidfd_open: {}", io::Error::last_os_error());
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let mut sockets = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
        let target_fd: i32 = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .parse()
            .expect("fd number");
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0) };
        assert!(fd >= 0, "pidfd_getfd: {}", io::Error::last_os_error());
        let socket = socket2::Socket::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        if socket.peer_addr().is_ok() && socket.r#type().ok() == Some(socket2::Type::STREAM) {
            sockets.push(socket);
        }
    }
    sockets
}
