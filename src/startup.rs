//! Start-up: build the three rooms from the command line, in the one order that works, then hand
//! the main thread to the accept loop until a stop.
//!
//! The order matters:
//! 1. block SIGHUP and SIGUSR1 before any thread exists, so every thread inherits the mask and
//!    those signals can only ever reach the `signals` thread's `signalfd`;
//! 2. logging, then the limits (so the pair budget is known before any buffer is reserved);
//! 3. resolve the destination and bind the listener, or take the one systemd passed (any of it
//!    can fail: exit 1, one line);
//! 4. the relay, the `signals` thread, the SIGINT/SIGTERM handler, and with `--metrics` the
//!    `metrics` thread (its address, too, can fail: exit 1, naming it);
//! 5. only then the listening line (and systemd's `READY=1`): whoever reads it may rely on all of
//!    the above.
//!
//! Blocking: the main thread, in [`serve`] (the accept loop) until a stop.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, Level};

use crate::cli::Options;
use crate::error::StartupError;
use crate::events::{self, Importance, LogFormat};
use crate::front_door::accept::{serve, Door};
use crate::front_door::allow::AllowList;
use crate::front_door::announce::Announcement;
use crate::front_door::gate::DoorCounts;
use crate::front_door::gate::{Gate, Refusal, Rules};
use crate::front_door::limits;
use crate::front_door::listener;
use crate::front_door::live::LivePairs;
use crate::front_door::shutdown::drain_then_cut;
use crate::front_door::stop::Stop;
use crate::front_door::systemd;
use crate::operator::history::{self, History};
use crate::operator::metrics::Metrics;
use crate::operator::status_page::{Status, Timeouts};
use crate::operator::{dump, endpoint, logging, stats};
use crate::relay::admission::AcceptProxy;
use crate::relay::buffer::BufferPool;
use crate::relay::channel::{self, CopyMode, PipeBudget};
use crate::relay::hang::HangRule;
use crate::relay::keepalive::Keepalive;
use crate::relay::upstream::{self, Destination, Upstream};
use crate::relay::Relay;
use crate::signals;

/// How long a stop waits for the dump to catch up: with the cut pairs' own grace (0.7 s), still
/// inside the second a stop may take after the drain.
const DUMP_FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Say why the proxy could not start, wherever someone will look: on stderr, as ever, and in the
/// log when that is a file or JSON (a program reading JSON lines should not have to parse
/// "tcpproxy: error:").
pub fn report_failure(why: &StartupError) {
    let to_the_log = match logging::writes_to() {
        None => false, // no logger yet: the command line or the log file itself failed
        Some(logging::Destination::File) => true,
        Some(logging::Destination::Stderr) => events::format() == LogFormat::Json,
    };
    if to_the_log {
        let text = format!("cannot start: {why}");
        events::emit(
            Level::Error,
            Importance::Always,
            "startup_failed",
            text,
            |_| {},
        );
    }
    if logging::writes_to() != Some(logging::Destination::Stderr) || !to_the_log {
        eprintln!("tcpproxy: error: {why}");
    }
}

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
    let destination = Destination::resolve(&options.destination_host, options.destination_port)?;
    if let Some(source) = options.source {
        upstream::check_source(source, &destination)?;
    }
    let (listener, origin) = listen(options)?;
    let listening = listener
        .local_addr()
        .map_err(StartupError::ListeningAddress)?;
    refuse_relaying_to_ourselves(listening, &destination)?;
    let described = destination.describe();
    let upstream = Upstream {
        destination,
        connect_timeout: (!options.connect_timeout.is_zero()).then_some(options.connect_timeout),
        send_proxy: options.send_proxy,
        source: options.source,
        keepalive: options.keepalive.map(Keepalive::within),
    };
    let rule = HangRule::new(options.timeout, options.idle_timeout());
    let copy_mode = choose_copy_mode(options, max_connections, open_files)?;
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
    let relay =
        Relay::new(&listener, upstream, rule, copy_mode, accept_proxy).map_err(|source| {
            StartupError::Listen {
                address: listening,
                source,
            }
        })?;
    let door = Door {
        gate,
        accept_proxy: options.accept_proxy,
        max_connections,
        counts,
    };
    let live = LivePairs::default();
    let stop = Arc::new(Stop::new(listening));
    let sources = || stats::Sources {
        live: live.directory(),
        relay: Arc::clone(&relay),
        door: Arc::clone(&door.counts),
    };
    // The status page's ring exists only with --metrics: without, no samples and no timer.
    let history = (options.metrics.is_some()).then(|| Arc::new(History::new(history::KEPT)));
    signals::start_watcher(signals::Watcher {
        stop: Arc::clone(&stop),
        stats: sources(),
        log_file,
        interval: options.stats_interval(),
        history: history.clone(),
    })?;
    // Bound first, so the listening line can name the port `--metrics 127.0.0.1:0` was given.
    let mut metrics_at = None;
    if let (Some(address), Some(history)) = (options.metrics, history) {
        let timeouts = Timeouts {
            stall: options.timeout,
            idle: options.idle_timeout(),
        };
        let status = Status { history, timeouts };
        metrics_at = Some(endpoint::start(address, Metrics::new(sources()), status)?);
    }
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
    serve_until_stopped(listener, &door, &relay, &stop, live, options.drain);
    Ok(())
}

/// `--accept-proxy`: a client has `--connect-timeout` to send its header (a balancer sends it at
/// once); with that limit off, the hang timeout, and with both off, the lab's 10 s.
fn header_timeout(options: &Options) -> Duration {
    [options.connect_timeout, options.timeout]
        .into_iter()
        .find(|limit| !limit.is_zero())
        .unwrap_or(Duration::from_secs(10))
}

/// The socket systemd passed us, or one of our own on `--bind` and the listen port; and, for the
/// listening line, where it came from.
fn listen(options: &Options) -> Result<(TcpListener, String), StartupError> {
    let Some(inherited) = systemd::inherited_listener(options.listen_port)? else {
        let listener = listener::bind(options.bind.as_deref(), options.listen_port)?;
        return Ok((listener, String::new()));
    };
    if options.bind.is_some() {
        return Err(StartupError::BindWithInheritedSocket);
    }
    let origin = format!(
        " (from systemd: descriptor {}, '{}')",
        inherited.fd, inherited.name
    );
    Ok((inherited.listener, origin))
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
    if let Some(dump) = &relay.copy_mode().dump {
        // The pairs are gone; what they read must reach the dump before we exit.
        dump.flush(Instant::now() + DUMP_FLUSH_GRACE);
    }
    let totals = relay.totals();
    let refused = |why| door.counts.refused_by(why);
    let text = format!(
        "summary: {totals}; refused {} by --allow, {} by --deny, {} over --max-per-client; \
         {stopped}",
        refused(Refusal::NotAllowed),
        refused(Refusal::Denied),
        refused(Refusal::OverClientLimit),
    );
    events::emit(Level::Info, Importance::Always, "summary", text, |out| {
        let (up, down) = totals.bytes();
        out.u64("refused_by_allow", refused(Refusal::NotAllowed))
            .u64("refused_by_deny", refused(Refusal::Denied))
            .u64(
                "refused_over_client_limit",
                refused(Refusal::OverClientLimit),
            )
            .u64("pairs_served", totals.pairs_served())
            .u64("pairs_reached", totals.pairs_reached())
            .u64("pairs_not_reached", totals.pairs_not_reached())
            .u64("bytes_up", up)
            .u64("bytes_down", down)
            .u64("live_at_stop", stopped.live as u64)
            .u64("finished_in_drain", stopped.finished as u64)
            .u64("cut", stopped.cut as u64);
    });
}

/// A destination that is our own listening socket would have every pair connect to the proxy
/// itself, which accepts it as a new client, and so on until `--max-connections` is spent.
fn refuse_relaying_to_ourselves(
    listening: SocketAddr,
    destination: &Destination,
) -> Result<(), StartupError> {
    match destination
        .addresses()
        .iter()
        .find(|address| listener::would_reach(listening, **address))
    {
        Some(&address) => Err(StartupError::RelaysToItself {
            destination: address,
            listening,
        }),
        None => Ok(()),
    }
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
