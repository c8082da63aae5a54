//! Quantities for people: byte counts and durations as the log and the stats table print them,
//! and durations as people type them on the command line ([`parse_duration`]).
//!
//! Nothing here blocks. A rounded count cannot be summed, so wherever a program
//! may read a count (the pair line, the summary), [`Bytes::exact`] prints the exact number first
//! and the rounded one after it, for people.

use std::fmt;
use std::time::Duration;

use crate::error::DurationError;

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

/// The units a duration on the command line may carry, longest suffix first (`ms` before `m`
/// and `s`), each with how many seconds it is.
const DURATION_UNITS: [(&str, f64); 4] = [("ms", 0.001), ("h", 3600.0), ("m", 60.0), ("s", 1.0)];

/// A duration as people write one on a command line: bare seconds (`10`, `0.5`, as the lab's
/// `--timeout` always took) or a number with a unit (`500ms`, `10s`, `2m`, `1.5h`). Never
/// negative; no exponent (`1e3` is more likely a typo than a wish).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let unit_at = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let not_a_duration = || DurationError::NotADuration(text.to_string());
    let scale = match unit {
        "" => 1.0,
        unit => DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(not_a_duration)?,
    };
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    if value < 0.0 {
        return Err(DurationError::Negative(text.to_string()));
    }
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| DurationError::OutOfRange(text.to_string()))
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
    fn durations_are_bare_seconds_or_carry_a_unit() {
        let ok = |text: &str| parse_duration(text).unwrap();
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("1.5"), Duration::from_millis(1500));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("0.25s"), Duration::from_millis(250));
    }

    #[test]
    fn a_bad_duration_says_what_is_wrong() {
        let err = |text: &str| parse_duration(text).unwrap_err();
        for bad in [
            "x", "", "10x", "s", "1e3", "10 s", "inf", "nan", "1m30s", "10S",
        ] {
            assert_eq!(err(bad), DurationError::NotADuration(bad.into()), "{bad}");
        }
        assert_eq!(err("-0.5"), DurationError::Negative("-0.5".into()));
        assert_eq!(err("-2m"), DurationError::Negative("-2m".into()));
        let huge = "99999999999999999999h";
        assert_eq!(err(huge), DurationError::OutOfRange(huge.into()));
        assert!(err("10x").to_string().contains("500ms, 10s, 2m, 1h"));
    }

    #[test]
    fn timeouts_read_like_the_listening_line() {
        assert_eq!(Timeout(Duration::from_secs(10)).to_string(), "10 s");
        assert_eq!(Timeout(Duration::from_millis(500)).to_string(), "0.5 s");
        assert_eq!(Timeout(Duration::ZERO).to_string(), "off");
    }
}
