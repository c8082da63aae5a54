//! bench: `make bench` — how fast is tcpproxy, compared with a direct loopback connection measured
//! in the same run (and with socat, HAProxy and nginx, when installed and asked for)?
//!
//! Every figure is measured against each target in turn, round after round (direct, tcpproxy,
//! peers, then again), so a machine that gets busier during the run affects all of them alike; the
//! table shows the median of the rounds. Only ratios within one run mean anything: the load
//! generator, the backend and the proxy share the machine's cores.
//!
//! Usage: bench [--quick] [--rounds N] [--peers] [--proxy PATH] [--scale N]

mod peers;
mod workloads;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// Measure tcpproxy against a direct loopback connection.
#[derive(Parser)]
#[command(name = "bench")]
struct Options {
    /// Shorter runs, one round: under a minute, for a quick look
    #[arg(long)]
    quick: bool,
    /// Rounds to take the median of [default: 3, or 1 with --quick]
    #[arg(long)]
    rounds: Option<usize>,
    /// Instead of the table: hold N idle pairs through tcpproxy at once and report its RSS and
    /// threads, then the p99 of 1,000 pingers among them
    #[arg(long, value_name = "N")]
    scale: Option<usize>,
    /// Also measure socat, HAProxy and nginx (stream), those that are installed
    #[arg(long)]
    peers: bool,
    /// The tcpproxy binary to measure
    #[arg(long, default_value = "target/release/tcpproxy")]
    proxy: String,
}

/// How long each workload runs.
struct Lengths {
    stream: Duration,
    connections: Duration,
    pings: usize,
    pingers: Duration,
}

/// One thing measured through: a name, an address, and the process behind it (none for direct).
pub(crate) struct Target {
    name: String,
    addr: SocketAddr,
    process: Option<Child>,
}

impl Drop for Target {
    /// SIGTERM first, so a peer with worker processes (nginx) takes them down with it; SIGKILL
    /// only if it has not gone within two seconds.
    fn drop(&mut self) {
        let Some(child) = &mut self.process else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20)); // no event to wait on for another's exit
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The figures of one target in one round.
#[derive(Default, Clone)]
struct Figures {
    upload_gbps: f64,
    download_gbps: f64,
    eight_streams_gbps: f64,
    connections_per_s: f64,
    connection_p50_us: f64,
    connection_p99_us: f64,
    rtt_p50_us: f64,
    rtt_p99_us: f64,
    rtt_p999_us: f64,
    pingers_1000_p99_ms: f64,
    pingers_4000_p99_ms: f64,
    rss_per_idle_pair_kib: Option<f64>,
    threads_per_idle_pair: Option<f64>,
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> io::Result<()> {
    let lengths = if options.quick {
        Lengths {
            stream: Duration::from_millis(500),
            connections: Duration::from_millis(500),
            pings: 2000,
            pingers: Duration::from_secs(1),
        }
    } else {
        Lengths {
            stream: Duration::from_secs(2),
            connections: Duration::from_secs(1),
            pings: 10_000,
            pingers: Duration::from_secs(3),
        }
    };
    let rounds = options.rounds.unwrap_or(if options.quick { 1 } else { 3 });
    let backend = workloads::start_backend()?;
    let mut targets = vec![Target {
        name: "direct".into(),
        addr: backend,
        process: None,
    }];
    targets.push(start_proxy(
        "tcpproxy",
        Command::new(&options.proxy),
        backend,
        |port, backend| {
            vec![
                "-q".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                "127.0.0.1".into(),
                backend.to_string(),
                port.to_string(),
            ]
        },
    )?);
    targets.push(start_proxy(
        "tcpproxy splice",
        Command::new(&options.proxy),
        backend,
        |port, backend| {
            // 4,000 pairs' sockets leave the 20,000-descriptor limit room for ~6,000 pipes.
            let mut args = vec![
                "--copy-mode".into(),
                "splice".into(),
                "--max-connections".into(),
                "4000".into(),
            ];
            args.extend([
                "-q".into(),
                "--bind".into(),
                "127.0.0.1".into(),
                "127.0.0.1".into(),
            ]);
            args.extend([backend.to_string(), port.to_string()]);
            args
        },
    )?);
    let scratch = peers::Scratch::new()?;
    if options.peers {
        targets.extend(peers::start_all(backend, &scratch)?);
    }
    if let Some(pairs) = options.scale {
        return scale(&targets[1], pairs, &lengths);
    }
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); targets.len()];
    for round in 1..=rounds {
        for (i, target) in targets.iter().enumerate() {
            eprintln!("bench: round {round}/{rounds}: {}", target.name);
            results[i].push(measure(target, &lengths)?);
        }
    }
    print_table(&targets, &results, rounds);
    Ok(())
}

/// Start a proxy on a free loopback port in front of `backend`, and wait until it accepts.
pub(crate) fn start_proxy(
    name: &str,
    mut command: Command,
    backend: SocketAddr,
    arguments: impl Fn(u16, u16) -> Vec<String>,
) -> io::Result<Target> {
    // A port the kernel just gave us and we let go: peers cannot take port 0 and say which they got.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = command
        .args(arguments(port, backend.port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::other(format!("cannot start {name}: {e}")))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let target = Target {
        name: name.into(),
        addr,
        process: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!("{name} did not listen on {addr}")));
        }
        thread::sleep(Duration::from_millis(20)); // polling for a listener that has no other signal
    }
    Ok(target)
}

fn measure(target: &Target, lengths: &Lengths) -> io::Result<Figures> {
    let addr = target.addr;
    let mut figures = Figures {
        upload_gbps: workloads::throughput(addr, b'U', 1, lengths.stream)?,
        download_gbps: workloads::throughput(addr, b'D', 1, lengths.stream)?,
        eight_streams_gbps: workloads::throughput(addr, b'U', 8, lengths.stream)?,
        ..Figures::default()
    };
    let (rate, mut times) = workloads::short_connections(addr, 8, lengths.connections)?;
    figures.connections_per_s = rate;
    figures.connection_p50_us = percentile(&mut times, 50.0).as_secs_f64() * 1e6;
    figures.connection_p99_us = percentile(&mut times, 99.0).as_secs_f64() * 1e6;
    let mut rtts = workloads::ping_pong(addr, lengths.pings)?;
    figures.rtt_p50_us = percentile(&mut rtts, 50.0).as_secs_f64() * 1e6;
    figures.rtt_p99_us = percentile(&mut rtts, 99.0).as_secs_f64() * 1e6;
    figures.rtt_p999_us = percentile(&mut rtts, 99.9).as_secs_f64() * 1e6;
    let interval = Duration::from_millis(100);
    for (pingers, slot) in [
        (1000, &mut figures.pingers_1000_p99_ms),
        (4000, &mut figures.pingers_4000_p99_ms),
    ] {
        let mut rtts = workloads::slow_pingers(addr, pingers, interval, lengths.pingers)?;
        *slot = percentile(&mut rtts, 99.0).as_secs_f64() * 1e3;
    }
    if let Some(child) = &target.process {
        let (rss, threads) = idle_pair_cost(addr, child.id())?;
        figures.rss_per_idle_pair_kib = Some(rss);
        figures.threads_per_idle_pair = Some(threads);
    }
    Ok(figures)
}

/// RSS (KiB) and threads each idle pair adds to process `pid`, over 1,000 idle pairs.
fn idle_pair_cost(addr: SocketAddr, pid: u32) -> io::Result<(f64, f64)> {
    const PAIRS: usize = 1000;
    let before = settled_usage(pid);
    let idle = workloads::idle_connections(addr, PAIRS)?;
    let during = process_usage(pid);
    drop(idle);
    let per_pair = |a: u64, b: u64| b.saturating_sub(a) as f64 / PAIRS as f64;
    Ok((per_pair(before.0, during.0), per_pair(before.1, during.1)))
}

/// `--scale N`: N idle pairs through the proxy at once, its footprint, and 1,000 pingers' p99 on
/// top of them.
fn scale(proxy: &Target, pairs: usize, lengths: &Lengths) -> io::Result<()> {
    let pid = proxy.process.as_ref().map_or(0, Child::id);
    let before = settled_usage(pid);
    let started = Instant::now();
    let idle = workloads::idle_connections(proxy.addr, pairs)?;
    let opened = started.elapsed();
    let during = process_usage(pid);
    let mappings = |pid: u32| {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        maps.lines().count()
    };
    let mappings_during = mappings(pid);
    let mut rtts = workloads::slow_pingers(
        proxy.addr,
        1000,
        Duration::from_millis(100),
        lengths.pingers,
    )?;
    let p99 = percentile(&mut rtts, 99.0).as_secs_f64() * 1e3;
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

/// Usage once the process is quiet: tcpproxy keeps finished pair threads parked for 2 s in case
/// new pairs come, and threads that new pairs reuse would hide the cost of a pair. So wait until the
/// thread count has not changed for 3 s (at most 10 s).
fn settled_usage(pid: u32) -> (u64, u64) {
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut usage = process_usage(pid);
    let mut unchanged_since = Instant::now();
    while unchanged_since.elapsed() < Duration::from_secs(3) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(100));
        let now = process_usage(pid);
        if now.1 != usage.1 {
            unchanged_since = Instant::now();
        }
        usage = now;
    }
    usage
}

/// (RSS in KiB, threads) of a process, from /proc.
/// Summed over the process and its descendants: nginx's workers and socat's per-connection
/// children are where their memory is.
fn process_usage(pid: u32) -> (u64, u64) {
    let (mut rss, mut threads) = one_process_usage(pid);
    for child in children(pid) {
        let (child_rss, child_threads) = process_usage(child);
        rss += child_rss;
        threads += child_threads;
    }
    (rss, threads)
}

/// The children of every thread of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn one_process_usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The markdown table: one row per figure, per target its median and, beside the direct column,
/// its ratio to direct (or the latency it adds).
fn print_table(targets: &[Target], results: &[Vec<Figures>], rounds: usize) {
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
