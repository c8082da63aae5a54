//! Quantities for people: byte counts and durations as the log and the stats table print them.
//!
//! Pure formatting; nothing here blocks, and nothing here is read back by a program (exact
//! counts go alongside wherever a machine might want them).

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
    fn timeouts_read_like_the_listening_line() {
        assert_eq!(Timeout(Duration::from_secs(10)).to_string(), "10 s");
        assert_eq!(Timeout(Duration::from_millis(500)).to_string(), "0.5 s");
        assert_eq!(Timeout(Duration::ZERO).to_string(), "off");
    }
}
