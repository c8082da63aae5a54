//! Prometheus's text exposition format (version 0.0.4), written by hand: a `# HELP` and a
//! `# TYPE` line for each metric family, then one `name{label="value"} number` line per sample.
//!
//! The format is a few lines of text, and our numbers already exist as lock-free counters
//! (`relay/accounting/totals.rs`, `histogram.rs`). A client library would want its own counter types
//! and a registry, and `prometheus-client`'s `Histogram` keeps its buckets behind a `Mutex` that
//! every observation takes: a pair's end would wait for a scrape. Writing the text ourselves costs
//! this file and nothing on the data path. `promtool check metrics` checks the result in the
//! tests. Nothing here blocks.

use std::fmt::{Display, Write as _};

use crate::relay::accounting::histogram::HistogramSnapshot;

/// The `Content-Type` of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What kind of number a family holds, as the `# TYPE` line says it.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Only ever goes up (a restart starts it again at 0); names end in `_total`.
    Counter,
    /// Goes up and down: a reading of something now.
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The text being written.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Begin the family `name`: its help text and kind. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample of the family just begun (or, for a histogram, one of its series).
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Display,
    ) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(self.text, "{comma}{label}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Display) {
        self.family(name, kind, help).sample(name, &[], value);
    }

    /// A histogram family: cumulative `_bucket`s up to `+Inf`, then `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, seen: &HistogramSnapshot) {
        self.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        for (bound, count) in &seen.buckets {
            self.sample(&bucket, &[("le", &bound.to_string())], count);
        }
        self.sample(&bucket, &[("le", "+Inf")], seen.count);
        self.sample(&format!("{name}_sum"), &[], seen.sum_seconds);
        self.sample(&format!("{name}_count"), &[], seen.count);
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A label value as the format quotes it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_histograms_read_as_the_format_says() {
        let mut out = Exposition::default();
        out.family("x_total", Kind::Counter, "Things.")
            .sample("x_total", &[("why", "a\"b")], 3);
        let seen = HistogramSnapshot {
            buckets: vec![(0.5, 1), (1.0, 2)],
            count: 3,
            sum_seconds: 2.25,
        };
        out.histogram("d_seconds", "Durations.", &seen);
        let text = out.finish();
        assert!(text.starts_with("# HELP x_total Things.\n# TYPE x_total counter\n"));
        assert!(text.contains("x_total{why=\"a\\\"b\"} 3\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{le=\"0.5\"} 1\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(
            text.ends_with("d_seconds_sum 2.25\nd_seconds_count 3\n"),
            "{text}"
        );
    }
}
