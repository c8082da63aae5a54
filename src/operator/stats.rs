//! The live stats table: `kill -USR1 PID`, or every `--stats-interval` seconds.
//!
//! One info record lists every live pair — its addresses, age, bytes each way, and what each of
//! its two threads is blocked on right now — and the proxy's totals. The pumps publish their state
//! with relaxed atomic stores (`activity.rs`), so producing the table costs the data path nothing;
//! the report reads the main thread's table of live pairs under its lock, once per report. The
//! `signals` thread (`signals.rs`) asks for a report on SIGUSR1 and at every interval.
//!
//! Nothing here blocks but the log line's write.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};

use log::info;

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

/// Log the table now.
pub fn report(sources: &Sources) {
    info!("{}", table(&sources.live.live_pairs(), sources));
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
