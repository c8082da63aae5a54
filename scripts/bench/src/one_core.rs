//! One core for one measurement: every thread of the bench (the client and the backend) and of
//! the target's processes is pinned to CPU 0 while a round trip is timed, then given its old
//! CPUs back.
//!
//! Why: on this machine a wake-up that lands on the other virtual CPU costs tens of
//! microseconds (a direct 64 B round trip takes ~75 µs with the scheduler free to spread its two
//! threads, ~18 µs with both on one core), and how often the scheduler does that changes from run
//! to run. A proxied round trip has twice the wake-ups of a direct one, so unpinned the RTT rows
//! mostly measure the scheduler's placement. On one core every wake-up is a plain switch on the
//! same CPU, and what is left is what the proxy itself adds.

use std::io;

use nix::errno::Errno;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use crate::usage::{threads, tree};

/// Threads pinned to CPU 0 until dropped; each gets back the CPUs its process had.
pub(crate) struct OneCore {
    processes: Vec<(u32, CpuSet)>,
}

impl OneCore {
    /// Pin the bench and, if given, the process tree of `target`.
    pub(crate) fn pin(target: Option<u32>) -> io::Result<OneCore> {
        let mut processes = vec![std::process::id()];
        processes.extend(target.map(tree).unwrap_or_default());
        let mut cpu0 = CpuSet::new();
        cpu0.set(0).map_err(io::Error::from)?;
        let mut saved = Vec::new();
        for pid in processes {
            // socat forks a child per connection, and one may end between listing and pinning.
            let old = match sched_getaffinity(Pid::from_raw(pid as i32)) {
                Ok(old) => old,
                Err(Errno::ESRCH) => continue,
                Err(e) => return Err(io::Error::other(format!("sched_getaffinity({pid}): {e}"))),
            };
            set_every_thread(pid, &cpu0);
            saved.push((pid, old));
        }
        Ok(OneCore { processes: saved })
    }
}

impl Drop for OneCore {
    /// Every thread alive now, including those started while pinned (they inherited CPU 0), gets
    /// its process's old CPUs.
    fn drop(&mut self) {
        for (pid, old) in &self.processes {
            set_every_thread(*pid, old);
        }
    }
}

/// Affinity is per thread: set it on each of `pid`'s threads. A thread that ends meanwhile is no
/// loss, so failures are skipped.
fn set_every_thread(pid: u32, cpus: &CpuSet) {
    for task in threads(pid) {
        let tid = task
            .file_name()
            .and_then(|t| t.to_str()?.parse::<i32>().ok());
        if let Some(tid) = tid {
            let _ = sched_setaffinity(Pid::from_raw(tid), cpus);
        }
    }
}
