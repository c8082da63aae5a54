//! Logging setup (SPEC §6): `log` macros everywhere, `simplelog` deciding where lines go.
//!
//! Every line carries the name of the thread that wrote it (`pair 17 s->c`), so with `-vv` a student
//! can watch each thread's reads and writes interleave and see which one is blocked.

use std::fs::OpenOptions;
use std::path::Path;

use simplelog::{ConfigBuilder, LevelFilter, ThreadLogMode, ThreadPadding, WriteLogger};

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
pub fn init(level: LevelFilter, file: Option<&Path>) -> Result<(), String> {
    let config = ConfigBuilder::new()
        .set_thread_level(LevelFilter::Error) // i.e. on every line
        .set_thread_mode(ThreadLogMode::Names)
        .set_thread_padding(ThreadPadding::Right(13))
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_time_format_rfc3339()
        .build();
    let installed = match file {
        None => WriteLogger::init(level, config, std::io::stderr()),
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            WriteLogger::init(level, config, file)
        }
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))
}
