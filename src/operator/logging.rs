//! Logging setup: `log` macros everywhere, the level from `-q`/`-v`, the lines to stderr or to
//! `--log-file`. How one line looks, in text or JSON, is `log_lines.rs`.
//!
//! With `--log-file`, the file is reopened on SIGHUP ([`LogFile::reopen`]), so logrotate can
//! rename it and signal: lines written before the reopen land in the renamed file, lines after it
//! in a new one at the original path, and no line is lost in between (the swap happens under the
//! lock every line is written under).
//!
//! Blocking: a log line is written while the caller waits, like any `write` to stderr or a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
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
}

impl LogFile {
    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the path again and write there from now on. On failure the old file goes on
    /// receiving the log, and the caller says why.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = Self::open(&self.path)?;
        *self.lock() = fresh; // the old file closes here, after its last line
        Ok(())
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
        self.0.lock().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().flush()
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
            Some(Arc::new(LogFile {
                path: path.to_path_buf(),
                file: Mutex::new(file),
            }))
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
        let log = Arc::new(LogFile {
            path: path.clone(),
            file: Mutex::new(LogFile::open(&path).unwrap()),
        });
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
    fn flags_choose_the_level() {
        assert_eq!(level(true, 0), LevelFilter::Warn);
        assert_eq!(level(false, 0), LevelFilter::Info);
        assert_eq!(level(false, 1), LevelFilter::Debug);
        assert_eq!(level(false, 2), LevelFilter::Trace);
        assert_eq!(level(false, 9), LevelFilter::Trace);
    }
}
