//! The process's signals, and who answers each.
//!
//! | signal | answer |
//! |---|---|
//! | SIGINT, SIGTERM | stop: close the listener, drain (`--drain`), cut the rest, exit 0 |
//! | the same, again (a second later or more) | cut every live pair now and exit 130 |
//! | SIGHUP | reopen `--log-file` (for logrotate); never a stop |
//! | SIGUSR1 | log the stats table |
//! | SIGUSR2 | upgrade in place: start the program again and hand it the sockets (`upgrade/`) |
//!
//! None of them is delivered the ordinary way. [`block_watched_signals`] blocks them all in the
//! main thread before any other thread exists — threads inherit the mask, so no thread is ever
//! interrupted by them, and the default actions (death, for most) never happen. Then two
//! receivers, each on a thread of its own, and each hearing only its own signals:
//!
//! - **SIGTERM, SIGHUP, SIGUSR1, SIGUSR2** reach the `signals` thread through a `signalfd`: a
//!   descriptor that becomes readable when one is pending. A signal, in other words, becomes one
//!   more thing to block on. That thread's only blocking call is a `poll` on the descriptor, with
//!   the time left to the next `--stats-interval` report as its timeout (with `--metrics`, or to
//!   the next second's sample for the status page's chart, `operator/endpoint/history.rs`,
//!   whichever is sooner). Being an ordinary thread, it may log, lock, fork and connect, which a
//!   signal handler may not; and reading the signal tells it *which* one came.
//! - **SIGINT** is the card's `ctrlc` crate's ([`ctrl_c`]): a handler that writes a byte to a
//!   pipe, and ctrlc's thread, which reads it and calls us. SIGINT is unblocked in that thread
//!   alone, so it is the only thread the kernel can deliver SIGINT to.
//!
//! Why both: ctrlc is the portable, well-worn way to hear Ctrl-C, and the card names it; but a
//! handler can only set a flag or write a byte, so every other signal would need a pipe and a
//! thread of its own, and ctrlc's larger `termination` feature would take SIGTERM and SIGHUP
//! under one closure, unable to say which came. The `signalfd` hears four signals on one thread
//! and knows each by name. Both end in the same place, [`stops::Stopping`]: the first stop signal
//! asks the front door's [`Stop`](crate::front_door::stop::Stop) flag to stop, and the same one
//! again within a second is the same stop (GNU `timeout` sends two).
//!
//! The first SIGINT or SIGTERM wakes the main thread wherever it sleeps; the drain and the cut
//! follow there (`front_door/shutdown.rs`). A second one does not wait: it resets every live
//! pair and exits. SIGUSR2 starts an upgrade (`upgrade/`) and returns at once.
//!
//! One more signal is blocked everywhere: SIGURG, which the front door aims at the thread in
//! `accept` to interrupt it (`front_door/wake.rs`).

pub mod ctrl_c;
pub mod stops;

use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{error, info};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::StartupError;
use crate::front_door::wake;
use crate::operator::endpoint::history::{self, History};
use crate::operator::logging::LogFile;
use crate::operator::stats::{self, Sources};
use crate::signals::stops::Stopping;
use crate::upgrade::Upgrader;

/// The signals the `signals` thread reads from its `signalfd`.
fn watched_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(signal);
    }
    set
}

/// Block SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 (and the front door's SIGURG) in this
/// thread and every thread it will start, so that each reaches only the thread meant for it.
/// Call before starting any thread.
pub fn block_watched_signals() -> Result<(), StartupError> {
    let mut all = watched_signals();
    all.add(Signal::SIGINT);
    all.thread_block().map_err(|source| StartupError::Signal {
        what: "block SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 for their threads",
        source,
    })?;
    wake::install().map_err(|source| StartupError::Signal {
        what: "set up SIGURG to interrupt accept",
        source,
    })
}

/// What the `signals` thread answers for.
pub struct Watcher {
    /// What SIGINT and SIGTERM ask to stop (SIGINT through ctrlc's thread).
    pub stopping: Arc<Stopping>,
    /// What SIGUSR2 asks to upgrade.
    pub upgrader: Arc<Upgrader>,
    pub stats: Sources,
    /// `--log-file`, to reopen on SIGHUP.
    pub log_file: Option<Arc<LogFile>>,
    /// `--stats-interval`: also report this often.
    pub interval: Option<Duration>,
    /// With `--metrics`, the status page's ring, sampled here every second; without, no timer.
    pub history: Option<Arc<History>>,
}

/// Start the `signals` thread, and ctrlc's for SIGINT. Call on the main thread.
pub fn start_watcher(watcher: Watcher) -> Result<(), StartupError> {
    let signals =
        SignalFd::with_flags(&watched_signals(), SfdFlags::SFD_CLOEXEC).map_err(|source| {
            StartupError::Signal {
                what: "receive SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 (signalfd)",
                source,
            }
        })?;
    ctrl_c::install(Arc::clone(&watcher.stopping))?;
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
        Some(Signal::SIGUSR2) => watcher.upgrader.begin(),
        Some(Signal::SIGTERM) => watcher.stopping.on(Signal::SIGTERM),
        _ => {} // we read only the signals we watch
    }
}

/// Without this thread nothing could stop the proxy but SIGINT or SIGKILL (the other stop
/// signal is blocked), so losing it stops the proxy.
fn give_up(watcher: &Watcher, what: &str, error: nix::errno::Errno) {
    error!("{what}: {error}; stopping, since no SIGTERM could reach the proxy any more");
    watcher.stopping.without_signal();
}

/// SIGHUP: reopen the log file (`operator/logging.rs` says how it reports).
fn reopen(watcher: &Watcher) {
    match &watcher.log_file {
        Some(log_file) => log_file.reopen_on_sighup(),
        None => info!("SIGHUP received: no --log-file to reopen; nothing else to do"),
    }
}
