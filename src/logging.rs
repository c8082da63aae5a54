//! Logging setup (SPEC §6): `log` macros everywhere, `simplelog` deciding where lines go.
//!
//! Every line carries the name of the thread that wrote it (`pair 17 s->c`), so with `-vv` a student
//! can watch each thread's reads and writes interleave and see which one is blocked. Pair threads
//! are reused for one pair after another (`workers.rs`), and a std thread's name is fixed when it
//! starts; so the name on a line is the thread's current *label*, set with [`set_thread_label`]
//! whenever it takes new work, falling back to the std name (`main`, `stats`, `ctrl-c`).

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::path::Path;

use log::{Log, Metadata, Record};
use simplelog::{ConfigBuilder, LevelFilter, SharedLogger, WriteLogger};

thread_local! {
    static LABEL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Name this thread `label` from now on: in the log, and in the kernel (`/proc/PID/task/*/comm`,
/// `top -H`, `ps -L`), which keeps the first 15 bytes.
pub fn set_thread_label(label: &str) {
    LABEL.with(|current| *current.borrow_mut() = Some(label.to_string()));
    if let Ok(name) = std::ffi::CString::new(label) {
        // Only cosmetic: a failure leaves the kernel's old name.
        let _ = nix::sys::prctl::set_name(&name);
    }
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

/// Send the log to stderr, or to `file` (appended) instead.
pub fn init(level: LevelFilter, file: Option<&Path>) -> Result<(), String> {
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
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            WriteLogger::new(level, config, file)
        }
    };
    log::set_boxed_logger(Box::new(Labelled { inner }))
        .map_err(|e| format!("cannot set up logging: {e}"))?;
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
        LABEL.with(|label| {
            let label = label.borrow();
            let current = std::thread::current();
            let name = label.as_deref().or(current.name()).unwrap_or("?");
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
