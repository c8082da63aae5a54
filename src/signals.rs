//! The process's signals, and who answers each.
//!
//! | signal | answer |
//! |---|---|
//! | SIGINT, SIGTERM | stop: close the listener, drain (`--drain`), cut the rest, exit 0 |
//! | the same, again | cut every live pair now and exit 130 |
//! | SIGHUP | reopen `--log-file` (for logrotate); never a stop |
//! | SIGUSR1 | log the stats table |
//!
//! **SIGINT and SIGTERM** go through the `ctrlc` crate, which runs our handler on an ordinary
//! thread of its own (not inside the signal handler), so the handler may log, lock and connect.
//! The first asks the front door's [`Stop`] flag to stop, which wakes the main thread wherever it
//! sleeps; the drain and the cut follow there (`front_door/shutdown.rs`). The second does not
//! wait: it resets every live pair, so no peer takes the cut for a clean end, and exits.
//!
//! **SIGHUP and SIGUSR1** would kill the process by default (and `ctrlc` would take SIGHUP for a
//! stop), so they must never be delivered the ordinary way. [`block_watched_signals`] blocks them
//! in the main thread before any other thread exists — threads inherit the mask, so no thread can
//! ever be interrupted by them — and the `signals` thread receives them from a `signalfd`: a
//! descriptor that becomes readable when one is pending. A signal, in other words, becomes one
//! more thing to block on. That thread's only blocking call is a `poll` on the descriptor, with
//! the time left to the next `--stats-interval` report as its timeout.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::StartupError;
use crate::front_door::live::Directory;
use crate::front_door::stop::Stop;
use crate::operator::logging::LogFile;
use crate::operator::stats::{self, Sources};
use crate::relay::close::CloseReason;

/// Exit status after a second signal: 128 + SIGINT, as a shell reports an interrupted command.
pub const EXIT_ON_SECOND_SIGNAL: i32 = 130;

/// Route SIGINT and SIGTERM to `stop`; a second one cuts the pairs in `live` and exits.
pub fn install(stop: Arc<Stop>, live: Directory) -> Result<(), StartupError> {
    ctrlc::set_handler(move || {
        if stop.is_requested() {
            warn!("second signal: cutting every live pair and exiting now");
            live.end_all(&CloseReason::Shutdown);
            std::process::exit(EXIT_ON_SECOND_SIGNAL);
        }
        // Log before waking the main thread: once woken it may finish and exit before we could.
        info!("signal received: stopping (a second signal exits at once)");
        stop.request();
    })
    .map_err(StartupError::SignalHandler)
}

fn watched_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGHUP);
    set.add(Signal::SIGUSR1);
    set
}

/// Block SIGHUP and SIGUSR1 in this thread and every thread it will start. Call before starting
/// any thread.
pub fn block_watched_signals() -> Result<(), StartupError> {
    watched_signals()
        .thread_block()
        .map_err(|source| StartupError::Signal {
            what: "block SIGHUP and SIGUSR1 for the signals thread",
            source,
        })
}

/// What the `signals` thread answers for.
pub struct Watcher {
    pub stats: Sources,
    /// `--log-file`, to reopen on SIGHUP.
    pub log_file: Option<Arc<LogFile>>,
    /// `--stats-interval`: also report this often.
    pub interval: Option<Duration>,
}

/// Start the `signals` thread.
pub fn start_watcher(watcher: Watcher) -> Result<(), StartupError> {
    let signals =
        SignalFd::with_flags(&watched_signals(), SfdFlags::SFD_CLOEXEC).map_err(|source| {
            StartupError::Signal {
                what: "receive SIGHUP and SIGUSR1 (signalfd)",
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
    loop {
        let timeout = match next_report {
            // Past deadlines give zero: report at once, then schedule from the old deadline so
            // the reports keep to their rhythm.
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .try_into()
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                if let (Some(at), Some(every)) = (next_report.as_mut(), watcher.interval) {
                    *at += every;
                }
                stats::report(&watcher.stats);
            }
            // Reading consumes the pending signal, so the descriptor stops being readable.
            Ok(_) => match signals.read_signal() {
                Ok(Some(info)) if info.ssi_signo == Signal::SIGHUP as u32 => reopen(watcher),
                Ok(Some(_)) => stats::report(&watcher.stats),
                Ok(None) => {}
                Err(e) => return warn!("cannot read a signal from its signalfd: {e}; no more"),
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return warn!("waiting for SIGHUP and SIGUSR1 failed: {e}; no more"),
        }
    }
}

/// SIGHUP: reopen the log file, saying so in the old file and in the new one.
fn reopen(watcher: &Watcher) {
    let Some(log_file) = &watcher.log_file else {
        return info!("SIGHUP received: no --log-file to reopen; nothing else to do");
    };
    let path = log_file.path().display();
    info!("SIGHUP received: reopening the log file {path}");
    match log_file.reopen() {
        Ok(()) => info!("log file {path} reopened (SIGHUP)"),
        Err(e) => warn!("cannot reopen the log file {path}: {e}; still writing to the old one"),
    }
}
