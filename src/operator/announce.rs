//! The first and the last line: the listening line and the summary, both printed even with `-q`;
//! or, instead of both, why the proxy could not start.
//!
//! The listening line says the proxy is ready. It comes
//! last in start-up, once everything it promises is up (the listener, the relay, the `signals`
//! thread and, with `--metrics`, the endpoint), so whoever waits for it may rely on all of them.
//! In JSON it carries the addresses a program needs, including the ports the kernel chose for
//! `:0`, which a program has no other stable way to learn.

use std::net::SocketAddr;
use std::time::Duration;

use log::Level;

use crate::error::StartupError;
use crate::events::{self, Importance, LogFormat};
use crate::front_door::gate::{DoorCounts, Refusal};
use crate::front_door::listener;
use crate::front_door::shutdown::StopReport;
use crate::json::{self, Array};
use crate::operator::logging;
use crate::relay::accounting::totals::Totals;
use crate::units::Timeout;

/// What the listening line says.
pub struct Announcement<'a> {
    /// The listener's own address (`local_addr()`: the port chosen for 0).
    pub listen: SocketAddr,
    /// Where the listener came from, e.g. " (from systemd: descriptor 3, 'tcpproxy')", or "".
    pub origin: &'a str,
    /// Every destination and, with several, how they are chosen and watched.
    pub destination: &'a str,
    /// HOST:PORT of each destination, as given.
    pub destinations: &'a [String],
    /// `--balance`.
    pub balance: &'a str,
    pub timeout: Duration,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_connections: usize,
    /// `--drain`: how long a stop lets live pairs finish (zero: not at all).
    pub drain: Duration,
    /// The metrics endpoint's bound address, with `--metrics`.
    pub metrics: Option<SocketAddr>,
}

impl Announcement<'_> {
    /// Log the line, as text or as a `listening` event.
    pub fn announce(&self) {
        // Every duration in seconds, however it was written (`2m`, `500ms`): what was understood.
        let drain = match self.drain.is_zero() {
            true => String::new(),
            false => format!(", drain {}", Timeout(self.drain)),
        };
        let text = format!(
            "listening on {}{}, relaying to {}; timeout {}, idle timeout {}, connect timeout {}{}, \
             max {} pairs",
            listener::describe(self.listen),
            self.origin,
            self.destination,
            Timeout(self.timeout),
            Timeout(self.idle_timeout),
            Timeout(self.connect_timeout),
            drain,
            self.max_connections,
        );
        events::emit(Level::Info, Importance::Always, "listening", text, |out| {
            out.str("listen", self.listen)
                .str("destination", self.destination)
                .json("destinations", names(self.destinations))
                .str("balance", self.balance)
                .f64("timeout_s", self.timeout.as_secs_f64())
                .f64("idle_timeout_s", self.idle_timeout.as_secs_f64())
                .f64("connect_timeout_s", self.connect_timeout.as_secs_f64())
                .f64("drain_s", self.drain.as_secs_f64())
                .u64("max_connections", self.max_connections as u64);
            if let Some(address) = self.metrics {
                out.str("metrics", address);
            }
        });
    }
}

fn names(destinations: &[String]) -> Array {
    let mut names = Array::default();
    for name in destinations {
        names.push(json::string(name));
    }
    names
}

/// The summary, after a stop: what the relay carried, what the door refused, what the stop cut.
pub fn summary(totals: &Totals, door: &DoorCounts, stopped: StopReport) {
    let refused = |why| door.refused_by(why);
    let text = format!(
        "summary: {totals}; refused {} by --allow, {} by --deny, {} over --max-per-client; \
         {stopped}",
        refused(Refusal::NotAllowed),
        refused(Refusal::Denied),
        refused(Refusal::OverClientLimit),
    );
    events::emit(Level::Info, Importance::Always, "summary", text, |out| {
        let (up, down) = totals.bytes();
        out.u64("refused_by_allow", refused(Refusal::NotAllowed))
            .u64("refused_by_deny", refused(Refusal::Denied))
            .u64(
                "refused_over_client_limit",
                refused(Refusal::OverClientLimit),
            )
            .u64("pairs_served", totals.pairs_served())
            .u64("pairs_reached", totals.pairs_reached())
            .u64("pairs_not_reached", totals.pairs_not_reached())
            .u64("bytes_up", up)
            .u64("bytes_down", down)
            .u64("live_at_stop", stopped.live as u64)
            .u64("finished_in_drain", stopped.finished as u64)
            .u64("cut", stopped.cut as u64);
    });
}

/// Say why the proxy could not start, wherever someone will look: on stderr, as ever, and in the
/// log when that is a file or JSON (a program reading JSON lines should not have to parse
/// "tcpproxy: error:").
pub fn failure(why: &StartupError) {
    let to_the_log = match logging::writes_to() {
        None => false, // no logger yet: the command line or the log file itself failed
        Some(logging::Destination::File) => true,
        Some(logging::Destination::Stderr) => events::format() == LogFormat::Json,
    };
    if to_the_log {
        let text = format!("cannot start: {why}");
        events::emit(
            Level::Error,
            Importance::Always,
            "startup_failed",
            text,
            |_| {},
        );
    }
    if logging::writes_to() != Some(logging::Destination::Stderr) || !to_the_log {
        eprintln!("tcpproxy: error: {why}");
    }
}
