//! One log line, in text or in JSON: the logger that every `log` macro ends in.
//!
//! **Text** is simplelog's line — time, level, message — with two additions. The message begins
//! with the writing thread's name (`pair 17 s->c`), so with `-vv` a student can watch each thread's
//! reads and writes interleave and see which one is blocked; pair threads are reused, so the name
//! is the thread's current *label* (`relay/workers.rs`), falling back to the std name (`main`,
//! `signals`). And a message of several lines (the stats table) is written as that many log
//! lines, each with its own time, level and thread, one after another under one lock: a `grep`
//! keeps every row, and no other thread's line lands between them.
//!
//! **JSON** is one object a line: `time`, `level`, `thread`, then either an event's own fields
//! (`events.rs`) or `"event":"log"` and the message.
//!
//! Every time is RFC 3339 in UTC with exactly nine fraction digits, so lines sort as text.
//!
//! A record reaches the sink in one `write`, whatever its lines. simplelog writes a line in
//! pieces (the time, the level, the message...), which on an unbuffered stderr or file was
//! 23 system calls per pair's closing line; so it writes into a [`Collected`] buffer, and the
//! whole record goes out at once.
//!
//! Blocking: the line is written while the caller waits, as any write to stderr or a file.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use log::{Log, Metadata, Record};
use simplelog::{ConfigBuilder, LevelFilter, SharedLogger, WriteLogger};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::events::{LogFormat, ALWAYS_TARGET, EVENT_TARGET};
use crate::json::Object;
use crate::relay::workers::with_thread_label;

/// `2026-12-03T11:53:50.123456789Z`: fixed width, so text order is time order.
const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// The logger: filters by level, then writes in the chosen format.
pub struct Lines {
    level: LevelFilter,
    writer: Writer,
    /// Held while one record's lines are written, so several lines stay together.
    one_record_at_a_time: Mutex<()>,
}

enum Writer {
    /// simplelog, writing into `Collected`; then the collected bytes go to the sink.
    Text {
        simplelog: Box<dyn SharedLogger>,
        collected: Collected,
        sink: Mutex<Box<dyn Write + Send>>,
    },
    Json(Mutex<Box<dyn Write + Send>>),
}

/// What simplelog writes into: one record's bytes, gathered to be written with one call.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for Collected {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Lock a sink, whether or not a thread panicked while writing to it.
fn lock_sink(sink: &Mutex<Box<dyn Write + Send>>) -> MutexGuard<'_, Box<dyn Write + Send>> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Lines {
    pub fn new(level: LevelFilter, format: LogFormat, sink: Box<dyn Write + Send>) -> Self {
        let writer = match format {
            LogFormat::Text => {
                let config = ConfigBuilder::new()
                    .set_thread_level(LevelFilter::Off) // we write the label ourselves
                    .set_target_level(LevelFilter::Off)
                    .set_location_level(LevelFilter::Off)
                    .set_time_format_custom(TIMESTAMP)
                    .build();
                // We filter (`enabled`); simplelog writes whatever reaches it.
                let collected = Collected::default();
                Writer::Text {
                    simplelog: WriteLogger::new(LevelFilter::Trace, config, collected.clone()),
                    collected,
                    sink: Mutex::new(sink),
                }
            }
            LogFormat::Json => Writer::Json(Mutex::new(sink)),
        };
        Lines {
            level,
            writer,
            one_record_at_a_time: Mutex::new(()),
        }
    }
}

impl Log for Lines {
    /// At the chosen level, or an always-shown event (`-q` hides everything below WARN else).
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
            || (metadata.target() == ALWAYS_TARGET && metadata.level() <= LevelFilter::Info)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _together = self
            .one_record_at_a_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        with_thread_label(|thread| match &self.writer {
            Writer::Text {
                simplelog,
                collected,
                sink,
            } => {
                write_text(simplelog.as_ref(), record, thread);
                let bytes = std::mem::take(&mut *collected.bytes());
                // Nowhere left to say that the log cannot be written.
                let _ = lock_sink(sink).write_all(&bytes);
            }
            Writer::Json(sink) => write_json(sink, record, thread),
        });
    }

    fn flush(&self) {
        match &self.writer {
            Writer::Text { sink, .. } | Writer::Json(sink) => {
                let _ = lock_sink(sink).flush();
            }
        }
    }
}

fn write_text(inner: &dyn SharedLogger, record: &Record, thread: &str) {
    let message = record.args().to_string();
    for line in message.split('\n') {
        inner.log(
            &Record::builder()
                .args(format_args!("({thread:<13}) {line}"))
                .metadata(record.metadata().clone())
                .build(),
        );
    }
}

fn write_json(sink: &Mutex<Box<dyn Write + Send>>, record: &Record, thread: &str) {
    let mut line = Object::new();
    let time = OffsetDateTime::now_utc();
    line.str("time", time.format(TIMESTAMP).unwrap_or_default())
        .str("level", record.level())
        .str("thread", thread);
    let mut text = line.finish();
    text.pop(); // the closing brace: the record's own fields follow
    if is_event(record.target()) {
        // An event's message is its fields, already JSON (`events::emit`): `{"event":...}`.
        let fields = record.args().to_string();
        text.push(',');
        text.push_str(fields.strip_prefix('{').unwrap_or(&fields));
    } else {
        let mut message = Object::new();
        message.str("event", "log").str("message", record.args());
        let message = message.finish();
        text.push(',');
        text.push_str(&message[1..]);
    }
    text.push('\n');
    // Nowhere left to say that the log cannot be written.
    let _ = lock_sink(sink).write_all(text.as_bytes());
}

fn is_event(target: &str) -> bool {
    target == EVENT_TARGET || target == ALWAYS_TARGET
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn record<'a>(target: &'a str, args: std::fmt::Arguments<'a>) -> Record<'a> {
        Record::builder()
            .target(target)
            .level(log::Level::Info)
            .args(args)
            .build()
    }

    #[test]
    fn text_repeats_time_level_and_thread_on_every_line_of_a_record() {
        let out = Captured::default();
        let lines = Lines::new(LevelFilter::Info, LogFormat::Text, Box::new(out.clone()));
        lines.log(&record("x", format_args!("stats first\nstats second")));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 2, "{text}");
        for (row, word) in rows.iter().zip(["first", "second"]) {
            // 2026-12-03T11:53:50.123456789Z: 30 characters, then the level.
            assert_eq!(row.as_bytes()[29], b'Z', "{row}");
            assert_eq!(&row[19..20], ".", "{row}");
            assert!(row.contains("[INFO]") && row.ends_with(&format!("stats {word}")));
        }
    }

    #[test]
    fn times_keep_nine_fraction_digits_even_when_they_end_in_zeros() {
        let round = OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(1500);
        assert_eq!(
            round.format(TIMESTAMP).unwrap(),
            "1970-01-01T00:00:01.500000000Z"
        );
    }

    #[test]
    fn json_wraps_events_and_plain_messages() {
        let out = Captured::default();
        let lines = Lines::new(LevelFilter::Info, LogFormat::Json, Box::new(out.clone()));
        lines.log(&record(
            EVENT_TARGET,
            format_args!(r#"{{"event":"pair","id":3}}"#),
        ));
        lines.log(&record("x", format_args!("say \"hi\"")));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].starts_with(r#"{"time":""#), "{}", rows[0]);
        assert!(
            rows[0].contains(r#""level":"INFO","thread":""#),
            "{}",
            rows[0]
        );
        assert!(
            rows[0].ends_with(r#"","event":"pair","id":3}"#),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].ends_with(r#""event":"log","message":"say \"hi\""}"#),
            "{}",
            rows[1]
        );
    }

    #[test]
    fn quiet_still_lets_the_always_shown_events_through() {
        let lines = Lines::new(
            LevelFilter::Warn,
            LogFormat::Text,
            Box::new(std::io::sink()),
        );
        let meta = |target| {
            Metadata::builder()
                .level(log::Level::Info)
                .target(target)
                .build()
        };
        assert!(lines.enabled(&meta(ALWAYS_TARGET)));
        assert!(!lines.enabled(&meta(EVENT_TARGET)));
        assert!(!lines.enabled(&meta("tcpproxy")));
    }
}
