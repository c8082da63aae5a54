//! Start-up: build the three rooms from the command line, in the one order that works, then hand
//! the main thread to the accept loop until a stop.
//!
//! The order matters:
//! 0. make argv[0] absolute, before anything else, for an upgrade in place (`upgrade/program.rs`);
//! 1. block the signals before any thread exists, so every thread inherits the mask and each
//!    signal can only ever reach the thread meant for it (`signals/`);
//! 2. logging, then the limits (so the pair budget is known before any buffer is reserved);
//! 3. resolve the destination, bind the listener and the `--metrics` socket, or take those that
//!    systemd or a previous tcpproxy passed ([`sockets`]; any of it can fail: exit 1, one line);
//! 4. the relay, the `signals` thread (from a `signalfd`), ctrlc's (SIGINT), and with `--metrics`
//!    the `metrics` thread;
//! 5. only then the listening line (and `READY=1` to systemd, or to the process upgrading to us):
//!    whoever reads it may rely on all of the above.
//!
//! Blocking: the main thread, in [`serve`] (the accept loop) until a stop.

pub mod sockets;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::info;

use crate::cli::Options;
use crate::error::StartupError;
use crate::front_door::accept::{serve, Door};
use crate::front_door::allow::AllowList;
use crate::front_door::gate::{DoorCounts, Gate, Rules};
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
use crate::operator::endpoint::status_page::{Status, Timeouts};
use crate::operator::logging::LogFile;
use crate::operator::{dump, endpoint, logging, stats};
use crate::relay::admission::AcceptProxy;
use crate::relay::channel::buffer::BufferPool;
use crate::relay::channel::{self, CopyMode, PipeBudget};
use crate::relay::hang::HangRule;
use crate::relay::upstream::keepalive::Keepalive;
use crate::relay::upstream::{Destination, Upstream};
use crate::relay::Relay;
use crate::signals::{self, stops::Stopping};
use crate::startup::sockets::Opened;
use crate::upgrade::program::{Program, ProgramError};
use crate::upgrade::{Sockets, Upgrader};

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
    let Opened {
        destination,
        listener,
        origin,
        metrics,
    } = sockets::open(options)?;
    let listening = listener
        .local_addr()
        .map_err(StartupError::ListeningAddress)?;
    listener::refuse_relaying_to_ourselves(listening, destination.addresses())?;
    let described = destination.describe();
    let copy_mode = choose_copy_mode(options, max_connections, open_files)?;
    let (door, relay) = build_rooms(options, &listener, destination, copy_mode, max_connections)
        .map_err(|source| StartupError::Listen {
            address: listening,
            source,
        })?;
    let listener = Arc::new(listener);
    let live = LivePairs::default();
    let stop = Arc::new(Stop::default());
    let operator = Operator {
        door: &door,
        relay: &relay,
        live: &live,
        stop: &stop,
    };
    let metrics = metrics.map(|(socket, origin)| (Arc::new(socket), origin));
    let (metrics_at, upgrader) = operator.start(options, log_file, program, &listener, metrics)?;
    Announcement {
        listen: listening,
        origin: &origin,
        destination: &described,
        timeout: options.timeout,
        idle_timeout: options.idle_timeout(),
        connect_timeout: options.connect_timeout,
        max_connections,
        metrics: metrics_at,
    }
    .announce();
    systemd::ready(listening);
    let still_live = serve(listener, &door, &relay, &stop, live);
    upgrader.close();
    finish(still_live, &door, &relay, &stop, options.drain);
    Ok(())
}

/// The front door and the relay behind it, from the command line. The relay gives `listener`
/// the socket options its clients inherit, which can fail.
fn build_rooms(
    options: &Options,
    listener: &TcpListener,
    destination: Destination,
    copy_mode: CopyMode,
    max_connections: usize,
) -> io::Result<(Door, Arc<Relay>)> {
    let upstream = Upstream {
        destination,
        connect_timeout: (!options.connect_timeout.is_zero()).then_some(options.connect_timeout),
        send_proxy: options.send_proxy,
        source: options.source,
        keepalive: options.keepalive.map(Keepalive::within),
    };
    let rule = HangRule::new(options.timeout, options.idle_timeout());
    let counts = Arc::new(DoorCounts::default());
    let rules = Rules {
        allow: AllowList::new(options.allow.clone()),
        deny: AllowList::new(options.deny.clone()),
        max_per_client: options.max_per_client,
    };
    let gate = Gate::new(rules, Arc::clone(&counts));
    let accept_proxy = options.accept_proxy.then(|| AcceptProxy {
        admission: Arc::new(Arc::clone(&gate)),
        header_timeout: header_timeout(options),
    });
    let relay = Relay::new(listener, upstream, rule, copy_mode, accept_proxy)?;
    let door = Door {
        gate,
        accept_proxy: options.accept_proxy,
        max_connections,
        counts,
    };
    Ok((door, relay))
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
        listener: &Arc<TcpListener>,
        metrics: Option<(Arc<TcpListener>, String)>,
    ) -> Result<(Option<SocketAddr>, Arc<Upgrader>), StartupError> {
        // The status page's ring exists only with --metrics: without, no samples and no timer.
        let history = (options.metrics.is_some()).then(|| Arc::new(History::new(history::KEPT)));
        let endpoint_stop = metrics.as_ref().map(|_| Arc::new(Wakeable::default()));
        let sockets = Sockets {
            listener: Arc::clone(listener),
            metrics: metrics.as_ref().map(|(socket, _)| Arc::clone(socket)),
        };
        let upgrader = Upgrader::new(
            program,
            sockets,
            Arc::clone(self.stop),
            endpoint_stop.clone(),
        );
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
        let metrics = Metrics::new(self.sources());
        let bound = endpoint::start((socket, &origin), stop, metrics, status)?;
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

/// `--accept-proxy`: a client has `--connect-timeout` to send its header (a balancer sends it at
/// once); with that limit off, the hang timeout, and with both off, the lab's 10 s.
fn header_timeout(options: &Options) -> Duration {
    [options.connect_timeout, options.timeout]
        .into_iter()
        .find(|limit| !limit.is_zero())
        .unwrap_or(Duration::from_secs(10))
}

/// What a stop leaves to do once the accept loop has returned: drain and cut the live pairs,
/// write the dump's last bytes, and the summary.
fn finish(still_live: LivePairs, door: &Door, relay: &Arc<Relay>, stop: &Stop, drain: Duration) {
    systemd::stopping();
    let cause = stop.cause().unwrap_or(Cause::Signal);
    let stopped = drain_then_cut(still_live, drain, cause);
    if let Some(dump) = &relay.copy_mode().dump {
        // The pairs are gone; what they read must reach the dump before we exit.
        dump.flush(Instant::now() + DUMP_FLUSH_GRACE);
    }
    announce::summary(relay.totals(), &door.counts, stopped);
}

/// `--copy-mode` and `--dump`: a buffer for each direction of every allowed pair (splice may still
/// fall back to the copy); with splice, the pipes the open-file limit has left after
/// `max_connections` pairs' sockets (two descriptors per pipe).
fn choose_copy_mode(
    options: &Options,
    max_connections: usize,
    open_files: Option<u64>,
) -> Result<CopyMode, StartupError> {
    let buffers = BufferPool::new(2 * max_connections, channel::CHUNK)?;
    let dump = match &options.dump {
        Some(path) => Some(dump::start(dump::Target::prepare(path)?)?),
        None => None,
    };
    let mut pipes = None;
    if options.copy_mode == "splice" && dump.is_some() {
        info!("--dump needs the bytes in our memory: copying instead of splicing");
    } else if options.copy_mode == "splice" {
        let spare = limits::spare_descriptors(open_files.unwrap_or(1024), max_connections as u64);
        info!(
            "splice: up to {} pipes (two per fully spliced pair), then copy",
            spare / 2
        );
        pipes = Some(PipeBudget::new((spare / 2) as usize));
    }
    Ok(CopyMode {
        pipes,
        buffers,
        dump,
    })
}
