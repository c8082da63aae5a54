//! `--peers`' real clients, as ratios to direct: redis-benchmark against redis-server (50 clients,
//! SET and GET) and wrk against nginx serving a small file (50 keep-alive connections, and the same
//! with `Connection: close`), through each proxy and directly, round after round. The servers and
//! the proxies in front of them are started for this part only and stopped by pid after it.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::command::{installed, run_bounded};
use crate::origins::{start_http, start_redis, SMALL_FILE};
use crate::peers::Proxy;
use crate::scratch::Scratch;
use crate::steal;
use crate::table::{format_value, median};
use crate::target::Target;

/// One client run's figure for each of the rows: requests per second (NaN if not run), then the
/// CPU time the host took meanwhile (see `steal`), which gets no ratio.
type Row = [f64; 5];
const STEAL: usize = 4;
const LABELS: [&str; 5] = [
    "wrk, keep-alive, 50 connections (requests/s)",
    "wrk, `Connection: close`, 50 connections (requests/s)",
    "redis-benchmark, 50 clients, SET (requests/s)",
    "redis-benchmark, 50 clients, GET (requests/s)",
    "CPU time the host took meanwhile (steal, %)",
];

/// Measure the real clients through `proxies` (socat aside: a fork per connection measures fork)
/// and print their table; a note instead where the clients or servers are not installed.
pub(crate) fn run(
    proxies: &[Proxy],
    scratch: &Scratch,
    rounds: usize,
    quick: bool,
) -> io::Result<()> {
    let redis = installed("redis-server").zip(installed("redis-benchmark"));
    let http = installed("nginx").zip(installed("wrk"));
    if redis.is_none() && http.is_none() {
        println!("\nReal clients: redis-server, redis-benchmark, nginx or wrk missing (`make bench-deps`).");
        return Ok(());
    }
    let redis_server = redis
        .as_ref()
        .map(|(s, _)| start_redis(s, scratch))
        .transpose()?;
    let http_server = http
        .as_ref()
        .map(|(s, _)| start_http(s, scratch))
        .transpose()?;
    // Per column: a name and the (redis, http) addresses it is reached at.
    let mut columns: Vec<(String, Option<SocketAddr>, Option<SocketAddr>)> = vec![(
        "direct".into(),
        redis_server.as_ref().map(|t| t.addr),
        http_server.as_ref().map(|t| t.addr),
    )];
    let mut running: Vec<Target> = Vec::new();
    for proxy in proxies.iter().filter(|p| !matches!(p, Proxy::Socat(_))) {
        let mut front = |origin: &Option<Target>| -> io::Result<Option<SocketAddr>> {
            let Some(origin) = origin else {
                return Ok(None);
            };
            let target = proxy.start(origin.addr, scratch)?;
            let addr = target.addr;
            running.push(target);
            Ok(Some(addr))
        };
        let redis_addr = front(&redis_server)?;
        let http_addr = front(&http_server)?;
        columns.push((proxy.name().into(), redis_addr, http_addr));
    }
    let seconds = if quick { 1 } else { 3 };
    let requests = if quick { 20_000 } else { 100_000 };
    let mut results: Vec<Vec<Row>> = vec![Vec::new(); columns.len()];
    for round in 1..=rounds {
        for (i, (name, redis_addr, http_addr)) in columns.iter().enumerate() {
            eprintln!("bench: real clients, round {round}/{rounds}: {name}");
            let mut row = [f64::NAN; 5];
            let began = steal::now();
            if let (Some(addr), Some((_, wrk))) = (http_addr, &http) {
                row[0] = run_wrk(wrk, *addr, false, seconds, scratch)?;
                row[1] = run_wrk(wrk, *addr, true, seconds, scratch)?;
            }
            if let (Some(addr), Some((_, benchmark))) = (redis_addr, &redis) {
                [row[2], row[3]] = run_redis_benchmark(benchmark, *addr, requests, scratch)?;
            }
            row[STEAL] = began.steal_percent_until(steal::now()).unwrap_or(f64::NAN);
            results[i].push(row);
        }
    }
    drop(running);
    print_table(&columns, &results, rounds);
    Ok(())
}

/// wrk's requests per second from 2 threads and 50 connections for `seconds`.
fn run_wrk(
    wrk: &Path,
    addr: SocketAddr,
    close: bool,
    seconds: u64,
    scratch: &Scratch,
) -> io::Result<f64> {
    let mut command = Command::new(wrk);
    command.args(["-t2", "-c50", &format!("-d{seconds}s"), "--timeout", "5s"]);
    if close {
        command.args(["-H", "Connection: close"]);
    }
    command.arg(format!("http://{addr}/{SMALL_FILE}"));
    let output = scratch.path().join("wrk.out");
    let text = run_bounded(command, &output, Duration::from_secs(seconds + 30))?;
    if let Some(errors) = text
        .lines()
        .find(|l| l.contains("Socket errors") || l.contains("Non-2xx"))
    {
        eprintln!("bench: wrk via {addr}: {}", errors.trim());
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("wrk printed no Requests/sec: {text}")))
}

/// redis-benchmark's SET and GET requests per second, 50 clients, `requests` each, `-q`.
fn run_redis_benchmark(
    program: &Path,
    addr: SocketAddr,
    requests: usize,
    scratch: &Scratch,
) -> io::Result<[f64; 2]> {
    let mut command = Command::new(program);
    command.args([
        "-h",
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "-c",
        "50",
    ]);
    command.args(["-n", &requests.to_string(), "-t", "set,get", "-q"]);
    let output = scratch.path().join("redis-benchmark.out");
    let text = run_bounded(command, &output, Duration::from_secs(120))?;
    // -q overwrites a progress line with '\r' and ends each test with "SET: 123.4 requests per second, ...".
    let rate = |test: &str| {
        text.split(['\r', '\n'])
            .filter(|l| l.contains("requests per second"))
            .find_map(|l| {
                l.strip_prefix(test)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .ok_or_else(|| {
                io::Error::other(format!("redis-benchmark printed no {test} rate: {text}"))
            })
    };
    Ok([rate("SET:")?, rate("GET:")?])
}

/// The real clients' table: direct's requests per second, then each proxy's and its ratio to direct.
fn print_table(
    columns: &[(String, Option<SocketAddr>, Option<SocketAddr>)],
    results: &[Vec<Row>],
    rounds: usize,
) {
    println!("\nReal clients, median of {rounds} round(s); ratio = through the proxy / direct, same run.\n");
    let mut header = String::from("| client |");
    let mut rule = String::from("|---|");
    for (i, (name, ..)) in columns.iter().enumerate() {
        header += &format!(" {name} |");
        rule += "---|";
        if i > 0 {
            header += " vs direct |";
            rule += "---|";
        }
    }
    println!("{header}\n{rule}");
    for (row, label) in LABELS.iter().enumerate() {
        let value = |i: usize| median(results[i].iter().map(|r| r[row]));
        let direct = value(0);
        let mut line = format!("| {label} |");
        for i in 0..columns.len() {
            line += &format!(" {} |", format_value(value(i)));
            if i > 0 && row == STEAL {
                line += " — |";
            } else if i > 0 {
                let ratio = value(i) / direct;
                line += &format!(
                    " {} |",
                    if ratio.is_finite() {
                        format!("{ratio:.2}×")
                    } else {
                        "—".into()
                    }
                );
            }
        }
        println!("{line}");
    }
}
