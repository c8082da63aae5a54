//! The log's events: one call writes a line for people (`--log-format text`, the default) or one
//! JSON object for programs (`--log-format json`).
//!
//! Most of the log is ordinary `log` macros (`debug!`, `warn!`), which both formats carry as a
//! message. The lines a program acts on — a pair ended, a client refused, the proxy listening,
//! the stats, the stop and the summary — are *events*: they have a name and fields with stable
//! keys (docs/reference.md lists them), and [`emit`] writes them in the chosen format. In JSON the fields
//! travel as the record's message to the logger (`operator/logging.rs`), which wraps them with the
//! time, level and thread; the text line is not made at all, and in text the JSON is not.
//!
//! Some events are printed even with `-q`: where the proxy listens, the stop and the summary
//! ([`Importance::Always`]). Nothing here blocks but the log line's write.

use std::fmt::Display;
use std::sync::OnceLock;

use log::Level;

use crate::json::Object;

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Whether `-q` silences an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    /// Shown at the event's level, like any log line.
    Normal,
    /// Shown even with `-q`: without it, nobody would know where the proxy listens or how it ended.
    Always,
}

/// The `log` target of an event record: the JSON logger takes its message as ready-made fields.
pub const EVENT_TARGET: &str = "tcpproxy::event";
/// The same, for an event that `-q` does not silence.
pub const ALWAYS_TARGET: &str = "tcpproxy::event::always";

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Choose the format, once, as logging starts.
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format); // a second call (tests) keeps the first: lines never change format
}

pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Log the event `name`: `text` for people, or `fields` for programs, which the JSON gets between
/// `event` and `message` (the text's first line). Only the chosen one is made.
pub fn emit(
    level: Level,
    importance: Importance,
    name: &str,
    text: impl Display,
    fields: impl FnOnce(&mut Object),
) {
    let target = match importance {
        Importance::Normal => EVENT_TARGET,
        Importance::Always => ALWAYS_TARGET,
    };
    match format() {
        LogFormat::Text => log::log!(target: target, level, "{text}"),
        LogFormat::Json => {
            let mut object = Object::new();
            object.str("event", name);
            fields(&mut object);
            // A table for people (stats) is all in the fields already: its first line will do.
            let text = text.to_string();
            object.str("message", text.split('\n').next().unwrap_or_default());
            log::log!(target: target, level, "{}", object.finish());
        }
    }
}
