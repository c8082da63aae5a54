//! The command line: `tcpproxy [OPTIONS] <destination-host> <destination-port> <listen-port>`.
//!
//! This module owns turning `argv` into a checked [`Options`] value. Every value is validated here,
//! so the rest of the program never sees a port of 0 where one is needed or a negative timeout. We use
//! clap because it gives `--help`, `--version`, "did you mean" hints and the Unix convention of exit
//! status 2 with a usage line for free; a hand-written parser would need a hundred lines to match it.
//! The options for several destinations are [`destinations`]'.

pub mod destinations;
pub mod values;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Parser};

use crate::events::LogFormat;
use crate::front_door::allow::Cidr;
use crate::operator::endpoint;
use crate::proxy_protocol::Version;
use destinations::DestinationOptions;
use values::{
    bind_address, destination_port, host, keepalive_seconds, listen_port, log_format,
    proxy_version, seconds, stats_interval,
};

/// The lab's 10-second hang rule, and the same patience for a slow destination.
pub const DEFAULT_TIMEOUT_SECS: &str = "10";

/// `--stats-interval` below a second is a log flood (0.001 wrote 4,002 lines in 2 s), not a
/// report: the table is for people, and the status page is live anyway.
pub const MIN_STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Signals, exit status, environment: in `--help` and the man page alike.
const AFTER_HELP: &str = "\
Signals:
  SIGTERM, SIGINT  stop: close the listener, let live pairs finish for up to --drain seconds,
                   reset the rest, exit 0; the same signal again within a second is the same
                   stop; a second signal later resets every pair and exits 130
  SIGHUP           reopen --log-file (for logrotate); never a stop
  SIGUSR1          log the live stats table
  SIGUSR2          upgrade in place: start the program at the path it was started from, with
                   the same arguments, and hand it the listening and --metrics sockets; once it
                   is ready, drain as on SIGTERM and exit 0 (if it fails, nothing changes).
                   Not under systemd: upgrade a unit with systemctl restart

Exit status: 0 after SIGTERM/SIGINT or an upgrade's handover, 1 if it cannot start, 2 for a
bad command line, 130 after a second signal.

Environment:
  LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES  systemd socket activation: accept on the inherited
                   socket instead of binding (listen port 0, or the inherited socket's port)
  NOTIFY_SOCKET    systemd Type=notify: READY=1 once listening, STOPPING=1 on stop
  TCPPROXY_UPGRADED_FROM  set by SIGUSR2 for the new process: the old one's pid (the sockets
                   above came from it, and NOTIFY_SOCKET is its)

Example: tcpproxy 127.0.0.1 8080 3000   (clients of port 3000 reach 127.0.0.1:8080)";

/// Relay TCP connections: every client that connects to LISTEN_PORT gets its own connection to
/// DESTINATION_HOST:DESTINATION_PORT, and bytes flow both ways until both sides are done.
#[derive(Parser, Debug)]
#[command(name = "tcpproxy", version, about, max_term_width = 100)]
#[command(
    after_help = AFTER_HELP
)]
pub struct Options {
    /// Where to relay clients: a host name or an IP literal ([::1] is fine)
    #[arg(value_parser = host)]
    pub destination_host: String,

    /// Destination TCP port (1-65535)
    #[arg(value_parser = destination_port, allow_negative_numbers = true)]
    pub destination_port: u16,

    /// Port to accept clients on (0 = any free port; the log names the one chosen)
    #[arg(value_parser = listen_port, allow_negative_numbers = true)]
    pub listen_port: u16,

    /// Address to listen on [default: all interfaces, IPv4 and IPv6]
    #[arg(long, value_name = "ADDR", value_parser = bind_address)]
    pub bind: Option<String>,

    /// Hang timeout: cut a pair that stalls or idles this long (0 disables both rules)
    #[arg(long, value_name = "SECS", default_value = DEFAULT_TIMEOUT_SECS,
          value_parser = seconds, allow_negative_numbers = true)]
    pub timeout: Duration,

    /// The idle rule alone: cut a pair when no byte moves this long (0 = never) [default: --timeout]
    #[arg(long, value_name = "SECS", value_parser = seconds, allow_negative_numbers = true)]
    pub idle_timeout: Option<Duration>,

    /// Give up connecting to the destination after this long (0 = the OS's own limit)
    #[arg(long, value_name = "SECS", default_value = DEFAULT_TIMEOUT_SECS,
          value_parser = seconds, allow_negative_numbers = true)]
    pub connect_timeout: Duration,

    /// Pairs alive at once; beyond it, stop accepting until one ends [default: what the open-file
    /// and memory-map limits allow]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Only clients in this network may connect (repeatable; IPv4 or IPv6) [default: everyone]
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<Cidr>,

    /// Clients in this network may not connect, even if --allow lists them (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<Cidr>,

    /// Live pairs per client address (IPv6: per /64); a client over it is closed at once
    /// [default: no limit but --max-connections]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_client: Option<u32>,

    /// Every client must begin with a PROXY protocol header (v1 or v2, as a load balancer such as
    /// HAProxy or an AWS NLB sends): the client it names is the one logged, checked against
    /// --allow, --deny and --max-per-client, and passed on by --send-proxy. A client without a
    /// valid header within --connect-timeout is closed
    #[arg(long)]
    pub accept_proxy: bool,

    /// More log: -v adds pair open events (debug), -vv every read and write (trace)
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log: no per-pair lines and no stats; where it listens, warnings, errors and the
    /// summary are still printed
    #[arg(short, long)]
    pub quiet: bool,

    /// Log lines for people (text) or one JSON object a line for programs (json; keys in
    /// docs/reference.md)
    #[arg(long, value_name = "FORMAT", default_value = "text",
          value_parser = PossibleValuesParser::new(["text", "json"]).try_map(log_format))]
    pub log_format: LogFormat,

    /// How bytes are moved: copy (read/write through a buffer) or splice (zero-copy through a
    /// kernel pipe; two more descriptors per direction, falling back to copy when none are left).
    /// On loopback copy is as fast and costs fewer system calls; splice is for large transfers
    /// between network cards
    #[arg(long, value_name = "MODE", default_value = "copy", value_parser = ["copy", "splice"])]
    pub copy_mode: String,

    /// On SIGTERM/SIGINT, stop accepting at once but let live pairs run to their natural end for
    /// up to SECS (the hang rule still applies), then reset the rest (0: reset them at once)
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = seconds,
          allow_negative_numbers = true)]
    pub drain: Duration,

    /// Write the log to this file instead of stderr (appended to; reopened on SIGHUP)
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Also log the live stats table every SECS (at least 1 s; 0 = only on SIGUSR1) [default: 0]
    #[arg(long, value_name = "SECS", value_parser = stats_interval, allow_negative_numbers = true)]
    pub stats_interval: Option<Duration>,

    /// Record every pair's bytes: into files pair-ID-c2s.bin and pair-ID-s2c.bin in a new
    /// subdirectory of DIR for each run (named by start time and process id), or with '-' as an
    /// annotated hex dump in the log
    #[arg(long, value_name = "DIR|-")]
    pub dump: Option<PathBuf>,

    /// Begin each destination connection with a PROXY protocol header (v1 text, v2 binary)
    /// carrying the client's address, for HAProxy's accept-proxy or nginx's proxy_protocol
    #[arg(long, value_name = "VERSION",
          value_parser = PossibleValuesParser::new(["v1", "v2"]).try_map(proxy_version))]
    pub send_proxy: Option<Version>,

    /// Connect to the destination from this local IP address (for a destination that expects
    /// one source address, on a host with several); it must be one of this host's
    #[arg(long, value_name = "ADDR")]
    pub source: Option<IpAddr>,

    /// TCP keepalive on both sockets of every pair: a peer gone without a FIN or reset is found
    /// out, and its pair ended, within about SECS (1-32767; SECS/2 idle, then probes) [default: off]
    #[arg(long, value_name = "SECS", value_parser = keepalive_seconds)]
    pub keepalive: Option<u32>,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (an IP and a port, or
    /// localhost:PORT; port 0 picks one and logs it), from one more thread; also the status page
    /// at /, and /healthz and /ready (503 while every destination is down, or stopping)
    #[arg(long, value_name = "ADDR:PORT", value_parser = endpoint::parse_address)]
    pub metrics: Option<SocketAddr>,

    #[command(flatten)]
    pub upstream: DestinationOptions,
}

impl Options {
    /// The idle rule's timeout: `--idle-timeout` if given, else `--timeout`.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout.unwrap_or(self.timeout)
    }

    /// How often to log the stats table unasked, if at all.
    pub fn stats_interval(&self) -> Option<Duration> {
        self.stats_interval.filter(|every| !every.is_zero())
    }
}

#[cfg(test)]
mod tests;
