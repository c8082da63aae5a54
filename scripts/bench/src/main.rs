//! bench: `make bench` — how fast is tcpproxy, compared with a direct loopback connection measured
//! in the same run (and, when asked for, with the bare relay — tcpproxy's design, two blocking
//! threads per pair, with nothing else — and socat, HAProxy, nginx and rinetd, when installed)?
//!
//! Every figure is measured against each target in turn, round after round (direct, tcpproxy,
//! peers, then again), so a machine that gets busier during the run affects all of them alike; the
//! table shows the median of the rounds. Only ratios within one run mean anything: the load
//! generator, the backend and the proxy share the machine's cores.
//!
//! Usage: bench [--quick] [--rounds N] [--peers] [--proxy PATH] [--scale N | --sweep]
//!
//! This file owns the command line and the run: start the targets, measure each round after round,
//! print the table; with `--peers`, then the real clients' table. `target` starts and stops what
//! is measured through, `peers` the proxies (the bare relay is a program of its own,
//! `bin/bare_relay.rs`), `workloads` the echo backend and the blocking load, `pingers` the epoll
//! load of many slow pingers, `measure` one target's figures (and `--scale`), `sweep` the
//! pingers step by step (`--sweep`), `counters` and `perf` what a workload cost the proxy, `usage`
//! a process's RSS and threads, `steal` what the host took from the machine meanwhile, `table`
//! the output; `clients` runs redis-benchmark and wrk against the servers `origins` starts;
//! `command` runs outside programs with a time limit, in `scratch`'s directory.

mod clients;
mod command;
mod counters;
mod echo_loop;
mod measure;
mod one_core;
mod origins;
mod peers;
mod perf;
mod pingers;
mod scrape;
mod scratch;
mod steal;
mod sweep;
mod table;
mod target;
mod usage;
mod workloads;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use measure::Figures;
use scratch::Scratch;
use target::Target;

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
    /// Instead of the table: pingers through direct and tcpproxy, 500 more at each step, until
    /// tcpproxy answers under 95 % of direct's pings (where thread-per-pair stops keeping up)
    #[arg(long, conflicts_with = "scale")]
    sweep: bool,
    /// Also measure bare-relay (built beside bench: two blocking threads per pair and nothing else,
    /// the floor of tcpproxy's design) and socat, HAProxy, nginx (stream) and rinetd, those that
    /// are installed; then redis-benchmark and wrk through each, against redis-server and nginx
    #[arg(long)]
    peers: bool,
    /// The tcpproxy binary to measure
    #[arg(long, default_value = "target/release/tcpproxy")]
    proxy: String,
}

/// How long each workload runs.
pub(crate) struct Lengths {
    pub(crate) stream: Duration,
    pub(crate) connections: Duration,
    pub(crate) pings: usize,
    pub(crate) pingers: Duration,
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
    let scratch = Scratch::new()?;
    let backend = workloads::start_backend()?;
    let proxies = peers::proxies(&options.proxy, options.peers);
    let mut targets = vec![Target {
        name: "direct".into(),
        addr: backend,
        process: None,
    }];
    for proxy in &proxies {
        targets.push(proxy.start(backend, &scratch)?);
    }
    if let Some(pairs) = options.scale {
        return measure::scale(&targets[1], pairs, &lengths);
    }
    if options.sweep {
        return sweep::sweep(&targets[0], &targets[1], &lengths);
    }
    let mut results: Vec<Vec<Figures>> = vec![Vec::new(); targets.len()];
    for round in 1..=rounds {
        for (i, target) in targets.iter().enumerate() {
            eprintln!("bench: round {round}/{rounds}: {}", target.name);
            results[i].push(measure::measure(target, &lengths, &scratch)?);
        }
    }
    table::print_table(&targets, &results, rounds);
    drop(targets); // stopped by pid before the real clients start their own
    if options.peers {
        clients::run(&proxies, &scratch, rounds, options.quick)?;
    }
    Ok(())
}
