//! Logging setup: `log` macros everywhere, `simplelog` deciding where lines go.
//!
//! Every line carries the name of the thread that wrote it (`pair 17 s->c`), so with `-vv` a student
//! can watch each thread's reads and writes interleave and see which one is blocked. Pair threads
//! are reused for one pair after another, so the name on a line is the thread's current *label*
//! (`relay/workers.rs`), falling back to the std name (`main`, `stats`, `ctrl-c`).
//!
//! Blocking: a log line is written while the caller waits, like any `write` to stderr or a file.

use std::fs::OpenOptions;
use std::path::Path;

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

/// Send the log to stderr, or to `file` (appended) instead.
pub fn init(level: LevelFilter, file: Option<&Path>) -> Result<(), StartupError> {
    let config = ConfigBuilder::new()
        .set_thread_level(LevelFilter::Off) // we write the label ourselves
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_time_format_rfc3339()
        .build();
    let inner: Box<dyn SharedLogger> = match file {
        None => WriteLogger::new(level, config, std::io::stderr()),
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| StartupError::LogFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            WriteLogger::new(level, config, file)
        }
    };
    log::set_boxed_logger(Box::new(Labelled { inner })).map_err(StartupError::Logger)?;
    log::set_max_level(level);
    Ok(())
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
    fn flags_choose_the_level() {
        assert_eq!(level(true, 0), LevelFilter::Warn);
        assert_eq!(level(false, 0), LevelFilter::Info);
        assert_eq!(level(false, 1), LevelFilter::Debug);
        assert_eq!(level(false, 2), LevelFilter::Trace);
        assert_eq!(level(false, 9), LevelFilter::Trace);
    }
}
