//! After thousands of connections that end in every way a pair can end, the proxy holds exactly
//! the descriptors and threads it started with, and its memory has not crept up.

use std::io::Write;
use std::net::SocketAddr;
use std::thread;

use crate::kit::client::{self, connect_from, drain, ping, reset, round_trip_with_half_close};
use crate::kit::data::random_bytes;
use crate::kit::procfs::{proc_stats, wait_for_stats};
use crate::kit::proxy::Proxy;
use crate::kit::servers::FaultyDestination;

/// How each test connection ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Normal,
    ClientReset,
    ServerReset,
    Refused,
    HangCut,
    Denied,
}

/// 5,000 connections, in this order and these numbers.
const MIX: [(Ending, usize); 6] = [
    (Ending::Normal, 2000),
    (Ending::ClientReset, 800),
    (Ending::ServerReset, 800),
    (Ending::Refused, 400),
    (Ending::HangCut, 500),
    (Ending::Denied, 500),
];

fn one_connection(proxy: SocketAddr, ending: Ending, i: usize) {
    match ending {
        Ending::Normal => {
            let mut payload = vec![b'N']; // anything but the server's reset command
            payload.extend(random_bytes(i as u64, i % 5000));
            let echoed = round_trip_with_half_close(client::connect(proxy), payload.clone());
            assert!(echoed == payload, "connection {i}: the echo differs");
        }
        Ending::ClientReset => {
            let mut stream = client::connect(proxy);
            ping(&mut stream, b"mid-stream");
            reset(stream);
        }
        Ending::ServerReset | Ending::Refused | Ending::HangCut => {
            let mut stream = client::connect(proxy);
            if matches!(ending, Ending::ServerReset) {
                stream.write_all(b"Reset me").expect("send");
            }
            drain(&mut stream); // returns when the proxy closes us
        }
        Ending::Denied => {
            let mut stream = connect_from("127.0.0.2", proxy).expect("connect from 127.0.0.2");
            assert_eq!(drain(&mut stream), 0);
        }
    }
}

/// Run `count` connections of one kind, 8 at a time (100 for hang cuts, which mostly wait).
fn run_batch(proxy: SocketAddr, ending: Ending, count: usize) {
    let at_once = if matches!(ending, Ending::HangCut) {
        100
    } else {
        8
    };
    let workers: Vec<_> = (0..at_once)
        .map(|w| {
            thread::spawn(move || {
                (w..count)
                    .step_by(at_once)
                    .for_each(|i| one_connection(proxy, ending, i))
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
}

/// The rest of [`MIX`] after the first 100 normal connections, the destination down for the
/// refused ones; how many connections that was.
fn run_the_mix(proxy: SocketAddr, destination: &FaultyDestination) -> usize {
    let mut total = 0;
    for (ending, count) in MIX {
        let count = if matches!(ending, Ending::Normal) {
            count - 100
        } else {
            count
        };
        if matches!(ending, Ending::Refused) {
            destination.down();
        }
        run_batch(proxy, ending, count);
        if matches!(ending, Ending::Refused) {
            destination.up();
        }
        total += count;
    }
    total
}

/// The mix really mixed: every way of ending is in the log.
fn assert_every_ending_was_seen(log: &[String]) {
    for reason in [
        "client EOF+server EOF",
        "client reset",
        "server reset",
        "connect failed",
        "idle timeout",
        "refused 127.0.0.2",
    ] {
        assert!(
            log.iter().any(|l| l.contains(reason)),
            "no connection ended with {reason:?}"
        );
    }
}

#[test]
fn five_thousand_mixed_connections_leave_nothing_behind() {
    let destination = FaultyDestination::start();
    let mut proxy = Proxy::start(
        destination.addr,
        &[
            "--timeout",
            "0.5",
            "--allow",
            "127.0.0.1/32",
            "--allow",
            "::1",
        ],
    );
    let baseline = proc_stats(proxy.pid());
    run_batch(proxy.addr(), Ending::Normal, 100);
    let rss_after_100 = wait_for_stats(proxy.pid(), |s| s.fds == baseline.fds).rss_kib;
    let total = 100 + run_the_mix(proxy.addr(), &destination);
    eprintln!("{total} connections");
    let end = wait_for_stats(proxy.pid(), |s| {
        s.fds == baseline.fds && s.threads == baseline.threads
    });
    assert_every_ending_was_seen(&proxy.log_so_far());
    assert_eq!(
        end.fds, baseline.fds,
        "descriptors: {} now, {} at start",
        end.fds, baseline.fds
    );
    assert_eq!(
        end.threads, baseline.threads,
        "threads: {} now, {} at start",
        end.threads, baseline.threads
    );
    let growth = end.rss_kib as i64 - rss_after_100 as i64;
    eprintln!(
        "after 5000: {} fds, {} threads (start {}, {}); RSS {} KiB, {} KiB after the first 100",
        end.fds, end.threads, baseline.fds, baseline.threads, end.rss_kib, rss_after_100
    );
    assert!(
        growth < 8 * 1024,
        "RSS grew {growth} KiB since the first 100 connections"
    );
}
