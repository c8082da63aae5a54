//! Logging setup: `log` macros everywhere, `simplelog` deciding where lines go.
//!
//! Every line carries the name of the thread that wrote it (`pair 17 s->c`), so with `-vv` a student
//! can watch each thread's reads and writes interleave and see which one is blocked. Pair threads
//! are reused for one pair after another, so the name on a line is the thread's current *label*
//! (`relay/workers.rs`), falling back to the std name (`main`, `stats`, `ctrl-c`).
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use log::{Log, Metadata, Record};
use simplelog::{ConfigBuilder, LevelFilter, SharedLogger, WriteLogger};

use crate::error::StartupError;
use crate::relay::workers::with_thread_label;

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

/// Send the log to stderr, or to `file` (appended) instead; the file, if any, for SIGHUP.
pub fn init(level: LevelFilter, file: Option<&Path>) -> Result<Option<Arc<LogFile>>, StartupError> {
    let config = ConfigBuilder::new()
        .set_thread_level(LevelFilter::Off) // we write the label ourselves
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_time_format_rfc3339()
        .build();
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
    let inner: Box<dyn SharedLogger> = match &log_file {
        None => WriteLogger::new(level, config, io::stderr()),
        Some(shared) => WriteLogger::new(level, config, ToLogFile(Arc::clone(shared))),
    };
    log::set_boxed_logger(Box::new(Labelled { inner })).map_err(StartupError::Logger)?;
    log::set_max_level(level);
    Ok(log_file)
}

/// simplelog's logger, with each message prefixed by the writing thread's label.
struct Labelled {
    inner: Box<dyn SharedLogger>,
}

impl Log for Labelled {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        with_thread_label(|name| {
            self.inner.log(
                &Record::builder()
                    .args(format_args!("({name:<13}) {}", record.args()))
                    .metadata(record.metadata().clone())
                    .build(),
            );
        });
    }

    fn flush(&self) {
        self.inner.flush();
    }
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
