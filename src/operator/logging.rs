//! Logging setup: `log` macros everywhere, the level from `-q`/`-v`, the lines to stderr or to
//! `--log-file`. How one line looks, in text or JSON, is `log_lines.rs`.
//!
//! With `--log-file`, the file is reopened on SIGHUP ([`LogFile::reopen`]), so logrotate can
//! rename it and signal: lines written before the reopen land in the renamed file, lines after it
//! in a new one at the original path, and no line is lost in between (the swap happens under the
//! lock every line is written under).
//!
//! **A log that cannot be written is never silent.** `/dev/full`, or a file on a full disk, opens
//! and then fails every write. So the listening line, the first line every run writes, is checked
//! ([`LogFile::check_written`]): a log file that did not take it stops the start (exit 1, naming
//! the path). A write that fails later is counted (`tcpproxy_log_write_errors_total`) and told on
//! stderr, once per run of failures: nobody reads a log that cannot be written, and stderr (the
//! journal, under systemd) is the one place left.
//!
//! Blocking: a log line is written while the caller waits, like any `write` to stderr or a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use simplelog::LevelFilter;

use crate::error::StartupError;
use crate::events::{self, LogFormat};
use crate::operator::log_lines::Lines;

/// Where the log goes, once logging has started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Stderr,
    File,
}

static WRITES_TO: OnceLock<Destination> = OnceLock::new();

/// Writes to `--log-file` that failed, since the start.
static WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// How many writes to `--log-file` have failed: `tcpproxy_log_write_errors_total`.
pub fn write_errors() -> u64 {
    WRITE_ERRORS.load(Ordering::Relaxed)
}

/// Where the log goes; `None` before logging has started.
pub fn writes_to() -> Option<Destination> {
    WRITES_TO.get().copied()
}

/// Map `-q` / nothing / `-v` / `-vv` to a level.
pub fn level(quiet: bool, verbose: u8) -> LevelFilter {
    match (quiet, verbose) {
        (true, _) => LevelFilter::Warn,
        (false, 0) => LevelFilter::Info,
        (false, 1) => LevelFilter::Debug,
        (false, _) => LevelFilter::Trace,
    }
}

/// `--log-file`: the file the log goes to, reopened by path on SIGHUP.
pub struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
    /// The last write failed; cleared by one that succeeds.
    failing: AtomicBool,
    /// Its errno, for the start-up error.
    last_errno: AtomicI32,
    /// Set once start-up has checked the file: from then on a failure is told on stderr
    /// (before, the start-up error tells it).
    started: AtomicBool,
}

impl LogFile {
    fn new(path: &Path, file: File) -> Self {
        LogFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failing: AtomicBool::new(false),
            last_errno: AtomicI32::new(0),
            started: AtomicBool::new(false),
        }
    }

    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// After the listening line: did the file take it? From here on failures go to stderr.
    pub fn check_written(&self) -> Result<(), StartupError> {
        self.started.store(true, Ordering::Relaxed);
        if !self.failing.load(Ordering::Relaxed) {
            return Ok(());
        }
        let errno = self.last_errno.load(Ordering::Relaxed);
        Err(StartupError::LogWrite {
            path: self.path.clone(),
            source: io::Error::from_raw_os_error(errno),
        })
    }

    /// Count a failed write, and tell stderr about the first of a run of them.
    fn note<T>(&self, result: &io::Result<T>) {
        let Err(error) = result else {
            self.failing.store(false, Ordering::Relaxed);
            return;
        };
        WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
        self.last_errno
            .store(error.raw_os_error().unwrap_or(0), Ordering::Relaxed);
        let first_of_a_run = !self.failing.swap(true, Ordering::Relaxed);
        if first_of_a_run && self.started.load(Ordering::Relaxed) {
            eprintln!(
                "tcpproxy: cannot write the log file {}: {error}; lines are lost until it takes \
                 them again (counted in tcpproxy_log_write_errors_total)",
                self.path.display()
            );
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the path again and write there from now on. On failure the old file goes on
    /// receiving the log, and the caller says why.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = Self::open(&self.path)?;
        *self.lock() = fresh; // the old file closes here, after its last line
        self.failing.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// SIGHUP: reopen, saying so in the old file and in the new one. A failed reopen is told in
    /// the file still open and on stderr: after logrotate's rename the old file is one nobody
    /// reads any more.
    pub fn reopen_on_sighup(&self) {
        let path = self.path.display();
        log::info!("SIGHUP received: reopening the log file {path}");
        match self.reopen() {
            Ok(()) => log::info!("log file {path} reopened (SIGHUP)"),
            Err(e) => {
                log::warn!("cannot reopen the log file {path}: {e}; still writing to the old one");
                eprintln!(
                    "tcpproxy: cannot reopen the log file {path} (SIGHUP): {e}; still writing to \
                     the old one"
                );
            }
        }
    }

    /// A write cannot leave the file half-swapped, so a poisoned lock still guards a good file.
    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What simplelog writes to: the shared, reopenable file.
struct ToLogFile(Arc<LogFile>);

impl Write for ToLogFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.0.lock().write(bytes);
        self.0.note(&written);
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.0.lock().flush();
        self.0.note(&flushed);
        flushed
    }
}

/// Send the log to stderr, or to `file` (appended) instead, in `format`; the file, if any, for
/// SIGHUP.
pub fn init(
    level: LevelFilter,
    file: Option<&Path>,
    format: LogFormat,
) -> Result<Option<Arc<LogFile>>, StartupError> {
    let log_file = match file {
        None => None,
        Some(path) => {
            let file = LogFile::open(path).map_err(|source| StartupError::LogFile {
                path: path.to_path_buf(),
                source,
            })?;
            Some(Arc::new(LogFile::new(path, file)))
        }
    };
    let sink: Box<dyn Write + Send> = match &log_file {
        None => Box::new(io::stderr()),
        Some(shared) => Box::new(ToLogFile(Arc::clone(shared))),
    };
    let logger = Lines::new(level, format, sink);
    log::set_boxed_logger(Box::new(logger)).map_err(StartupError::Logger)?;
    events::set_format(format);
    let _ = WRITES_TO.set(match file {
        None => Destination::Stderr,
        Some(_) => Destination::File,
    });
    // The `log` macros skip everything above this before calling us; `-q` still lets the
    // always-shown events (at INFO) through, and `Lines` filters the rest.
    log::set_max_level(level.max(LevelFilter::Info));
    Ok(log_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopen_after_a_rename_writes_to_a_new_file_at_the_path() {
        let dir = std::env::temp_dir().join(format!("tcpproxy-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tcpproxy.log");
        let log = Arc::new(LogFile::new(&path, LogFile::open(&path).unwrap()));
        let mut writer = ToLogFile(Arc::clone(&log));
        writer.write_all(b"before\n").unwrap();
        std::fs::rename(&path, dir.join("tcpproxy.log.1")).unwrap();
        writer.write_all(b"still old\n").unwrap();
        log.reopen().unwrap();
        writer.write_all(b"after\n").unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(read("tcpproxy.log.1"), "before\nstill old\n");
        assert_eq!(read("tcpproxy.log"), "after\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_takes_no_write_is_counted_and_stops_the_start() {
        let full = Path::new("/dev/full");
        let log = Arc::new(LogFile::new(full, LogFile::open(full).unwrap()));
        let mut writer = ToLogFile(Arc::clone(&log));
        let before = write_errors();
        assert!(writer.write_all(b"listening on ...\n").is_err());
        assert!(write_errors() > before);
        let err = log.check_written().unwrap_err().to_string();
        assert!(
            err.starts_with("cannot write the log file /dev/full: "),
            "{err}"
        );
    }

    #[test]
    fn flags_choose_the_level() {
        assert_eq!(level(true, 0), LevelFilter::Warn);
        assert_eq!(level(false, 0), LevelFilter::Info);
        assert_eq!(level(false, 1), LevelFilter::Debug);
        assert_eq!(level(false, 2), LevelFilter::Trace);
        assert_eq!(level(false, 9), LevelFilter::Trace);
    }
}
