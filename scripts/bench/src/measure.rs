//! One target's figures: the workloads run through it, their percentiles, what they cost the
//! process behind it (CPU, context switches, syscalls), and what an idle pair costs it; and
//! `--scale`, which holds many idle pairs at once instead.

use std::io;
use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::counters;
use crate::one_core::OneCore;
use crate::pingers::slow_pingers;
use crate::scratch::Scratch;
use crate::steal;
use crate::target::Target;
use crate::usage::{process_usage, settled_usage, tree};
use crate::workloads;
use crate::Lengths;

/// The figures of one target in one round. `None`: not measured (direct has no process; perf
/// may be missing).
#[derive(Default, Clone)]
pub(crate) struct Figures {
    pub(crate) upload_gbps: f64,
    pub(crate) download_gbps: f64,
    pub(crate) eight_streams_gbps: f64,
    pub(crate) connections_per_s: f64,
    pub(crate) connection_p50_us: f64,
    pub(crate) connection_p99_us: f64,
    pub(crate) connection_cpu_us: Option<f64>,
    pub(crate) connection_switches: Option<f64>,
    pub(crate) connection_leader_switches: Option<f64>,
    pub(crate) connection_perf_switches: Option<f64>,
    pub(crate) connection_syscalls: Option<f64>,
    pub(crate) rtt_p50_us: f64,
    pub(crate) rtt_p99_us: f64,
    pub(crate) rtt_p999_us: f64,
    pub(crate) one_core_rtt_p50_us: f64,
    pub(crate) one_core_rtt_p99_us: f64,
    pub(crate) one_core_rtt_p999_us: f64,
    pub(crate) pingers_1000_p99_ms: f64,
    pub(crate) pingers_4000_rate: f64,
    pub(crate) pingers_4000_p99_ms: f64,
    pub(crate) pingers_4000_cpu_percent: Option<f64>,
    /// The share of the machine's CPU time the host took during the 4,000 pingers (see `steal`).
    pub(crate) pingers_4000_steal_percent: Option<f64>,
    /// The same over this target's whole round.
    pub(crate) round_steal_percent: Option<f64>,
    pub(crate) rss_per_idle_pair_kib: Option<f64>,
    pub(crate) threads_per_idle_pair: Option<f64>,
}

/// Every workload through `target`, one after another.
pub(crate) fn measure(
    target: &Target,
    lengths: &Lengths,
    scratch: &Scratch,
) -> io::Result<Figures> {
    let addr = target.addr;
    let pid = target.process.as_ref().map(Child::id);
    let round_began = steal::now();
    let mut figures = Figures {
        upload_gbps: workloads::throughput(addr, b'U', 1, lengths.stream)?,
        download_gbps: workloads::throughput(addr, b'D', 1, lengths.stream)?,
        eight_streams_gbps: workloads::throughput(addr, b'U', 8, lengths.stream)?,
        ..Figures::default()
    };
    let before = pid.map(counters::read);
    let (rate, mut times) = workloads::short_connections(addr, 8, lengths.connections)?;
    if let (Some(pid), Some(before)) = (pid, before) {
        let spent = before.spent_until(counters::read(pid));
        let per = |x: f64| x / times.len().max(1) as f64;
        figures.connection_cpu_us = Some(per(spent.cpu_seconds * 1e6));
        figures.connection_switches = Some(per(spent.context_switches as f64));
        figures.connection_leader_switches = Some(per(spent.leader_switches as f64));
        // A second pass counted by perf, whose tracepoint slows the proxy: its rate is not kept.
        if let Some(perf) = crate::perf::attach(&tree(pid), scratch.path()) {
            let (_, counted) = workloads::short_connections(addr, 8, lengths.connections)?;
            if let Some(counts) = perf.finish() {
                let per = |x: u64| x as f64 / counted.len().max(1) as f64;
                figures.connection_perf_switches = Some(per(counts.context_switches));
                figures.connection_syscalls = Some(per(counts.syscalls));
            }
        }
    }
    figures.connections_per_s = rate;
    figures.connection_p50_us = percentile(&mut times, 50.0).as_secs_f64() * 1e6;
    figures.connection_p99_us = percentile(&mut times, 99.0).as_secs_f64() * 1e6;
    let mut rtts = workloads::ping_pong(addr, lengths.pings)?;
    [figures.rtt_p50_us, figures.rtt_p99_us, figures.rtt_p999_us] = micros_at(&mut rtts);
    let pinned = OneCore::pin(pid)?;
    let mut rtts = workloads::ping_pong(addr, lengths.pings)?;
    drop(pinned);
    let one_core = micros_at(&mut rtts);
    [
        figures.one_core_rtt_p50_us,
        figures.one_core_rtt_p99_us,
        figures.one_core_rtt_p999_us,
    ] = one_core;
    figures.pingers_1000_p99_ms = pingers(addr, 1000, pid, lengths)?.0;
    let pingers_began = steal::now();
    let (p99, rate, cpu) = pingers(addr, 4000, pid, lengths)?;
    figures.pingers_4000_p99_ms = p99;
    figures.pingers_4000_rate = rate;
    figures.pingers_4000_cpu_percent = cpu;
    figures.pingers_4000_steal_percent = pingers_began.steal_percent_until(steal::now());
    warn_of_steal(figures.pingers_4000_steal_percent, "4,000 pingers", target);
    if let Some(pid) = pid {
        let (rss, threads) = idle_pair_cost(addr, pid)?;
        figures.rss_per_idle_pair_kib = Some(rss);
        figures.threads_per_idle_pair = Some(threads);
    }
    figures.round_steal_percent = round_began.steal_percent_until(steal::now());
    warn_of_steal(figures.round_steal_percent, "this round", target);
    Ok(figures)
}

/// Say so when the host took enough of the machine to move the latencies: above 2 %, direct's
/// 4,000-pinger p99 was several milliseconds where it is under one with none.
fn warn_of_steal(percent: Option<f64>, during: &str, target: &Target) {
    if let Some(percent) = percent.filter(|&p| p > 2.0) {
        eprintln!(
            "bench: the host took {percent:.1} % of the CPU time during {during} ({}): its \
             latencies say as much about the host as about the target",
            target.name
        );
    }
}

/// `count` pingers every 100 ms through `addr`: their p99 (ms), the answered pings per second,
/// and the CPU the process `pid` spent meanwhile (% of one core).
pub(crate) fn pingers(
    addr: SocketAddr,
    count: usize,
    pid: Option<u32>,
    lengths: &Lengths,
) -> io::Result<(f64, f64, Option<f64>)> {
    // Established end to end (one echo each) before the clock starts: a proxy still accepting and
    // spawning would otherwise show up as latency.
    let streams = workloads::idle_connections(addr, count, b'P')?;
    let before = pid.map(counters::read).unwrap_or_default();
    let began = Instant::now();
    let mut run = slow_pingers(streams, Duration::from_millis(100), lengths.pingers)?;
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = pid.map(|pid| before.spent_until(counters::read(pid)).cpu_seconds / elapsed * 100.0);
    if run.lost > 0 || run.skipped > 0 {
        eprintln!(
            "bench: {count} pingers via {addr}: {} turns skipped (the previous ping unanswered), \
             {} pings unanswered 1 s after the end",
            run.skipped, run.lost
        );
    }
    let rate = run.rtts.len() as f64 / lengths.pingers.as_secs_f64();
    let p99 = percentile(&mut run.rtts, 99.0).as_secs_f64() * 1e3;
    Ok((p99, rate, cpu))
}

/// RSS (KiB) and threads each idle pair adds to process `pid`, over 1,000 idle pairs.
fn idle_pair_cost(addr: SocketAddr, pid: u32) -> io::Result<(f64, f64)> {
    const PAIRS: usize = 1000;
    let before = settled_usage(pid);
    let idle = workloads::idle_connections(addr, PAIRS, b'E')?;
    let during = process_usage(pid);
    drop(idle);
    let per_pair = |a: u64, b: u64| b.saturating_sub(a) as f64 / PAIRS as f64;
    Ok((per_pair(before.0, during.0), per_pair(before.1, during.1)))
}

/// `--scale N`: N idle pairs through the proxy at once, its footprint, and 1,000 pingers' p99 on
/// top of them.
pub(crate) fn scale(proxy: &Target, pairs: usize, lengths: &Lengths) -> io::Result<()> {
    let pid = proxy.process.as_ref().map_or(0, Child::id);
    let before = settled_usage(pid);
    let started = Instant::now();
    let idle = workloads::idle_connections(proxy.addr, pairs, b'E')?;
    let opened = started.elapsed();
    let during = process_usage(pid);
    let mappings = |pid: u32| {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        maps.lines().count()
    };
    let mappings_during = mappings(pid);
    let (p99, ..) = pingers(proxy.addr, 1000, None, lengths)?;
    drop(idle);
    println!(
        "scale: {pairs} idle pairs through tcpproxy (opened in {:.1} s): RSS {} -> {} KiB \
         ({:.1} KiB per pair), threads {} -> {}, memory mappings {mappings_during}; then 1,000 \
         pingers every 100 ms on top: p99 {p99:.1} ms",
        opened.as_secs_f64(),
        before.0,
        during.0,
        during.0.saturating_sub(before.0) as f64 / pairs as f64,
        before.1,
        during.1,
    );
    Ok(())
}

/// p50, p99 and p99.9 of round trips, in µs.
fn micros_at(rtts: &mut [Duration]) -> [f64; 3] {
    [50.0, 99.0, 99.9].map(|p| percentile(rtts, p).as_secs_f64() * 1e6)
}

/// The sample at rank `p` (0–100) of `samples`, sorting them; zero if there are none.
fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}
