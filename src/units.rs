//! Quantities for people: byte counts and durations as the log and the stats table print them.
//!
//! Pure formatting; nothing here blocks. A rounded count cannot be summed, so wherever a program
//! may read a count (the pair line, the summary), [`Bytes::exact`] prints the exact number first
//! and the rounded one after it, for people.

use std::fmt;
use std::time::Duration;

/// A byte count for people: `512 B`, `1.2 KiB`, `5.3 MiB`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

impl Bytes {
    /// `5557453 B (5.3 MiB)`; below a KiB the two would say the same, so just `512 B`.
    pub fn exact(self) -> ExactBytes {
        ExactBytes(self.0)
    }
}

/// A byte count for programs and people alike: see [`Bytes::exact`].
pub struct ExactBytes(u64);

impl fmt::Display for ExactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 1024 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{} B ({})", self.0, Bytes(self.0))
        }
    }
}

/// A configured timeout: `10 s`, `0.5 s`, or `off` where zero disables it.
pub struct Timeout(pub Duration);

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            f.write_str("off")
        } else {
            write!(f, "{} s", self.0.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_the_log() {
        assert_eq!(Bytes(0).to_string(), "0 B");
        assert_eq!(Bytes(1023).to_string(), "1023 B");
        assert_eq!(Bytes(1024).to_string(), "1.0 KiB");
        assert_eq!(Bytes(1229).to_string(), "1.2 KiB");
        assert_eq!(Bytes(5_557_453).to_string(), "5.3 MiB");
        assert_eq!(Bytes(3 << 40).to_string(), "3.0 TiB");
        assert_eq!(Bytes(2048 << 40).to_string(), "2048.0 TiB");
    }

    #[test]
    fn exact_bytes_put_the_number_first() {
        assert_eq!(Bytes(1023).exact().to_string(), "1023 B");
        assert_eq!(Bytes(5_557_453).exact().to_string(), "5557453 B (5.3 MiB)");
    }

    #[test]
    fn timeouts_read_like_the_listening_line() {
        assert_eq!(Timeout(Duration::from_secs(10)).to_string(), "10 s");
        assert_eq!(Timeout(Duration::from_millis(500)).to_string(), "0.5 s");
        assert_eq!(Timeout(Duration::ZERO).to_string(), "off");
    }
}
