//! The markdown table `make bench` prints: per figure, each target's median over the rounds and,
//! for the proxies, how it compares with the direct connection.

use crate::measure::Figures;
use crate::target::Target;

/// The middle value (the upper one of an even count); NaN if there are none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The markdown table: one row per figure, per target its median and, beside the direct column,
/// its ratio to direct (or the latency it adds).
pub(crate) fn print_table(targets: &[Target], results: &[Vec<Figures>], rounds: usize) {
    type Pick = fn(&Figures) -> f64;
    let rows: [(&str, Pick, bool); 13] = [
        (
            "one stream, client→server (Gbit/s)",
            |f| f.upload_gbps,
            true,
        ),
        (
            "one stream, server→client (Gbit/s)",
            |f| f.download_gbps,
            true,
        ),
        (
            "8 streams, client→server (Gbit/s)",
            |f| f.eight_streams_gbps,
            true,
        ),
        (
            "short connections/s (8 clients)",
            |f| f.connections_per_s,
            true,
        ),
        ("short connection p50 (µs)", |f| f.connection_p50_us, false),
        ("short connection p99 (µs)", |f| f.connection_p99_us, false),
        ("64 B RTT p50 (µs)", |f| f.rtt_p50_us, false),
        ("64 B RTT p99 (µs)", |f| f.rtt_p99_us, false),
        ("64 B RTT p99.9 (µs)", |f| f.rtt_p999_us, false),
        (
            "1,000 pingers every 100 ms, p99 (ms)",
            |f| f.pingers_1000_p99_ms,
            false,
        ),
        (
            "4,000 pingers every 100 ms, p99 (ms)",
            |f| f.pingers_4000_p99_ms,
            false,
        ),
        (
            "RSS per idle pair, 1,000 pairs (KiB)",
            |f| f.rss_per_idle_pair_kib.unwrap_or(f64::NAN),
            false,
        ),
        (
            "threads per idle pair",
            |f| f.threads_per_idle_pair.unwrap_or(f64::NAN),
            false,
        ),
    ];
    println!("\nMedian of {rounds} round(s); ratio = through the proxy / direct, same run.\n");
    let mut header = String::from("| figure |");
    let mut rule = String::from("|---|");
    for target in targets {
        header += &format!(" {} |", target.name);
        rule += "---|";
        if target.process.is_some() {
            header += " vs direct |";
            rule += "---|";
        }
    }
    println!("{header}\n{rule}");
    for (label, pick, higher_is_better) in rows {
        let direct = median(results[0].iter().map(pick));
        let mut line = format!("| {label} |");
        for (i, target) in targets.iter().enumerate() {
            let value = median(results[i].iter().map(pick));
            line += &format!(" {} |", format_value(value));
            if target.process.is_some() {
                line += &format!(" {} |", compare(value, direct, higher_is_better));
            }
        }
        println!("{line}");
    }
}

/// A figure with three significant digits or so; "—" when there is none.
fn format_value(value: f64) -> String {
    match value {
        v if v.is_nan() => "—".into(),
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// A ratio for "more is better" figures, the added amount for latencies.
fn compare(value: f64, direct: f64, higher_is_better: bool) -> String {
    if value.is_nan() || direct.is_nan() || direct == 0.0 {
        "—".into()
    } else if higher_is_better {
        format!("{:.2}×", value / direct)
    } else if value >= direct {
        format!("+{}", format_value(value - direct))
    } else {
        format!("−{}", format_value(direct - value))
    }
}
