//! Syscalls and context switches of a proxy over one workload, counted by `perf stat` attached
//! to its processes (counters are inherited, so threads and forks made during the workload count,
//! and those that exit keep theirs). Optional: without perf, or where it may not attach, the
//! figures are "n/a".

use std::path::Path;
use std::process::{Child, Command};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::command::{installed, spawn_into, wait_bounded};

/// A `perf stat` attached to a process tree, counting until `finish`.
pub(crate) struct PerfStat {
    child: Child,
    output: std::path::PathBuf,
}

/// What `perf stat` counted.
pub(crate) struct PerfCounts {
    pub(crate) syscalls: u64,
    pub(crate) context_switches: u64,
}

/// Attach `perf stat` to `pids`; `None` if perf is not installed or cannot start.
pub(crate) fn attach(pids: &[u32], scratch: &Path) -> Option<PerfStat> {
    let perf = installed("perf")?;
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let output = scratch.join("perf-stat.csv");
    let mut command = Command::new(perf);
    command.args([
        "stat",
        "-x",
        ",",
        "-e",
        "raw_syscalls:sys_enter,context-switches",
    ]);
    command.args(["-p", &list.join(",")]);
    let child = spawn_into(&mut command, &output).ok()?;
    // perf says nothing once its counters are open; attaching to a few threads takes milliseconds.
    thread::sleep(Duration::from_millis(300));
    Some(PerfStat { child, output })
}

impl PerfStat {
    /// Stop counting (SIGINT, as at a terminal) and read the counts; `None` if perf could not
    /// count (not permitted, no tracepoint) or did not report within 5 s.
    pub(crate) fn finish(mut self) -> Option<PerfCounts> {
        let pid = i32::try_from(self.child.id()).ok()?;
        signal::kill(Pid::from_raw(pid), Signal::SIGINT).ok()?;
        wait_bounded(&mut self.child, Duration::from_secs(5)).ok()??;
        let text = std::fs::read_to_string(&self.output).ok()?;
        // CSV lines: value,unit,event,...; "<not counted>" or "<not supported>" if it could not.
        let count = |event: &str| {
            text.lines()
                .map(|l| l.split(',').collect::<Vec<_>>())
                .find(|f| f.get(2).is_some_and(|e| e.starts_with(event)))
                .and_then(|f| f.first()?.parse::<u64>().ok())
        };
        Some(PerfCounts {
            syscalls: count("raw_syscalls:sys_enter")?,
            context_switches: count("context-switches")?,
        })
    }
}

impl Drop for PerfStat {
    /// A perf that was never finished (the workload failed) is stopped by its pid.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
