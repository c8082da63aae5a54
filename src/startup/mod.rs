//! Start-up: build the three rooms from the command line, in the one order that works, then hand
//! the main thread to the accept loop until a stop.
//!
//! The order matters:
//! 1. block SIGINT, SIGTERM, SIGHUP and SIGUSR1 before any thread exists, so every thread inherits the mask and
//!    those signals can only ever reach the `signals` thread's `signalfd`;
//! 2. logging, then the limits (so the pair budget is known before any buffer is reserved);
//! 3. resolve the destination and bind the listener, or take the one systemd passed (any of it
//!    can fail: exit 1, one line);
//! 4. the relay, the `signals` thread (every signal, from a `signalfd`), and with `--metrics` the
//!    `metrics` thread (its address, too, can fail: exit 1, naming it);
//! 5. only then the listening line (and systemd's `READY=1`): whoever reads it may rely on all of
//!    the above.
//!
//! Blocking: the main thread, in [`serve`] (the accept loop) until a stop. The rooms themselves
//! are built in [`rooms`].

pub mod rooms;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::Options;
use crate::error::StartupError;
use crate::front_door::accept::{serve, Door};
use crate::front_door::limits;
use crate::front_door::listener;
use crate::front_door::live::LivePairs;
use crate::front_door::shutdown::drain_then_cut;
use crate::front_door::stop::Stop;
use crate::front_door::systemd;
use crate::operator::announce::{self, Announcement};
use crate::operator::endpoint::history::{self, History};
use crate::operator::endpoint::metrics::Metrics;
use crate::operator::endpoint::readiness::Readiness;
use crate::operator::endpoint::status_page::{Status, Timeouts};
use crate::operator::logging::LogFile;
use crate::operator::{endpoint, logging, stats};
use crate::relay::Relay;
use crate::signals;
use rooms::{build_rooms, choose_copy_mode, open_sockets};

/// How long a stop waits for the cut pairs' lines, which take microseconds once their slots are
/// back: a margin, inside the second a stop may take.
const LINES_GRACE: Duration = Duration::from_millis(100);

/// How long a stop waits for the dump to catch up: with the cut pairs' own grace (0.7 s), still
/// inside the second a stop may take after the drain.
const DUMP_FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Run the proxy until SIGINT or SIGTERM. An error means it never started.
pub fn run(options: &Options) -> Result<(), StartupError> {
    signals::block_watched_signals()?;
    let log_file = logging::init(
        logging::level(options.quiet, options.verbose),
        options.log_file.as_deref(),
        options.log_format,
    )?;
    let open_files = limits::raise_open_file_limit();
    let max_connections = limits::choose_max_connections(options.max_connections, open_files)?;
    let (pool, listener, origin) = open_sockets(options)?;
    let listening = listener
        .local_addr()
        .map_err(StartupError::ListeningAddress)?;
    for destination in pool.destinations() {
        listener::refuse_relaying_to_ourselves(listening, &destination.current())?;
    }
    let copy_mode = choose_copy_mode(options, max_connections, open_files)?;
    let (door, relay) =
        build_rooms(options, &listener, pool, copy_mode, max_connections).map_err(|source| {
            StartupError::Listen {
                address: listening,
                source,
            }
        })?;
    let watch = &options.upstream;
    let upstream = relay.upstream();
    upstream.start_watchers(watch.resolve_interval, watch.check_interval())?;
    let described = upstream.describe(watch.check_interval(), watch.resolve_interval);
    let live = LivePairs::default();
    let stop = Arc::new(Stop::new(listening));
    let operator = Operator {
        door: &door,
        relay: &relay,
        live: &live,
        stop: &stop,
    };
    let metrics_at = operator.start(options, log_file.clone())?;
    Announcement {
        listen: listening,
        origin: &origin,
        destination: &described,
        destinations: &upstream.pool.names(),
        balance: upstream.pool.balance().as_str(),
        timeout: options.timeout,
        idle_timeout: options.idle_timeout(),
        connect_timeout: options.connect_timeout,
        max_connections,
        drain: options.drain,
        metrics: metrics_at,
    }
    .announce();
    if let Some(file) = &log_file {
        file.check_written()?;
    }
    systemd::ready(listening);
    serve_until_stopped(listener, &door, &relay, &stop, live, options.drain);
    Ok(())
}

/// What the operator's threads read: the rooms, the live pairs, and the stop they may ask for.
struct Operator<'a> {
    door: &'a Door,
    relay: &'a Arc<Relay>,
    live: &'a LivePairs,
    stop: &'a Arc<Stop>,
}

impl Operator<'_> {
    /// The `signals` thread, and with `--metrics` the endpoint's; the address the endpoint bound
    /// (so the listening line can name the port `--metrics 127.0.0.1:0` was given).
    fn start(
        &self,
        options: &Options,
        log_file: Option<Arc<LogFile>>,
    ) -> Result<Option<SocketAddr>, StartupError> {
        // The status page's ring exists only with --metrics: without, no samples and no timer.
        let history = (options.metrics.is_some()).then(|| Arc::new(History::new(history::KEPT)));
        signals::start_watcher(signals::Watcher {
            stop: Arc::clone(self.stop),
            stats: self.sources(),
            log_file,
            interval: options.stats_interval(),
            history: history.clone(),
        })?;
        let (Some(address), Some(history)) = (options.metrics, history) else {
            return Ok(None);
        };
        let timeouts = Timeouts {
            stall: options.timeout,
            idle: options.idle_timeout(),
        };
        let status = Status { history, timeouts };
        let readiness = Readiness {
            stop: Arc::clone(self.stop),
            relay: Arc::clone(self.relay),
        };
        let bound = endpoint::start(address, Metrics::new(self.sources()), status, readiness)?;
        Ok(Some(bound))
    }

    fn sources(&self) -> stats::Sources {
        stats::Sources {
            live: self.live.directory(),
            relay: Arc::clone(self.relay),
            door: Arc::clone(&self.door.counts),
        }
    }
}

/// The accept loop; then what a stop leaves to do: drain and cut the live pairs, write the dump's
/// last bytes, and the summary.
fn serve_until_stopped(
    listener: TcpListener,
    door: &Door,
    relay: &Arc<Relay>,
    stop: &Stop,
    live: LivePairs,
    drain: Duration,
) {
    let still_live = serve(listener, door, relay, stop, live);
    systemd::stopping();
    let stopped = drain_then_cut(still_live, drain);
    // The slots are back; the lines of the last pairs to give theirs back may still be on their
    // way to the log (a pair frees its slot first), and the summary should come after them.
    relay
        .lines_in_flight()
        .wait_until_written(Instant::now() + LINES_GRACE);
    if let Some(dump) = &relay.copy_mode().dump {
        // The pairs are gone; what they read must reach the dump before we exit.
        dump.flush(Instant::now() + DUMP_FLUSH_GRACE);
    }
    announce::summary(relay.totals(), &door.counts, stopped);
}
