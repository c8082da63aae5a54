//! The process's signals, and who answers each.
//!
//! | signal | answer |
//! |---|---|
//! | SIGINT, SIGTERM | stop: close the listener, drain (`--drain`), cut the rest, exit 0 |
//! | the same, again | cut every live pair now and exit 130 |
//! | SIGHUP | reopen `--log-file` (for logrotate); never a stop |
//! | SIGUSR1 | log the stats table |
//!
//! None of them is delivered the ordinary way. [`block_watched_signals`] blocks all four in the
//! main thread before any other thread exists — threads inherit the mask, so no thread is ever
//! interrupted by them, and SIGHUP's and SIGUSR1's default (death) never happens — and the
//! `signals` thread receives them from a `signalfd`: a descriptor that becomes readable when one is
//! pending. A signal, in other words, becomes one more thing to block on. That thread's only
//! blocking call is a `poll` on the descriptor, with the time left to the next `--stats-interval`
//! report as its timeout (with `--metrics`, or to the next second's sample for the status page's
//! chart, `operator/endpoint/history.rs`, whichever is sooner). Being an ordinary thread, it may log, lock
//! and connect, which a signal handler may not; and reading the signal tells it *which* one came,
//! so the stop line can say `SIGTERM received`.
//!
//! The first SIGINT or SIGTERM asks the front door's [`Stop`] flag to stop, which wakes the main
//! thread wherever it sleeps; the drain and the cut follow there (`front_door/shutdown.rs`). The
//! second does not wait: it resets every live pair, so no peer takes the cut for a clean end, and
//! exits.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{error, info, warn, Level};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::StartupError;
use crate::events::{self, Importance};
use crate::front_door::stop::Stop;
use crate::operator::endpoint::history::{self, History};
use crate::operator::logging::LogFile;
use crate::operator::stats::{self, Sources};
use crate::relay::close::CloseReason;

/// Exit status after a second signal: 128 + SIGINT, as a shell reports an interrupted command.
pub const EXIT_ON_SECOND_SIGNAL: i32 = 130;

fn watched_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        set.add(signal);
    }
    set
}

/// Block SIGINT, SIGTERM, SIGHUP and SIGUSR1 in this thread and every thread it will start, so
/// that only the `signals` thread hears them. Call before starting any thread.
pub fn block_watched_signals() -> Result<(), StartupError> {
    watched_signals()
        .thread_block()
        .map_err(|source| StartupError::Signal {
            what: "block SIGINT, SIGTERM, SIGHUP and SIGUSR1 for the signals thread",
            source,
        })
}

/// What the `signals` thread answers for.
pub struct Watcher {
    /// What SIGINT and SIGTERM ask to stop.
    pub stop: Arc<Stop>,
    pub stats: Sources,
    /// `--log-file`, to reopen on SIGHUP.
    pub log_file: Option<Arc<LogFile>>,
    /// `--stats-interval`: also report this often.
    pub interval: Option<Duration>,
    /// With `--metrics`, the status page's ring, sampled here every second; without, no timer.
    pub history: Option<Arc<History>>,
}

/// Start the `signals` thread.
pub fn start_watcher(watcher: Watcher) -> Result<(), StartupError> {
    let signals =
        SignalFd::with_flags(&watched_signals(), SfdFlags::SFD_CLOEXEC).map_err(|source| {
            StartupError::Signal {
                what: "receive SIGINT, SIGTERM, SIGHUP and SIGUSR1 (signalfd)",
                source,
            }
        })?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(&signals, &watcher))
        .map(drop)
        .map_err(|source| StartupError::Thread {
            name: "signals",
            source,
        })
}

fn watch(signals: &SignalFd, watcher: &Watcher) {
    let mut next_report = watcher.interval.map(|every| Instant::now() + every);
    let mut next_sample = watcher.history.as_ref().map(|_| Instant::now());
    loop {
        let timeout = match next_report.into_iter().chain(next_sample).min() {
            // Past deadlines give zero: act at once, then schedule from the old deadline so
            // the reports keep to their rhythm.
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .try_into()
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => on_timer(watcher, &mut next_report, &mut next_sample),
            // Reading consumes the pending signal, so the descriptor stops being readable.
            Ok(_) => match signals.read_signal() {
                Ok(Some(info)) => answer(info.ssi_signo, watcher),
                Ok(None) => {}
                Err(e) => return give_up(watcher, "cannot read a signal from its signalfd", e),
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return give_up(watcher, "waiting for signals failed", e),
        }
    }
}

/// Whatever is due: the `--stats-interval` report, the status page's sample (`history.rs`).
fn on_timer(
    watcher: &Watcher,
    next_report: &mut Option<Instant>,
    next_sample: &mut Option<Instant>,
) {
    let now = Instant::now();
    if let (Some(at), Some(every)) = (next_report.as_mut(), watcher.interval) {
        if *at <= now {
            *at += every;
            stats::report(&watcher.stats);
        }
    }
    if let (Some(at), Some(history)) = (next_sample.as_mut(), &watcher.history) {
        if *at <= now {
            // A sample late by more than its period (a long report, a suspended machine) is not
            // made up for: the chart's clock is each sample's own time.
            *at += history::SAMPLE_EVERY;
            if *at <= now {
                *at = now + history::SAMPLE_EVERY;
            }
            history.sample(&watcher.stats.live, &watcher.stats.relay);
        }
    }
}

fn answer(number: u32, watcher: &Watcher) {
    let signal = i32::try_from(number)
        .ok()
        .and_then(|n| Signal::try_from(n).ok());
    match signal {
        Some(Signal::SIGHUP) => reopen(watcher),
        Some(Signal::SIGUSR1) => stats::report(&watcher.stats),
        Some(stop @ (Signal::SIGINT | Signal::SIGTERM)) => stop_or_exit(stop, watcher),
        _ => {} // we read only the signals we watch
    }
}

/// The first SIGINT or SIGTERM asks for a stop; a second cuts every live pair and exits.
fn stop_or_exit(signal: Signal, watcher: &Watcher) {
    if watcher.stop.is_requested() {
        warn!("{signal} received again: cutting every live pair and exiting now");
        watcher.stats.live.end_all(&CloseReason::Shutdown);
        std::process::exit(EXIT_ON_SECOND_SIGNAL);
    }
    // Log before waking the main thread: once woken it may finish and exit before we could.
    let text = format!("{signal} received: stopping (a second signal exits at once)");
    events::emit(Level::Info, Importance::Always, "stop", text, |out| {
        out.str("signal", signal);
    });
    watcher.stop.request();
}

/// Without this thread nothing could stop the proxy but SIGKILL (the stop signals are blocked),
/// so losing it stops the proxy.
fn give_up(watcher: &Watcher, what: &str, error: nix::errno::Errno) {
    error!("{what}: {error}; stopping, since no signal could reach the proxy any more");
    watcher.stop.request();
}

/// SIGHUP: reopen the log file (`operator/logging.rs` says how it reports).
fn reopen(watcher: &Watcher) {
    match &watcher.log_file {
        Some(log_file) => log_file.reopen_on_sighup(),
        None => info!("SIGHUP received: no --log-file to reopen; nothing else to do"),
    }
}
