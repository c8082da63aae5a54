//! The markdown table `make bench` prints: per figure, each target's median over the rounds and,
//! for the proxies, how it compares with the direct connection.

use crate::measure::Figures;
use crate::target::Target;

/// The middle value (the upper one of an even count); NaN if there are none.
pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// How a row's proxies compare with direct.
#[derive(Clone, Copy, PartialEq)]
enum Versus {
    /// More is better: the ratio to direct.
    Ratio,
    /// A latency: what the proxy adds to direct's.
    Added,
    /// The proxy's own cost, which direct does not have: no comparison.
    Own,
    /// The machine's, measured while this target ran: shown for direct too, no comparison.
    Machine,
}

type Pick = fn(&Figures) -> Option<f64>;

const ROWS: [(&str, Pick, Versus); 25] = [
    (
        "one stream, client→server (Gbit/s)",
        |f| Some(f.upload_gbps),
        Versus::Ratio,
    ),
    (
        "one stream, server→client (Gbit/s)",
        |f| Some(f.download_gbps),
        Versus::Ratio,
    ),
    (
        "8 streams, client→server (Gbit/s)",
        |f| Some(f.eight_streams_gbps),
        Versus::Ratio,
    ),
    (
        "short connections/s (8 clients)",
        |f| Some(f.connections_per_s),
        Versus::Ratio,
    ),
    (
        "short connection p50 (µs)",
        |f| Some(f.connection_p50_us),
        Versus::Added,
    ),
    (
        "short connection p99 (µs)",
        |f| Some(f.connection_p99_us),
        Versus::Added,
    ),
    (
        "proxy CPU per short connection (µs)",
        |f| f.connection_cpu_us,
        Versus::Own,
    ),
    (
        "context switches per short connection (/proc, live threads)",
        |f| f.connection_switches,
        Versus::Own,
    ),
    (
        "same, main thread only (/proc/PID/status)",
        |f| f.connection_leader_switches,
        Versus::Own,
    ),
    (
        "context switches per short connection (perf stat)",
        |f| f.connection_perf_switches,
        Versus::Own,
    ),
    (
        "syscalls per short connection (perf stat)",
        |f| f.connection_syscalls,
        Versus::Own,
    ),
    ("64 B RTT p50 (µs)", |f| Some(f.rtt_p50_us), Versus::Added),
    ("64 B RTT p99 (µs)", |f| Some(f.rtt_p99_us), Versus::Added),
    (
        "64 B RTT p99.9 (µs)",
        |f| Some(f.rtt_p999_us),
        Versus::Added,
    ),
    (
        "same, all on one core: p50 (µs)",
        |f| Some(f.one_core_rtt_p50_us),
        Versus::Added,
    ),
    (
        "same, all on one core: p99 (µs)",
        |f| Some(f.one_core_rtt_p99_us),
        Versus::Added,
    ),
    (
        "same, all on one core: p99.9 (µs)",
        |f| Some(f.one_core_rtt_p999_us),
        Versus::Added,
    ),
    (
        "1,000 pingers every 100 ms, p99 (ms)",
        |f| Some(f.pingers_1000_p99_ms),
        Versus::Added,
    ),
    (
        "4,000 pingers every 100 ms, answered pings/s",
        |f| Some(f.pingers_4000_rate),
        Versus::Ratio,
    ),
    (
        "4,000 pingers every 100 ms, p99 (ms)",
        |f| Some(f.pingers_4000_p99_ms),
        Versus::Added,
    ),
    (
        "4,000 pingers, proxy CPU (% of one core)",
        |f| f.pingers_4000_cpu_percent,
        Versus::Own,
    ),
    (
        "4,000 pingers, CPU time the host took (steal, %)",
        |f| f.pingers_4000_steal_percent,
        Versus::Machine,
    ),
    (
        "RSS per idle pair, 1,000 pairs (KiB)",
        |f| f.rss_per_idle_pair_kib,
        Versus::Own,
    ),
    (
        "threads per idle pair",
        |f| f.threads_per_idle_pair,
        Versus::Own,
    ),
    (
        "whole round, CPU time the host took (steal, %)",
        |f| f.round_steal_percent,
        Versus::Machine,
    ),
];

/// The markdown table: one row per figure, per target its median and, beside the direct column,
/// its ratio to direct (or the latency it adds). "—": does not apply (direct has no proxy
/// process); "n/a": could not be measured here (no perf, say).
pub(crate) fn print_table(targets: &[Target], results: &[Vec<Figures>], rounds: usize) {
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
    for (label, pick, versus) in ROWS {
        let value = |i: usize| median(results[i].iter().map(|f| pick(f).unwrap_or(f64::NAN)));
        let direct = value(0);
        let mut line = format!("| {label} |");
        for (i, target) in targets.iter().enumerate() {
            line += &match (target.process.is_some(), value(i)) {
                (false, _) if versus == Versus::Own => " — |".to_string(),
                (_, v) if v.is_nan() => " n/a |".to_string(),
                (_, v) => format!(" {} |", format_value(v)),
            };
            if target.process.is_some() {
                line += &format!(" {} |", compare(value(i), direct, versus));
            }
        }
        println!("{line}");
    }
}

/// A figure with three significant digits or so; "—" when there is none.
pub(crate) fn format_value(value: f64) -> String {
    match value {
        v if v.is_nan() => "—".into(),
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// A ratio for "more is better" figures, the added amount for latencies, nothing for costs.
fn compare(value: f64, direct: f64, versus: Versus) -> String {
    if matches!(versus, Versus::Own | Versus::Machine)
        || value.is_nan()
        || direct.is_nan()
        || direct == 0.0
    {
        "—".into()
    } else if versus == Versus::Ratio {
        format!("{:.2}×", value / direct)
    } else if value >= direct {
        format!("+{}", format_value(value - direct))
    } else {
        format!("−{}", format_value(direct - value))
    }
}
