//! The status page on the `--metrics` address: `/`, one self-contained HTML page, and
//! `/pairs.json`, the data it redraws from every second.
//!
//! The page (`page.html`, compiled in) is the stats table made live: a row per pair with
//! what each of its two threads is blocked on, the totals, and a chart of the last five minutes
//! from the proxy's own ring (`history.rs`). It fetches nothing but `/pairs.json` from the server
//! that served it — no font, no script library — so it works on a machine with no internet, and
//! the endpoint's content security policy can forbid everything else.
//!
//! `/pairs.json` is a contract: its keys are listed in docs/reference.md and only ever gain new ones.
//! It holds the `stats` event's keys (`stats.rs`) plus what the page needs to judge a pair: the
//! two timeouts and the proxy's uptime, which is the clock of `history[].t`; and the destinations
//! table (`destinations`), drawn under the pairs.
//!
//! What a page costs: one `/pairs.json` a second per open tab, never two at once (the script
//! waits for one answer before it asks again), none while the tab is hidden. Each answer is one
//! [`gather`](crate::operator::stats::gather), as a SIGUSR1 is, and lists at most [`MAX_LISTED`]
//! pairs. Nothing here blocks.

use std::sync::Arc;
use std::time::Duration;

use crate::json::{Array, Object};
use crate::operator::destinations;
use crate::operator::endpoint::history::History;
use crate::operator::endpoint::http::Response;
use crate::operator::stats::{self, Report, Sources};

/// The page itself.
pub const PAGE: &str = include_str!("page.html");

pub const HTML: &str = "text/html; charset=utf-8";
pub const JSON: &str = "application/json";

/// Pairs listed in one `/pairs.json`, lowest ids first; `pairs_unlisted` counts the rest. A few
/// hundred rows is what a person can read, and it keeps each answer under about 200 KiB when
/// thousands of pairs are live.
pub const MAX_LISTED: usize = 500;

/// The hang rule's two timeouts, `Duration::ZERO` for a rule that is off (as on the command line).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub stall: Duration,
    pub idle: Duration,
}

/// What `/pairs.json` adds to the stats table's sources: the ring and the timeouts.
pub struct Status {
    pub history: Arc<History>,
    pub timeouts: Timeouts,
}

/// `/`: the page.
pub fn page() -> Response {
    Response::ok(HTML, PAGE.to_string())
}

impl Status {
    /// `/pairs.json`, read now: one [`stats::gather`], as a SIGUSR1 is.
    pub fn pairs(&self, sources: &Sources) -> Response {
        let report = stats::gather(sources);
        Response::ok(JSON, pairs_json(&report, self.timeouts, &self.history))
    }
}

/// `/pairs.json`: the totals, one object a pair, the timeouts and the history.
pub fn pairs_json(report: &Report, timeouts: Timeouts, history: &History) -> String {
    let mut out = Object::new();
    out.f64("uptime_s", seconds(history.uptime()))
        .f64("timeout_s", seconds(timeouts.stall))
        .f64("idle_timeout_s", seconds(timeouts.idle));
    report.totals(&mut out);
    let mut pairs = Array::default();
    for pair in report.pairs.iter().take(MAX_LISTED) {
        let mut row = Object::new();
        pair.fields(&mut row);
        pairs.push(row.finish());
    }
    let unlisted = report.pairs.len().saturating_sub(MAX_LISTED);
    out.json("pairs", pairs)
        .u64("pairs_unlisted", unlisted as u64)
        .json("destinations", destinations::array(&report.destinations));
    let mut samples = Array::default();
    for sample in history.samples() {
        let mut point = Object::new();
        point
            .f64("t", seconds(sample.at))
            .u64("live", sample.live)
            .u64("bytes", sample.bytes);
        samples.push(point.finish());
    }
    out.json("history", samples).finish()
}

/// Seconds to the millisecond: enough for a page, and short in the JSON.
fn seconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
