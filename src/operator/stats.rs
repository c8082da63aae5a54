//! The live stats table: `kill -USR1 PID`, or every `--stats-interval` seconds.
//!
//! One info record lists every live pair — its addresses, age, bytes each way, and what each of
//! its two threads is blocked on right now — and the proxy's totals. The pumps publish their state
//! with relaxed atomic stores (`activity.rs`), so producing the table costs the data path nothing;
//! this thread reads the main thread's table of live pairs under its lock, once per report.
//!
//! Signals: SIGUSR1's default action kills the process, so it must never be delivered the
//! ordinary way. [`block_report_signal`] blocks it in the main thread before any other thread
//! exists (threads inherit the mask), and the `stats` thread receives it from a `signalfd` — a
//! descriptor that becomes readable when the signal is pending. A `poll` on that descriptor, with
//! the time left to the next interval as its timeout, is the thread's only blocking call.

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::StartupError;
use crate::front_door::accept::Refusals;
use crate::front_door::live::Directory;
use crate::relay::activity::Snapshot;
use crate::relay::direction::Direction;
use crate::relay::pair::Pair;
use crate::relay::Relay;
use crate::units::Bytes;

/// What the table reads: the live pairs, the relay's counters, the door's refusals.
pub struct Sources {
    pub live: Directory,
    pub relay: Arc<Relay>,
    pub refusals: Arc<Refusals>,
}

/// Block SIGUSR1 in this thread and every thread it will start. Call before starting any thread.
pub fn block_report_signal() -> Result<(), StartupError> {
    report_signal()
        .thread_block()
        .map_err(|source| StartupError::Signal {
            what: "block SIGUSR1 for the stats thread",
            source,
        })
}

fn report_signal() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set
}

/// Start the `stats` thread: a report on every SIGUSR1, and every `interval` if given.
pub fn start(sources: Sources, interval: Option<Duration>) -> Result<(), StartupError> {
    let signals =
        SignalFd::with_flags(&report_signal(), SfdFlags::SFD_CLOEXEC).map_err(|source| {
            StartupError::Signal {
                what: "receive SIGUSR1 (signalfd)",
                source,
            }
        })?;
    thread::Builder::new()
        .name("stats".into())
        .spawn(move || report_forever(&signals, &sources, interval))
        .map(drop)
        .map_err(|source| StartupError::Thread {
            name: "stats",
            source,
        })
}

fn report_forever(signals: &SignalFd, sources: &Sources, interval: Option<Duration>) {
    let mut next_tick = interval.map(|every| Instant::now() + every);
    loop {
        let timeout = match next_tick {
            // Past deadlines give zero: report at once, then schedule from the old deadline so
            // the reports keep to their rhythm.
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .try_into()
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                if let (Some(at), Some(every)) = (next_tick.as_mut(), interval) {
                    *at += every;
                }
            }
            Ok(_) => {
                // Consume the pending signal so the descriptor stops being readable.
                if let Err(e) = signals.read_signal() {
                    warn!("stats: cannot read SIGUSR1 from its signalfd: {e}; no more reports");
                    return;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                warn!("stats: waiting for SIGUSR1 failed: {e}; no more reports");
                return;
            }
        }
        info!("{}", table(&sources.live.live_pairs(), sources));
    }
}

/// The whole report: a totals line, then one aligned row per live pair.
fn table(pairs: &[Weak<Pair>], sources: &Sources) -> String {
    let relay = &sources.relay;
    // Each pair is held only while its row is read (see `Directory::live_pairs`).
    let rows: Vec<([String; 8], u64, u64)> = pairs
        .iter()
        .filter_map(Weak::upgrade)
        .map(|pair| {
            let up = pair.delivered(Direction::ClientToServer);
            let down = pair.delivered(Direction::ServerToClient);
            (row(&pair, relay), up, down)
        })
        .collect();
    let totals = relay.totals();
    let (mut up, mut down) = totals.bytes();
    for (_, pair_up, pair_down) in &rows {
        up += pair_up;
        down += pair_down;
    }
    let cuts = totals.hang_cuts();
    let mut out = format!(
        "stats: {} pairs live, {} served; {} refused by --allow; hangs cut: {} stall toward \
         client, {} stall toward server, {} idle; up {}, down {}; {} threads ({} parked)",
        rows.len(),
        totals.pairs_served(),
        sources.refusals.by_allow(),
        cuts.stall_toward_client,
        cuts.stall_toward_server,
        cuts.idle,
        Bytes(up),
        Bytes(down),
        thread_count().map_or("?".into(), |n| n.to_string()),
        relay.workers().parked(),
    );
    if let Some(dump) = &relay.copy_mode().dump {
        let _ = write!(out, "; dump dropped {}", Bytes(dump.dropped_bytes()));
    }
    let header = [
        "pair",
        "client",
        "destination",
        "age",
        "up",
        "down",
        "c->s",
        "s->c",
    ];
    let lines: Vec<[String; 8]> = std::iter::once(header.map(String::from))
        .chain(rows.into_iter().map(|(cells, _, _)| cells))
        .collect();
    let mut widths = [0; 8];
    for row in &lines {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &lines {
        let mut line = String::from("\n ");
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, " {cell:<width$} ");
        }
        out.push_str(line.trim_end());
    }
    out
}

/// One pair's cells, in the header's order.
fn row(pair: &Pair, relay: &Relay) -> [String; 8] {
    let now = pair.clock().now();
    let state = |dir: Direction| -> Snapshot { pair.activity(dir).snapshot(now) };
    [
        pair.id().to_string(),
        pair.client_addr().to_string(),
        pair.server_addr().map_or_else(
            || relay.upstream().destination.to_string(),
            |a| a.to_string(),
        ),
        format!("{:.1} s", pair.age().as_secs_f64()),
        Bytes(pair.delivered(Direction::ClientToServer)).to_string(),
        Bytes(pair.delivered(Direction::ServerToClient)).to_string(),
        state(Direction::ClientToServer).to_string(),
        state(Direction::ServerToClient).to_string(),
    ]
}

/// This process's thread count, from /proc (Linux).
fn thread_count() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
