//! The listening line: the one line that says the proxy is ready, printed even with `-q`. It comes
//! last in start-up, once everything it promises is up (the listener, the relay, the `signals`
//! thread and, with `--metrics`, the endpoint), so whoever waits for it may rely on all of them.
//! In JSON it carries the addresses a program needs, including the ports the kernel chose for
//! `:0`, which a program has no other stable way to learn.

use std::net::SocketAddr;
use std::time::Duration;

use log::Level;

use crate::events::{self, Importance};
use crate::front_door::listener;
use crate::units::Timeout;

/// What the listening line says.
pub struct Announcement<'a> {
    /// The listener's own address (`local_addr()`: the port chosen for 0).
    pub listen: SocketAddr,
    /// Where the listener came from, e.g. " (from systemd: descriptor 3, 'tcpproxy')", or "".
    pub origin: &'a str,
    pub destination: &'a str,
    pub timeout: Duration,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_connections: usize,
    /// The metrics endpoint's bound address, with `--metrics`.
    pub metrics: Option<SocketAddr>,
}

impl Announcement<'_> {
    /// Log the line, as text or as a `listening` event.
    pub fn announce(&self) {
        let text = format!(
            "listening on {}{}, relaying to {}; timeout {}, idle timeout {}, connect timeout {}, \
             max {} pairs",
            listener::describe(self.listen),
            self.origin,
            self.destination,
            Timeout(self.timeout),
            Timeout(self.idle_timeout),
            Timeout(self.connect_timeout),
            self.max_connections,
        );
        events::emit(Level::Info, Importance::Always, "listening", text, |out| {
            out.str("listen", self.listen)
                .str("destination", self.destination)
                .f64("timeout_s", self.timeout.as_secs_f64())
                .f64("idle_timeout_s", self.idle_timeout.as_secs_f64())
                .f64("connect_timeout_s", self.connect_timeout.as_secs_f64())
                .u64("max_connections", self.max_connections as u64);
            if let Some(address) = self.metrics {
                out.str("metrics", address);
            }
        });
    }
}
