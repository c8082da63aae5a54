//! `make soak`: ten minutes of mixed load with random faults against the release build, checking
//! every byte of every good connection. Not part of `make test` (it is `#[ignore]`d); its one-line
//! summary is the thing to read. `SOAK_SECONDS` sets the length (default 600). By hand:
//! `cargo test --release --test proxy soak:: -- --ignored --nocapture`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain, reset, round_trip_with_half_close, try_connect};
use crate::kit::data::{random_bytes, Rng};
use crate::kit::procfs::{proc_stats, wait_for_stats, ProcStats};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{dead_address, FaultyDestination};

/// Client threads running at once.
const WORKERS: usize = 16;

/// Counters shared by the workers.
#[derive(Default)]
struct Tally {
    good: AtomicU64,
    bytes: AtomicU64,
    client_resets: AtomicU64,
    server_resets: AtomicU64,
    refused: AtomicU64,
    hangs: AtomicU64,
    denied: AtomicU64,
    integrity_errors: AtomicU64,
}

/// FNV-1a, 64 bits: enough to tell two byte streams apart, and ten lines of std.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn good_connection(proxy: SocketAddr, rng: &mut Rng, tally: &Tally) {
    let len = 1 + rng.below(1 << 20) as usize;
    let mut payload = vec![b'N'];
    payload.extend(random_bytes(rng.below(u64::MAX), len));
    let sent_hash = fnv1a(&payload);
    let Ok(stream) = try_connect(proxy) else {
        tally.integrity_errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let echoed = round_trip_with_half_close(stream, payload);
    if fnv1a(&echoed) == sent_hash {
        tally.good.fetch_add(1, Ordering::Relaxed);
        tally
            .bytes
            .fetch_add(2 * echoed.len() as u64, Ordering::Relaxed);
    } else {
        tally.integrity_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// One connection with a fault chosen at random (70% none).
fn one_connection(proxy: SocketAddr, dead_proxy: SocketAddr, rng: &mut Rng, tally: &Tally) {
    let connect = try_connect;
    match rng.below(100) {
        0..=69 => good_connection(proxy, rng, tally),
        70..=75 => {
            if let Ok(mut s) = connect(proxy) {
                let _ = s.write_all(&random_bytes(rng.below(1000), 100_000));
                reset(s);
            }
            tally.client_resets.fetch_add(1, Ordering::Relaxed);
        }
        76..=81 => {
            if let Ok(mut s) = connect(proxy) {
                let _ = s.write_all(b"Reset me");
                drain(&mut s);
            }
            tally.server_resets.fetch_add(1, Ordering::Relaxed);
        }
        82..=87 => {
            if let Ok(mut s) = connect(dead_proxy) {
                let _ = s.write_all(b"anyone there?");
                drain(&mut s);
            }
            tally.refused.fetch_add(1, Ordering::Relaxed);
        }
        88..=93 => {
            if let Ok(mut s) = connect(proxy) {
                drain(&mut s); // say nothing until the hang rule cuts us
            }
            tally.hangs.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            if let Ok(mut s) = connect_from("127.0.0.2", proxy) {
                let _ = s.shutdown(Shutdown::Write);
                let _ = s.read(&mut [0u8; 1]);
            }
            tally.denied.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The soak's one summary line.
fn report(seconds: u64, tally: &Tally, start: &ProcStats, end: &ProcStats) {
    let t = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let faults = t(&tally.client_resets)
        + t(&tally.server_resets)
        + t(&tally.refused)
        + t(&tally.hangs)
        + t(&tally.denied);
    println!(
        "soak: {seconds} s, {} connections ({} good, {:.2} GiB relayed and checked), {faults} faults injected \
         (client RST {}, server RST {}, refused {}, hang {}, denied {}), {} integrity errors, \
         RSS {} -> {} KiB, descriptors {} -> {}, threads {} -> {}",
        t(&tally.good) + faults,
        t(&tally.good),
        t(&tally.bytes) as f64 / (1u64 << 30) as f64,
        t(&tally.client_resets),
        t(&tally.server_resets),
        t(&tally.refused),
        t(&tally.hangs),
        t(&tally.denied),
        t(&tally.integrity_errors),
        start.rss_kib,
        end.rss_kib,
        start.fds,
        end.fds,
        start.threads,
        end.threads,
    );
}

#[test]
#[ignore = "ten minutes; run with `make soak`"]
fn soak() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let destination = FaultyDestination::start();
    let allow = [
        "--timeout",
        "1",
        "--allow",
        "127.0.0.1/32",
        "--allow",
        "::1",
    ];
    let proxy = Proxy::start(destination.addr, &allow);
    let dead_proxy = Proxy::start(dead_address(), &["--timeout", "1"]);
    let start = proc_stats(proxy.pid());
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..WORKERS as u64)
        .map(|w| {
            let (tally, to, dead) = (Arc::clone(&tally), proxy.addr(), dead_proxy.addr());
            thread::spawn(move || {
                let mut rng = Rng::new(w + 1);
                while Instant::now() < deadline {
                    one_connection(to, dead, &mut rng, &tally);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let end = wait_for_stats(proxy.pid(), |s| {
        s.fds == start.fds && s.threads == start.threads
    });
    report(seconds, &tally, &start, &end);
    let t = |c: &AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(t(&tally.integrity_errors), 0);
    assert_eq!((end.fds, end.threads), (start.fds, start.threads));
}
