//! `--keepalive SECS`: TCP keepalive on both sockets of every pair, so a peer that vanished
//! without a FIN or a reset (a host powered off, a NAT that forgot the connection) is found out
//! within about SECS, even on a pair that `--idle-timeout 0` lets sit quiet forever.
//!
//! The kernel does the work: after `idle` seconds without a segment from the peer it sends a
//! probe, then one every `interval`; after `probes` unanswered ones it resets the connection, and
//! the pump blocked in `read` wakes with an error. The three add up to the time SECS names:
//!
//! ```text
//!   idle = SECS / 2      interval = (SECS - idle) / 3      probes = (SECS - idle) / interval
//!   SECS = 60:  30 s, then 3 probes 10 s apart        SECS = 10:  5 s, then 5 probes 1 s apart
//! ```
//!
//! so that `idle + interval × probes` is at most SECS: half the time to notice the silence, the
//! other half for a few probes, since one lost probe must not cut a live connection. The kernel
//! counts whole seconds, each at least 1, and a single probe must go unanswered: `--keepalive 1`
//! therefore detects within 2 s. Nothing here blocks.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

/// The largest SECS (9 hours): it keeps each setting inside Linux's limits (32767 s, 127 probes).
pub const MAX_SECS: u32 = 32767;

/// One pair's keepalive settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub probes: u32,
}

impl Keepalive {
    /// Settings that find a dead peer within about `secs` (1 to [`MAX_SECS`]; see the module).
    pub fn within(secs: u32) -> Keepalive {
        let secs = secs.clamp(1, MAX_SECS);
        let idle = (secs / 2).max(1);
        let rest = secs - idle;
        let interval = (rest / 3).max(1);
        let probes = (rest / interval).max(1);
        Keepalive {
            idle: Duration::from_secs(idle.into()),
            interval: Duration::from_secs(interval.into()),
            probes,
        }
    }

    /// The longest a dead peer goes unnoticed.
    pub fn detection(&self) -> Duration {
        self.idle + self.interval * self.probes
    }

    /// Switch keepalive on for `socket` with these settings (SO_KEEPALIVE, TCP_KEEPIDLE,
    /// TCP_KEEPINTVL, TCP_KEEPCNT).
    pub fn apply(&self, socket: &TcpStream) -> io::Result<()> {
        let settings = TcpKeepalive::new()
            .with_time(self.idle)
            .with_interval(self.interval)
            .with_retries(self.probes);
        SockRef::from(socket).set_tcp_keepalive(&settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_never_takes_longer_than_asked_beyond_the_one_second_floor() {
        for secs in 1..=MAX_SECS {
            let k = Keepalive::within(secs);
            let limit = Duration::from_secs(secs.max(2).into());
            assert!(k.detection() <= limit, "{secs}: {k:?}");
            assert!(k.idle >= Duration::from_secs(1) && k.interval >= Duration::from_secs(1));
            assert!((1..=127).contains(&k.probes), "{secs}: {k:?}"); // Linux's TCP_KEEPCNT range
                                                                     // Never much sooner either: at least three quarters of the time asked for.
            assert!(
                k.detection().as_secs() * 4 >= u64::from(secs) * 3,
                "{secs}: {k:?}"
            );
        }
    }

    #[test]
    fn documented_examples() {
        let k = |s| {
            let k = Keepalive::within(s);
            (k.idle.as_secs(), k.interval.as_secs(), k.probes)
        };
        assert_eq!(k(60), (30, 10, 3));
        assert_eq!(k(10), (5, 1, 5));
        assert_eq!(k(1), (1, 1, 1));
        assert_eq!(k(2), (1, 1, 1));
        assert_eq!(k(3), (1, 1, 2));
    }
}
