//! The metrics `/metrics` serves: what each is called, what it counts, and where the number comes
//! from. docs/reference.md lists them; the names and labels are a contract (add, never rename).
//!
//! Every number is one the proxy already keeps for its summary and stats table: the relay's
//! [`Totals`](crate::relay::accounting::totals::Totals) and histograms, what the door counted, the parked
//! threads, each live pair's delivered bytes. A scrape reads them with relaxed loads; the one lock
//! it takes is the live-pair directory's, once, as the stats table does. The pumps never wait for
//! a scrape.
//!
//! Two counters are worth a word. Bytes are the ended pairs' plus the live pairs', so they grow
//! while a long download runs, not only when it ends; a pair that is handing its bytes over to
//! the totals right now is skipped (`Pair::is_counted`), so no byte is counted twice, and the
//! scrape never reports less than it did before (`Floor`): a counter that went down would look
//! to Prometheus like a restart. Whether a pair reached the destination is two counters,
//! `..._reached_destination_total` and `..._not_reached_destination_total`, rather than one with a
//! label, because the second is the one an alert watches and a name is easier to get right.
//!
//! Per destination, the label is `destination="HOST:PORT"` as the command line gave it (a name,
//! not the address it resolves to now), so a series survives the name's moves.
//!
//! Nothing here blocks but the directory's lock, each destination's for an instant, and reads of
//! /proc.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Weak;

use crate::front_door::gate::Refusal;
use crate::front_door::limits;
use crate::operator::endpoint::exposition::{Exposition, Kind};
use crate::operator::logging;
use crate::operator::stats::{self, Sources};
use crate::relay::close::CloseCode;
use crate::relay::direction::Direction;
use crate::relay::upstream::destination::View;

/// A family with one sample per destination: its name, kind, help, and how to read a value.
type PerDestination = (&'static str, Kind, &'static str, fn(&View) -> u64);

/// What `/metrics` reads, and the least each byte counter may report next.
pub struct Metrics {
    pub sources: Sources,
    floor: Floor,
}

/// The highest value each byte counter has reported: (client to server, server to client).
#[derive(Default)]
struct Floor([AtomicU64; 2]);

impl Floor {
    /// `now`, or the last value reported if that was higher.
    fn at_least(&self, dir: Direction, now: u64) -> u64 {
        let before = self.0[dir.index()].fetch_max(now, Ordering::Relaxed);
        before.max(now)
    }
}

/// One reading of the live pairs: how many, and the bytes they have delivered so far.
struct Live {
    pairs: u64,
    bytes: [u64; 2],
}

impl Metrics {
    pub fn new(sources: Sources) -> Self {
        Metrics {
            sources,
            floor: Floor::default(),
        }
    }

    /// The whole scrape, as text.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let totals = self.sources.relay.totals();
        // The totals first, then the pairs: see `Pair::mark_counted` for why this order.
        let (ended_up, ended_down) = totals.bytes();
        fence(Ordering::Acquire);
        let live = self.live();
        self.pairs(&mut out, live.pairs);
        let up = ended_up + live.bytes[Direction::ClientToServer.index()];
        let down = ended_down + live.bytes[Direction::ServerToClient.index()];
        out.family(
            "tcpproxy_bytes_total",
            Kind::Counter,
            "Bytes relayed, by ended and live pairs, in each direction.",
        )
        .sample(
            "tcpproxy_bytes_total",
            &[("direction", "client_to_server")],
            self.floor.at_least(Direction::ClientToServer, up),
        )
        .sample(
            "tcpproxy_bytes_total",
            &[("direction", "server_to_client")],
            self.floor.at_least(Direction::ServerToClient, down),
        );
        self.door(&mut out);
        self.destinations(&mut out);
        self.process(&mut out);
        out.histogram(
            "tcpproxy_pair_duration_seconds",
            "How long ended pairs lived, from accept to close.",
            &totals.pair_seconds(),
        );
        out.histogram(
            "tcpproxy_connect_duration_seconds",
            "How long successful connects to the destination took.",
            &totals.connect_seconds(),
        );
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        out.family("tcpproxy_build_info", Kind::Gauge, "The running version.")
            .sample("tcpproxy_build_info", &version, 1);
        out.finish()
    }

    /// The live pairs not yet counted in the totals: one pass over the directory, each pair held
    /// only while its two counters are read.
    fn live(&self) -> Live {
        let mut live = Live {
            pairs: 0,
            bytes: [0, 0],
        };
        let pairs = self.sources.live.live_pairs();
        for pair in pairs.iter().filter_map(Weak::upgrade) {
            if pair.is_counted() {
                continue;
            }
            live.pairs += 1;
            for dir in [Direction::ClientToServer, Direction::ServerToClient] {
                live.bytes[dir.index()] += pair.delivered(dir);
            }
        }
        live
    }

    /// Pairs: accepted, live, connecting, ended (by reason and by whether they got through).
    fn pairs(&self, out: &mut Exposition, live: u64) {
        let totals = self.sources.relay.totals();
        out.single(
            "tcpproxy_pairs_accepted_total",
            Kind::Counter,
            "Clients accepted and handed to the relay.",
            totals.pairs_opened(),
        );
        out.single("tcpproxy_pairs_live", Kind::Gauge, "Pairs alive now.", live);
        out.single(
            "tcpproxy_pairs_connecting",
            Kind::Gauge,
            "Pairs connecting to the destination now.",
            totals.pairs_connecting(),
        );
        let closed = "tcpproxy_pairs_closed_total";
        out.family(closed, Kind::Counter, "Pairs ended, by close reason.");
        for code in CloseCode::ALL {
            out.sample(closed, &[("reason", code.as_str())], totals.ended_by(code));
        }
        out.single(
            "tcpproxy_pairs_reached_destination_total",
            Kind::Counter,
            "Ended pairs that had their connection to the destination.",
            totals.pairs_reached(),
        );
        out.single(
            "tcpproxy_pairs_not_reached_destination_total",
            Kind::Counter,
            "Ended pairs that never had one (the connect failed, or a stop came first).",
            totals.pairs_not_reached(),
        );
        out.single(
            "tcpproxy_connect_failures_total",
            Kind::Counter,
            "Connects to the destination that failed (refused, timed out, unreachable).",
            totals.ended_by(CloseCode::ConnectFailed),
        );
        let cuts = totals.hang_cuts();
        let hang = "tcpproxy_hang_cuts_total";
        out.family(hang, Kind::Counter, "Pairs cut by the hang rule, by rule.")
            .sample(
                hang,
                &[("rule", "stall_toward_client")],
                cuts.stall_toward_client,
            )
            .sample(
                hang,
                &[("rule", "stall_toward_server")],
                cuts.stall_toward_server,
            )
            .sample(hang, &[("rule", "idle")], cuts.idle);
    }

    /// The front door: clients refused, by cause, and failed accepts.
    fn door(&self, out: &mut Exposition) {
        let door = &self.sources.door;
        let refused = [
            ("allow", door.refused_by(Refusal::NotAllowed)),
            ("deny", door.refused_by(Refusal::Denied)),
            ("max_per_client", door.refused_by(Refusal::OverClientLimit)),
        ];
        let name = "tcpproxy_connections_refused_total";
        out.family(
            name,
            Kind::Counter,
            "Clients refused at the door, by cause.",
        );
        for (cause, count) in refused {
            out.sample(name, &[("cause", cause)], count);
        }
        out.single(
            "tcpproxy_accept_errors_total",
            Kind::Counter,
            "accept() calls that failed (out of descriptors, a client gone while queued, ...).",
            door.accept_errors(),
        );
        out.single(
            "tcpproxy_log_write_errors_total",
            Kind::Counter,
            "Writes to --log-file that failed (a full disk, say); lines lost, told on stderr.",
            logging::write_errors(),
        );
    }

    /// Each destination, labelled with its HOST:PORT as given: up, live pairs, pairs served,
    /// failed connects.
    fn destinations(&self, out: &mut Exposition) {
        let views = self.sources.relay.upstream().pool.views();
        let families: [PerDestination; 4] = [
            (
                "tcpproxy_destination_up",
                Kind::Gauge,
                "1 while the destination is up (pairs may be sent there), 0 while it is down.",
                |v| u64::from(v.up),
            ),
            (
                "tcpproxy_destination_pairs_live",
                Kind::Gauge,
                "Pairs at the destination now, connecting ones included.",
                |v| v.live,
            ),
            (
                "tcpproxy_destination_pairs_total",
                Kind::Counter,
                "Pairs that connected to the destination.",
                |v| v.pairs,
            ),
            (
                "tcpproxy_destination_connect_failures_total",
                Kind::Counter,
                "Connects by pairs to the destination that failed (each failover counts).",
                |v| v.connect_failures,
            ),
        ];
        for (name, kind, help, value) in families {
            out.family(name, kind, help);
            for view in &views {
                out.sample(name, &[("destination", &view.name)], value(view));
            }
        }
    }

    /// The process: threads and descriptors. A reading /proc cannot give is left out, not faked.
    fn process(&self, out: &mut Exposition) {
        let parked = self.sources.relay.workers().parked() as u64;
        if let Some(all) = stats::thread_count() {
            let name = "tcpproxy_threads";
            out.family(
                name,
                Kind::Gauge,
                "Threads: parked pair threads waiting for work, and every other (running).",
            )
            .sample(name, &[("state", "running")], all.saturating_sub(parked))
            .sample(name, &[("state", "parked")], parked);
        }
        if let Some(limit) = limits::open_file_limit() {
            let help = "The open-file limit in force (soft RLIMIT_NOFILE).";
            out.single("tcpproxy_open_files_limit", Kind::Gauge, help, limit);
        }
        if let Some(open) = limits::open_descriptors() {
            let help = "Descriptors open now (entries of /proc/self/fd).";
            out.single("tcpproxy_open_files", Kind::Gauge, help, open);
        }
    }
}
