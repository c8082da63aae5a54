//! What a proxy spends, counted rather than timed: its CPU time and context switches from /proc,
//! summed over the process and its descendants (nginx's workers, socat's per-connection children),
//! read before and after a workload.

use std::fs;

use nix::unistd::{sysconf, SysconfVar};

use crate::usage::threads;

/// CPU time and context switches of a process tree at one moment.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counters {
    /// User plus system CPU seconds.
    pub(crate) cpu_seconds: f64,
    /// Voluntary plus involuntary context switches of the threads alive now.
    pub(crate) context_switches: u64,
    /// The same, as the main thread's /proc/PID/status alone says (see `leader_switches`).
    pub(crate) leader_switches: u64,
}

impl Counters {
    /// What was spent between `self` and the later reading `after`.
    pub(crate) fn spent_until(self, after: Counters) -> Counters {
        Counters {
            cpu_seconds: (after.cpu_seconds - self.cpu_seconds).max(0.0),
            context_switches: after.context_switches.saturating_sub(self.context_switches),
            leader_switches: after.leader_switches.saturating_sub(self.leader_switches),
        }
    }
}

/// The counters of `pid` and every descendant now; zeros for a process that has gone.
pub(crate) fn read(pid: u32) -> Counters {
    let mut total = one_process(pid);
    for child in crate::usage::children(pid) {
        let more = read(child);
        total.cpu_seconds += more.cpu_seconds;
        total.context_switches += more.context_switches;
        total.leader_switches += more.leader_switches;
    }
    total
}

fn one_process(pid: u32) -> Counters {
    let context_switches = threads(pid)
        .iter()
        .map(|task| switches(&task.join("status")))
        .sum();
    Counters {
        cpu_seconds: cpu_seconds(pid),
        // Summed over /proc/PID/task/*/status: the threads alive at the reading. A thread that
        // exits between the readings takes its switches with it, so where threads come and go
        // (tcpproxy retires idle pair threads after 2 s) this is a floor; `perf stat` counts all.
        context_switches,
        leader_switches: leader_switches(pid),
    }
}

/// /proc/PID/status's `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches`: unlike its
/// `Threads:` or `VmRSS:`, these are not the process's but its main thread's alone (the kernel
/// prints that one task's nvcsw + nivcsw). For tcpproxy that is the accepting thread; for a
/// single-threaded event loop (nginx's worker, rinetd) it is everything.
fn leader_switches(pid: u32) -> u64 {
    switches(std::path::Path::new(&format!("/proc/{pid}/status")))
}

/// Voluntary plus involuntary context switches from one task's status file; 0 if unreadable.
fn switches(status: &std::path::Path) -> u64 {
    let Ok(text) = fs::read_to_string(status) else {
        return 0;
    };
    text.lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.contains("nonvoluntary_ctxt"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// utime + stime (fields 14 and 15 of /proc/PID/stat), which count every thread the process has
/// had, exited ones included; plus cutime + cstime (16, 17), its children that have exited and been
/// reaped (socat's per-connection forks). 0 if unreadable.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): fields 14..=17 are indices 11..=14.
    let ticks: u64 = (11..=14)
        .filter_map(|i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / clock_ticks_per_second()
}

/// USER_HZ, the unit of /proc/PID/stat's times (100 on every Linux we know of, but asked).
fn clock_ticks_per_second() -> f64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => hz as f64,
        _ => 100.0,
    }
}
