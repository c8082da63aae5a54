//! Start-up: build the three rooms from the command line, in the one order that works, then hand
//! the main thread to the accept loop until a stop.
//!
//! The order matters:
//! 0. make `argv[0]` absolute, before anything else, for an upgrade in place (`upgrade/program.rs`);
//! 1. block the signals before any thread exists, so every thread inherits the mask and each
//!    signal can only ever reach the thread meant for it (`signals/`);
//! 2. logging, then the limits (so the pair budget is known before any buffer is reserved);
//! 3. resolve the destinations, bind the listener and the `--metrics` socket, or take those that
//!    systemd or a previous tcpproxy passed (any of it can fail: exit 1, one line);
//! 4. the relay, the `signals` thread (from a `signalfd`), ctrlc's (SIGINT), and with `--metrics`
//!    the `metrics` thread;
//! 5. only then the listening line (and `READY=1` to systemd, or to the process upgrading to us):
//!    whoever reads it may rely on all of the above.
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
use crate::front_door::stop::{Cause, Stop};
use crate::front_door::systemd;
use crate::front_door::wake::Wakeable;
use crate::operator::announce::{self, Announcement};
use crate::operator::endpoint::history::{self, History};
use crate::operator::endpoint::metrics::Metrics;
use crate::operator::endpoint::readiness::Readiness;
use crate::operator::endpoint::status_page::{Status, Timeouts};
use crate::operator::logging::LogFile;
use crate::operator::{endpoint, logging, stats};
use crate::relay::upstream::Pool;
use crate::relay::Relay;
use crate::signals::{self, stops::Stopping};
use crate::upgrade::program::{Program, ProgramError};
use crate::upgrade::{Sockets, Upgrader};
use rooms::{build_rooms, choose_copy_mode, open_sockets};

/// How long a stop waits for the cut pairs' lines, which take microseconds once their slots are
/// back: a margin, inside the second a stop may take.
const LINES_GRACE: Duration = Duration::from_millis(100);

/// How long a stop waits for the dump to catch up: with the cut pairs' own grace (0.7 s), still
/// inside the second a stop may take after the drain.
const DUMP_FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Run the proxy until SIGINT or SIGTERM (or an upgrade's handover). An error means it never
/// started.
pub fn run(options: &Options) -> Result<(), StartupError> {
    // First: later, the working directory or PATH may no longer be what the shell saw.
    let program = Program::of_this_process();
    signals::block_watched_signals()?;
    let log_file = logging::init(
        logging::level(options.quiet, options.verbose),
        options.log_file.as_deref(),
        options.log_format,
    )?;
    let open_files = limits::raise_open_file_limit();
    let max_connections = limits::choose_max_connections(options.max_connections, open_files)?;
    let opened = open_sockets(options)?;
    let listening = (opened.listener.local_addr()).map_err(StartupError::ListeningAddress)?;
    let (door, relay) = rooms_for(
        options,
        &opened.listener,
        opened.pool,
        (max_connections, open_files),
    )?;
    let watch = &options.upstream;
    let upstream = relay.upstream();
    upstream.start_watchers(watch.resolve_interval, watch.check_interval())?;
    let described = upstream.describe(watch.check_interval(), watch.resolve_interval);
    let listener = Arc::new(opened.listener);
    let live = LivePairs::default();
    let stop = Arc::new(Stop::default());
    let operator = Operator {
        door: &door,
        relay: &relay,
        live: &live,
        stop: &stop,
    };
    let metrics = (opened.metrics).map(|(socket, origin)| (Arc::new(socket), origin));
    let sockets = (&listener, metrics);
    let (metrics_at, upgrader) = operator.start(options, log_file.clone(), program, sockets)?;
    Announcement {
        listen: listening,
        origin: &opened.origin,
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
    let still_live = serve(listener, &door, &relay, &stop, live);
    upgrader.close();
    finish(still_live, &door, &relay, &stop, options.drain);
    Ok(())
}

/// The front door and the relay, on the sockets opened; never relaying to ourselves.
fn rooms_for(
    options: &Options,
    socket: &TcpListener,
    pool: Pool,
    (max_connections, open_files): (usize, Option<u64>),
) -> Result<(Door, Arc<Relay>), StartupError> {
    let listening = (socket.local_addr()).map_err(StartupError::ListeningAddress)?;
    for destination in pool.destinations() {
        listener::refuse_relaying_to_ourselves(listening, &destination.current())?;
    }
    let copy_mode = choose_copy_mode(options, max_connections, open_files)?;
    build_rooms(options, socket, pool, copy_mode, max_connections).map_err(|source| {
        StartupError::Listen {
            address: listening,
            source,
        }
    })
}

/// What the operator's threads read: the rooms, the live pairs, and the stop they may ask for.
struct Operator<'a> {
    door: &'a Door,
    relay: &'a Arc<Relay>,
    live: &'a LivePairs,
    stop: &'a Arc<Stop>,
}

impl Operator<'_> {
    /// The `signals` thread (with ctrlc's), and with `--metrics` the endpoint's on its socket;
    /// the address the endpoint listens on (so the listening line can name the port
    /// `--metrics 127.0.0.1:0` was given), and the upgrader that SIGUSR2 calls.
    fn start(
        &self,
        options: &Options,
        log_file: Option<Arc<LogFile>>,
        program: Result<Program, ProgramError>,
        (listener, metrics): (&Arc<TcpListener>, Option<(Arc<TcpListener>, String)>),
    ) -> Result<(Option<SocketAddr>, Arc<Upgrader>), StartupError> {
        // The status page's ring exists only with --metrics: without, no samples and no timer.
        let history = (options.metrics.is_some()).then(|| Arc::new(History::new(history::KEPT)));
        let endpoint_stop = metrics.as_ref().map(|_| Arc::new(Wakeable::default()));
        let sockets = Sockets {
            listener: Arc::clone(listener),
            metrics: metrics.as_ref().map(|(socket, _)| Arc::clone(socket)),
        };
        let stop = Arc::clone(self.stop);
        let upgrader = Upgrader::new(program, sockets, stop, endpoint_stop.clone());
        signals::start_watcher(signals::Watcher {
            stopping: Arc::new(Stopping::new(Arc::clone(self.stop), self.live.directory())),
            upgrader: Arc::clone(&upgrader),
            stats: self.sources(),
            log_file,
            interval: options.stats_interval(),
            history: history.clone(),
        })?;
        let (Some((socket, origin)), Some(history), Some(stop)) = (metrics, history, endpoint_stop)
        else {
            return Ok((None, upgrader));
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
        let metrics = Metrics::new(self.sources());
        let bound = endpoint::start((socket, &origin), stop, metrics, status, readiness)?;
        Ok((Some(bound), upgrader))
    }

    fn sources(&self) -> stats::Sources {
        stats::Sources {
            live: self.live.directory(),
            relay: Arc::clone(self.relay),
            door: Arc::clone(&self.door.counts),
        }
    }
}

/// What a stop leaves to do once the accept loop has returned: drain and cut the live pairs,
/// write the dump's last bytes, and the summary.
fn finish(still_live: LivePairs, door: &Door, relay: &Arc<Relay>, stop: &Stop, drain: Duration) {
    systemd::stopping();
    let cause = stop.cause().unwrap_or(Cause::Signal);
    let stopped = drain_then_cut(still_live, drain, cause);
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
