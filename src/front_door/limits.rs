//! The process's budgets — descriptors and memory mappings — and how many pairs they allow
//! (`--max-connections`).
//!
//! Every pair holds two descriptors (client and destination sockets). A proxy that accepts more
//! pairs than it has descriptors for fails in the middle of a pair, at `connect`; it is better to
//! stop accepting a little earlier and let the kernel's backlog queue the rest. Like nginx and
//! HAProxy, we first raise the soft limit to the hard one: the administrator's hard limit is the
//! real budget, and the soft default (often 1024) is a guard for careless programs.
//!
//! Descriptors are not the only budget. Every pair also costs memory mappings, and Linux allows a
//! process `vm.max_map_count` of them (65,530 by default). A thread that cannot map its stack or
//! its signal stack does not start — and when the signal stack is what fails, Rust's runtime aborts
//! the whole process. Measured here, 10,000 idle pairs would need 80,000 mappings; so the default
//! `--max-connections` respects both budgets, and a larger explicit value is refused.

use log::debug;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::error::{BudgetTooSmall, StartupError};

/// Descriptors kept back for everything that is not a pair: stdio, the listener, the log file, the
/// signal threads' signalfd and pipe, an upgrade's notify socket, pidfd and copies of the sockets,
/// the resolver's files, and a margin for the libraries.
pub const RESERVED_DESCRIPTORS: u64 = 32;

/// Descriptors one pair holds: its client socket and its destination socket.
pub const DESCRIPTORS_PER_PAIR: u64 = 2;

/// Memory mappings one pair holds: for each of its two threads a stack, its guard page, the signal
/// stack Rust's runtime gives every thread and that stack's guard. (The buffers share one mapping,
/// see `relay/channel/buffer/`; before that, 1,000 idle pairs added 10,019 lines to /proc/PID/maps.)
pub const MAPPINGS_PER_PAIR: u64 = 8;

/// Mappings kept back for everything else: the binary, its libraries, malloc's arenas, the log.
pub const RESERVED_MAPPINGS: u64 = 1000;

/// The kernel's per-process limit on memory mappings, if it can be read.
pub fn memory_map_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The open-file limit in force now (the soft one), if it can be read.
pub fn open_file_limit() -> Option<u64> {
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Descriptors this process holds now: the entries of /proc/self/fd, less the one the listing
/// itself opens. `None` without /proc.
pub fn open_descriptors() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(entries.saturating_sub(1))
}

/// Raise the soft open-file limit to the hard limit and return the limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            debug!("cannot read the open-file limit ({e}); assuming the common default");
            return None;
        }
    };
    if soft >= hard {
        debug!("open-file limit is {soft}");
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            debug!("raised the open-file limit from {soft} to {hard}");
            Some(hard)
        }
        Err(e) => {
            debug!("cannot raise the open-file limit from {soft} to {hard} ({e})");
            Some(soft)
        }
    }
}

/// The most pairs `open_files` descriptors can hold with headroom to spare (at least one).
pub fn max_pairs(open_files: u64) -> u64 {
    (open_files.saturating_sub(RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_PAIR).max(1)
}

/// Descriptors left over once `pairs` pairs have their sockets (what splice's pipes may use).
pub fn spare_descriptors(open_files: u64, pairs: u64) -> u64 {
    open_files.saturating_sub(RESERVED_DESCRIPTORS + DESCRIPTORS_PER_PAIR * pairs)
}

/// One budget a pair draws on, for `--max-connections`' refusal message.
struct Budget {
    /// What runs out, as the message says it: "open files", "memory mappings".
    what: &'static str,
    /// The limit in force, and how the operator raises it.
    limit: u64,
    raise_with: &'static str,
    reserved: u64,
    per_pair: u64,
}

impl Budget {
    fn max_pairs(&self) -> u64 {
        (self.limit.saturating_sub(self.reserved) / self.per_pair).max(1)
    }
}

/// `--max-connections` (`requested`), or as many pairs as every budget allows. A number some budget
/// cannot honour is refused, naming it, rather than failing pairs halfway later (or, for mappings,
/// aborting the process).
pub fn choose_max_connections(
    requested: Option<u32>,
    open_files: Option<u64>,
) -> Result<usize, StartupError> {
    choose(requested, &budgets(open_files, memory_map_limit()))
        .map_err(StartupError::MaxConnections)
}

/// The budgets whose limits could be read.
fn budgets(open_files: Option<u64>, mappings: Option<u64>) -> Vec<Budget> {
    let descriptors = open_files.map(|limit| Budget {
        what: "open files",
        limit,
        raise_with: "ulimit -n",
        reserved: RESERVED_DESCRIPTORS,
        per_pair: DESCRIPTORS_PER_PAIR,
    });
    let mappings = mappings.map(|limit| Budget {
        what: "memory mappings (vm.max_map_count)",
        limit,
        raise_with: "sysctl vm.max_map_count",
        reserved: RESERVED_MAPPINGS,
        per_pair: MAPPINGS_PER_PAIR,
    });
    [descriptors, mappings].into_iter().flatten().collect()
}

fn choose(requested: Option<u32>, budgets: &[Budget]) -> Result<usize, BudgetTooSmall> {
    // What every budget allows at once: the default, and the value a refusal suggests (the
    // suggestion must itself start, so it is the smallest budget's, not the one that refused).
    let allowed = budgets
        .iter()
        .map(Budget::max_pairs)
        .min()
        .unwrap_or_else(|| max_pairs(1024));
    let Some(n) = requested.map(u64::from) else {
        return Ok(allowed as usize);
    };
    match budgets.iter().find(|budget| n > budget.max_pairs()) {
        Some(budget) => Err(BudgetTooSmall {
            requested: n,
            what: budget.what,
            needed: budget.reserved + budget.per_pair * n,
            limit: budget.limit,
            raise_with: budget.raise_with,
            would_start: allowed,
        }),
        None => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_leave_room_for_the_reserve() {
        assert_eq!(max_pairs(20_000), 9_984);
        assert_eq!(max_pairs(1024), 496);
        assert_eq!(max_pairs(10), 1);
    }

    #[test]
    fn the_default_is_what_the_smallest_budget_allows() {
        assert_eq!(
            choose(None, &budgets(Some(20_000), Some(65_530))),
            Ok(8_066)
        );
        assert_eq!(choose(None, &budgets(Some(1024), Some(65_530))), Ok(496));
        assert_eq!(choose(None, &budgets(None, None)), Ok(496));
        assert_eq!(choose(Some(7), &budgets(Some(1024), None)), Ok(7));
    }

    #[test]
    fn a_refusal_names_the_budget_and_suggests_a_value_that_starts() {
        let all = budgets(Some(20_000), Some(65_530));
        let refused = choose(Some(99_999_999), &all).unwrap_err();
        assert_eq!(refused.what, "open files");
        assert_eq!(refused.needed, 32 + 2 * 99_999_999);
        assert_eq!(refused.would_start, 8_066);
        assert_eq!(choose(Some(8_066), &all), Ok(8_066));
        let by_mappings = choose(Some(9_000), &all).unwrap_err();
        assert_eq!(by_mappings.what, "memory mappings (vm.max_map_count)");
        assert_eq!(by_mappings.would_start, 8_066);
    }

    #[test]
    fn pairs_fit_the_default_map_count() {
        let mappings = Budget {
            what: "memory mappings",
            limit: 65_530,
            raise_with: "sysctl",
            reserved: RESERVED_MAPPINGS,
            per_pair: MAPPINGS_PER_PAIR,
        };
        assert_eq!(mappings.max_pairs(), 8_066);
    }
}
