//! What the host took: on a virtual machine the hypervisor may run something else on a vCPU's
//! physical core, and the guest counts that time as `steal` in /proc/stat. The bench reads it
//! around its workloads because a vCPU taken away for milliseconds shows up as milliseconds of
//! latency in whatever was running there, direct included: on this machine (Firecracker, two
//! vCPUs) direct's p99 at 4,000 pingers was 0.39–0.67 ms in five runs with at most 0.4 % steal,
//! and 8.8–12.6 ms in two with 13.6 % and 23.0 % (2026-12-03).

use std::fs;

/// The machine's CPU time so far, all CPUs together, in clock ticks.
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuTimes {
    steal: u64,
    total: u64,
}

impl CpuTimes {
    /// The share of the CPU time between `self` and `later` that the host took (%); None where
    /// /proc/stat has no steal column or nothing elapsed.
    pub(crate) fn steal_percent_until(self, later: CpuTimes) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        let steal = later.steal.checked_sub(self.steal)?;
        (total > 0).then(|| steal as f64 * 100.0 / total as f64)
    }
}

/// Read /proc/stat's first line, `cpu user nice system idle iowait irq softirq steal ...`;
/// zeros (so no figure) if it cannot be read.
pub(crate) fn now() -> CpuTimes {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return CpuTimes::default();
    };
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    CpuTimes {
        // guest and guest_nice (fields 9 and 10) are already inside user and nice: not summed.
        steal: ticks.get(7).copied().unwrap_or(0),
        total: ticks.iter().take(8).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_a_share_of_all_the_time_that_passed() {
        let before = CpuTimes {
            steal: 10,
            total: 1000,
        };
        let after = CpuTimes {
            steal: 35,
            total: 1200,
        };
        assert_eq!(before.steal_percent_until(after), Some(12.5));
        assert_eq!(before.steal_percent_until(before), None);
    }
}
