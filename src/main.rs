//! tcpproxy: a thread-per-connection blocking TCP proxy.
//!
//! `tcpproxy HOST PORT LISTEN_PORT` accepts clients on LISTEN_PORT and relays each one, byte for
//! byte in both directions, to its own new connection to HOST:PORT. The map of the code:
//!
//! | module        | owns                                                                 |
//! |---------------|----------------------------------------------------------------------|
//! | `cli`         | the command line                                                     |
//! | `listener`    | the listening socket, and waking a thread blocked in `accept`        |
//! | `accept`      | the accept loop (the main thread's whole job)                        |
//! | `live`        | the main thread's table of live pairs; `--max-connections`; shutdown |
//! | `pair`        | one pair's lifecycle: connect, two threads, one log line             |
//! | `workers`     | pair threads: started, or reused after parking                       |
//! | `pump`        | one direction's copy loop                                            |
//! | `channel`     | how the pump holds bytes: a buffer (copy) or a pipe (splice)         |
//! | `buffer`      | the copy's buffers: one mapping, a slot per pump, pages returned     |
//! | `hang`        | the hang rule: stall and idle                                        |
//! | `destination` | resolving and connecting to the destination                          |
//! | `proxy_protocol` | the PROXY protocol header (`--send-proxy`)                        |
//! | `signals`     | SIGINT/SIGTERM                                                       |
//! | `stats`, `activity` | the live table on SIGUSR1: what each pump is doing              |
//! | `dump`        | `--dump`: a copy of the traffic, to files or the log                 |
//! | `report`      | why a pair closed, its log line, the totals                          |
//! | `logging`, `limits`, `allow`, `ratelimit`, `direction` | small helpers                   |
//!
//! This file wires them together and turns start-up failures into one line and exit status 1.

mod accept;
mod activity;
mod allow;
mod buffer;
mod channel;
mod cli;
mod destination;
mod direction;
mod dump;
mod hang;
mod limits;
mod listener;
mod live;
mod logging;
mod pair;
mod proxy_protocol;
mod pump;
mod ratelimit;
mod report;
mod signals;
mod stats;
mod workers;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use log::info;

use crate::accept::Settings;
use crate::allow::AllowList;
use crate::buffer::BufferPool;
use crate::channel::PipeBudget;
use crate::cli::Options;
use crate::destination::Destination;
use crate::dump::Dumper;
use crate::hang::HangRule;
use crate::live::LivePairs;
use crate::pair::Context;
use crate::pump::CopyMode;
use crate::report::Totals;
use crate::signals::Stop;
use crate::workers::Workers;

/// How long a stop waits for the dump to catch up: with the pairs' own grace (0.7 s), still
/// inside SPEC §5's one second.
const DUMP_FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Exit status for a fatal start-up error (SPEC §1); clap itself exits 2 for a bad command line.
const EXIT_STARTUP_FAILED: u8 = 1;

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("tcpproxy: error: {why}");
            ExitCode::from(EXIT_STARTUP_FAILED)
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    // First, before any thread exists: every thread must inherit the blocked SIGUSR1.
    stats::block_report_signal()?;
    logging::init(
        logging::level(options.quiet, options.verbose),
        options.log_file.as_deref(),
    )?;
    let open_files = limits::raise_open_file_limit();
    let max_connections = limits::choose_max_connections(options.max_connections, open_files)?;
    let destination = Destination::resolve(&options.destination_host, options.destination_port)?;
    let listener = listener::bind(options.bind.as_deref(), options.listen_port)?;
    let listening = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let stop = Arc::new(Stop::new());
    signals::install(Arc::clone(&stop), listening)?;

    let hang_rule = HangRule::new(options.timeout, options.idle_timeout());
    let context = Arc::new(Context {
        destination,
        connect_timeout: (!options.connect_timeout.is_zero()).then_some(options.connect_timeout),
        hang_rule,
        copy_mode: choose_copy_mode(options, max_connections, open_files)?,
        totals: Totals::default(),
        send_proxy: options.send_proxy,
        workers: Workers::new(pair::PAIR_STACK_SIZE),
    });
    // Everything is in place before the listening line: whoever reads it may rely on all of it.
    let live = LivePairs::new();
    stats::start(
        live.directory(),
        Arc::clone(&context),
        options.stats_interval(),
    )?;
    info!(
        "listening on {}, relaying to {} {:?}; timeout {}, idle timeout {}, \
         connect timeout {}, max {max_connections} pairs",
        listener::describe(&listener),
        context.destination,
        context.destination.addresses(),
        seconds(options.timeout),
        seconds(options.idle_timeout()),
        seconds(options.connect_timeout),
    );
    let settings = Settings {
        allow: AllowList::new(options.allow.clone()),
        max_connections,
        context,
    };
    accept::serve(&listener, &settings, &stop, live);
    if let Some(dump) = &settings.context.copy_mode.dump {
        // The pairs are gone; what they read must reach the dump before we exit.
        dump.flush(Instant::now() + DUMP_FLUSH_GRACE);
    }
    info!("summary: {}", settings.context.totals);
    Ok(())
}

/// `--copy-mode` and `--dump`: a buffer for each direction of every allowed pair (splice may still
/// fall back to the copy); with splice, the pipes the open-file limit has left after
/// `max_connections` pairs' sockets (two descriptors per pipe).
fn choose_copy_mode(
    options: &Options,
    max_connections: usize,
    open_files: Option<u64>,
) -> Result<CopyMode, String> {
    let buffers = BufferPool::new(2 * max_connections, channel::CHUNK)?;
    let dump = match &options.dump {
        Some(path) => Some(Dumper::start(dump::Target::prepare(path)?)?),
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

/// `10 s`, `0.5 s`, or `off` for a disabled timeout.
fn seconds(duration: Duration) -> String {
    if duration.is_zero() {
        "off".into()
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}
