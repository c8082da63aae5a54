//! What a process costs, read from /proc: its RSS and threads, summed over its descendants, and
//! the same once it has settled.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Usage once the process is quiet: tcpproxy keeps finished pair threads parked for 2 s in case
/// new pairs come, and threads that new pairs reuse would hide the cost of a pair. So wait until the
/// thread count has not changed for 3 s (at most 10 s).
pub(crate) fn settled_usage(pid: u32) -> (u64, u64) {
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut usage = process_usage(pid);
    let mut unchanged_since = Instant::now();
    while unchanged_since.elapsed() < Duration::from_secs(3) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(100));
        let now = process_usage(pid);
        if now.1 != usage.1 {
            unchanged_since = Instant::now();
        }
        usage = now;
    }
    usage
}

/// (RSS in KiB, threads) of a process, from /proc.
/// Summed over the process and its descendants: nginx's workers and socat's per-connection
/// children are where their memory is.
pub(crate) fn process_usage(pid: u32) -> (u64, u64) {
    let (mut rss, mut threads) = one_process_usage(pid);
    for child in children(pid) {
        let (child_rss, child_threads) = process_usage(child);
        rss += child_rss;
        threads += child_threads;
    }
    (rss, threads)
}

/// `pid` and all its descendants.
pub(crate) fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    for child in children(pid) {
        all.extend(tree(child));
    }
    all
}

/// The children of every thread of `pid`.
pub(crate) fn children(pid: u32) -> Vec<u32> {
    threads(pid)
        .into_iter()
        .filter_map(|task| std::fs::read_to_string(task.join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The `/proc/PID/task/TID` directory of each thread of `pid` alive now; none if `pid` is gone.
pub(crate) fn threads(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| tasks.flatten().map(|task| task.path()).collect())
        .unwrap_or_default()
}

/// (RSS in KiB, threads) of the one process `pid`, without its children.
fn one_process_usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}
