//! The open-file limit, and how many pairs it allows (SPEC §1 `--max-connections`).
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
//! the whole process. Measured here, 10,000 idle pairs would need 100,000 mappings; so the default
//! `--max-connections` respects both budgets, and a larger explicit value is refused.

use log::debug;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors kept back for everything that is not a pair: stdio, the listener, the log file, the
/// stop signal's knock, the resolver's files, and a margin for the libraries.
pub const RESERVED_DESCRIPTORS: u64 = 32;

/// Descriptors one pair holds: its client socket and its destination socket.
pub const DESCRIPTORS_PER_PAIR: u64 = 2;

/// Memory mappings one pair holds: for each of its two threads a stack, its guard page, the signal
/// stack Rust's runtime gives every thread and that stack's guard; plus each direction's buffer.
/// (Measured: 1,000 idle pairs added 10,019 lines to /proc/PID/maps.)
pub const MAPPINGS_PER_PAIR: u64 = 10;

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

/// The most pairs `mappings` memory mappings can hold with headroom to spare (at least one).
pub fn max_pairs_by_mappings(mappings: u64) -> u64 {
    (mappings.saturating_sub(RESERVED_MAPPINGS) / MAPPINGS_PER_PAIR).max(1)
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
    fn pairs_fit_the_default_map_count() {
        assert_eq!(max_pairs_by_mappings(65_530), 6_453);
    }
}
