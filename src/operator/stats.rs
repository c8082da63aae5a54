//! The live stats table: `kill -USR1 PID`, or every `--stats-interval` seconds.
//!
//! One record lists every live pair — its addresses, age, bytes each way, and what each of its two
//! threads is blocked on right now — and the proxy's totals. The pumps publish their state with
//! relaxed atomic stores (`relay/accounting/activity.rs`), so producing the table costs the data path nothing; the
//! report reads the main thread's table of live pairs under its lock, once per report. The
//! `signals` thread (`signals.rs`) asks for a report on SIGUSR1 and at every interval.
//!
//! In text, every line of the table begins with the time and `stats`, so `grep stats` keeps the
//! whole table; in JSON the report is one `stats` event holding every row. [`gather`] is the one
//! reading of the numbers that both print (and the metrics reuse). Nothing here blocks but the
//! log line's write.

use std::sync::{Arc, Weak};
use std::time::Duration;

use log::Level;

use crate::events::{self, Importance};
use crate::front_door::gate::DoorCounts;
use crate::front_door::gate::Refusal;
use crate::front_door::live::Directory;
use crate::json::{Array, Object};
use crate::operator::{destinations, text_table};
use crate::relay::accounting::activity::Snapshot;
use crate::relay::accounting::totals::HangCuts;
use crate::relay::direction::Direction;
use crate::relay::pair::Pair;
use crate::relay::upstream::destination::View;
use crate::relay::Relay;
use crate::units::Bytes;

/// What the table reads: the live pairs, the relay's counters, what the door counted.
pub struct Sources {
    pub live: Directory,
    pub relay: Arc<Relay>,
    pub door: Arc<DoorCounts>,
}

/// One reading of everything the table shows.
pub struct Report {
    pub pairs: Vec<PairRow>,
    pub served: u64,
    pub reached: u64,
    pub not_reached: u64,
    pub refused_by_allow: u64,
    pub refused_by_deny: u64,
    pub refused_over_client_limit: u64,
    pub hang_cuts: HangCuts,
    /// Bytes delivered so far, by ended and live pairs alike: (client to server, server to client).
    pub bytes: (u64, u64),
    /// From /proc; `None` where there is none.
    pub threads: Option<u64>,
    pub parked: usize,
    pub dump_dropped: Option<u64>,
    /// Every destination, in order: its health, addresses and pairs.
    pub destinations: Vec<View>,
}

/// One live pair, as the table shows it.
pub struct PairRow {
    pub id: u64,
    pub client: String,
    pub destination: String,
    pub age: Duration,
    pub up: u64,
    pub down: u64,
    /// What each direction is doing, indexed by `Direction::index` (c->s, then s->c).
    pub directions: [Snapshot; 2],
}

/// Read everything the table shows, now.
pub fn gather(sources: &Sources) -> Report {
    let relay = &sources.relay;
    // Each pair is held only while its row is read (see `Directory::live_pairs`).
    let pairs: Vec<PairRow> = (sources.live.live_pairs().iter())
        .filter_map(Weak::upgrade)
        .map(|pair| PairRow::read(&pair, relay))
        .collect();
    let totals = relay.totals();
    let (mut up, mut down) = totals.bytes();
    for pair in &pairs {
        up += pair.up;
        down += pair.down;
    }
    Report {
        served: totals.pairs_served(),
        reached: totals.pairs_reached(),
        not_reached: totals.pairs_not_reached(),
        refused_by_allow: sources.door.refused_by(Refusal::NotAllowed),
        refused_by_deny: sources.door.refused_by(Refusal::Denied),
        refused_over_client_limit: sources.door.refused_by(Refusal::OverClientLimit),
        hang_cuts: totals.hang_cuts(),
        bytes: (up, down),
        threads: thread_count(),
        parked: relay.workers().parked(),
        dump_dropped: relay.copy_mode().dump.as_ref().map(|d| d.dropped_bytes()),
        destinations: relay.upstream().pool.views(),
        pairs,
    }
}

/// Log the table now, in the log's format.
pub fn report(sources: &Sources) {
    let report = gather(sources);
    events::emit(
        Level::Info,
        Importance::Normal,
        "stats",
        TextTable(&report),
        |out| report.fields(out),
    );
}

impl PairRow {
    fn read(pair: &Pair, relay: &Relay) -> Self {
        let now = pair.clock().now();
        let state = |dir: Direction| pair.activity(dir).snapshot(now);
        PairRow {
            id: pair.id(),
            client: pair.client_addr().to_string(),
            destination: pair.server_addr().map_or_else(
                || relay.upstream().pool.first().name().to_string(),
                |a| a.to_string(),
            ),
            age: pair.age(),
            up: pair.delivered(Direction::ClientToServer),
            down: pair.delivered(Direction::ServerToClient),
            directions: [
                state(Direction::ClientToServer),
                state(Direction::ServerToClient),
            ],
        }
    }

    /// For programs: the keys docs/reference.md lists for a stats row (and `/pairs.json`).
    pub fn fields(&self, out: &mut Object) {
        let mut c_to_s = Object::new();
        self.directions[0].fields(&mut c_to_s);
        let mut s_to_c = Object::new();
        self.directions[1].fields(&mut s_to_c);
        out.u64("id", self.id)
            .str("client", &self.client)
            .str("destination", &self.destination)
            .f64("age_s", self.age.as_secs_f64())
            .u64("bytes_up", self.up)
            .u64("bytes_down", self.down)
            .json("c_to_s", c_to_s.finish())
            .json("s_to_c", s_to_c.finish());
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.client.clone(),
            self.destination.clone(),
            format!("{:.1} s", self.age.as_secs_f64()),
            Bytes(self.up).to_string(),
            Bytes(self.down).to_string(),
            self.directions[0].to_string(),
            self.directions[1].to_string(),
        ]
    }
}

impl Report {
    /// The `stats` event's fields: the totals, then `pairs`, one object a row, and
    /// `destinations`.
    fn fields(&self, out: &mut Object) {
        self.totals(out);
        let mut rows = Array::default();
        for pair in &self.pairs {
            let mut row = Object::new();
            pair.fields(&mut row);
            rows.push(row.finish());
        }
        out.json("pairs", rows)
            .json("destinations", destinations::array(&self.destinations));
    }

    /// The totals' keys, as docs/reference.md lists them for the `stats` event (and `/pairs.json`).
    pub fn totals(&self, out: &mut Object) {
        let mut cuts = Object::new();
        cuts.u64("stall_toward_client", self.hang_cuts.stall_toward_client)
            .u64("stall_toward_server", self.hang_cuts.stall_toward_server)
            .u64("idle", self.hang_cuts.idle);
        out.u64("pairs_live", self.pairs.len() as u64)
            .u64("pairs_served", self.served)
            .u64("pairs_reached", self.reached)
            .u64("pairs_not_reached", self.not_reached)
            .u64("refused_by_allow", self.refused_by_allow)
            .u64("refused_by_deny", self.refused_by_deny)
            .u64("refused_over_client_limit", self.refused_over_client_limit)
            .json("hang_cuts", cuts.finish())
            .u64("bytes_up", self.bytes.0)
            .u64("bytes_down", self.bytes.1);
        match self.threads {
            Some(threads) => out.u64("threads", threads),
            None => out.opt_str("threads", None::<u64>),
        };
        out.u64("threads_parked", self.parked as u64);
        if let Some(dropped) = self.dump_dropped {
            out.u64("dump_dropped_bytes", dropped);
        }
    }
}

/// The table for people: a totals line, then one aligned row per live pair and one per
/// destination, each line marked `stats` (`text_table.rs`).
struct TextTable<'a>(&'a Report);

impl std::fmt::Display for TextTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let report = self.0;
        let cuts = report.hang_cuts;
        write!(
            f,
            "stats: {} pairs live, {} served ({} reached the destination, {} did not); {} refused \
             by --allow, {} by --deny, {} over --max-per-client; hangs cut: {} stall toward client, {} stall toward server, {} idle; up {}, \
             down {}; {} threads ({} parked)",
            report.pairs.len(),
            report.served,
            report.reached,
            report.not_reached,
            report.refused_by_allow,
            report.refused_by_deny,
            report.refused_over_client_limit,
            cuts.stall_toward_client,
            cuts.stall_toward_server,
            cuts.idle,
            Bytes(report.bytes.0).exact(),
            Bytes(report.bytes.1).exact(),
            report.threads.map_or("?".into(), |n| n.to_string()),
            report.parked,
        )?;
        if let Some(dropped) = report.dump_dropped {
            write!(f, "; dump dropped {}", Bytes(dropped))?;
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
        let rows: Vec<Vec<String>> = report.pairs.iter().map(PairRow::cells).collect();
        text_table::write(f, &header, &rows)?;
        let rows: Vec<Vec<String>> = report
            .destinations
            .iter()
            .map(destinations::cells)
            .collect();
        text_table::write(f, &destinations::HEADER, &rows)
    }
}

/// This process's thread count, from /proc (Linux).
pub fn thread_count() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
