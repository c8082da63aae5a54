//! The proxy survives exhaustion, abuse and hostile peers, and lets in only who belongs.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain, ping, reset};
use crate::kit::process::{command, run_to_exit, with_open_file_limit, KillOnDrop};
use crate::kit::procfs::{open_file_limit, proc_stats, set_open_file_limit, wait_for_stats};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, holding_server, serve, DeafDestination};
use crate::kit::PATIENCE;

#[test]
fn descriptor_exhaustion_is_survived_without_spinning() {
    let mut proxy = Proxy::start(echo_server(), &[]);
    let mut early: Vec<TcpStream> = (0..5).map(|_| proxy.connect()).collect();
    for client in &mut early {
        ping(client, b"before the shortage");
    }
    // An operator lowers the limit under the running proxy: ~64 descriptors for 200 clients.
    set_open_file_limit(proxy.pid(), 64);
    let flood: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(proxy.addr()).expect("connect"))
        .collect();
    proxy.wait_for_log("Too many open files");

    let before = proc_stats(proxy.pid());
    let window = Instant::now();
    thread::sleep(Duration::from_secs(2)); // a measuring window, not a synchronisation
    let cpu = proc_stats(proxy.pid()).cpu - before.cpu;
    assert!(
        cpu < Duration::from_millis(300),
        "the proxy burned {cpu:?} of CPU in 2 s while starved"
    );
    let log = proxy.log_so_far();
    let accept_errors = log.iter().filter(|l| l.contains("accept failed")).count();
    let connect_failures = log.iter().filter(|l| l.contains("connect failed")).count();
    eprintln!("starved: {cpu:?} CPU in 2 s, {accept_errors} accept-error lines, {connect_failures} failed connects");
    assert!(accept_errors >= 1, "the shortage never reached accept");
    let seconds = window.elapsed().as_secs() as usize + 2;
    assert!(
        accept_errors <= seconds + 1,
        "{accept_errors} accept-error lines in about {seconds} s"
    );

    for client in &mut early {
        ping(client, b"during the shortage");
    }
    drop(flood);
    // Once the proxy has seen every flood client leave (pairs 6 to 205, each with its close line,
    // written after its sockets are closed), a newcomer is served normally.
    for id in 6..=205 {
        proxy.wait_for_log(&format!("pair {id} 127.0.0.1:"));
    }
    let mut newcomer = proxy.connect();
    ping(&mut newcomer, b"after the shortage");
}

#[test]
fn soft_open_file_limit_is_raised_to_the_hard_limit() {
    let mut command = command(&["-v", "127.0.0.1", "80", "0"]);
    let mut proxy = Proxy::spawn(with_open_file_limit(&mut command, 256, 1024));
    assert_eq!(open_file_limit(proxy.pid()), ["1024", "1024"]);
    let log = proxy.log_so_far().join("\n");
    assert!(
        log.contains("raised the open-file limit from 256 to 1024"),
        "{log}"
    );
    assert!(
        log.contains("max 496 pairs"),
        "default = (1024 - 32) / 2: {log}"
    );
}

#[test]
fn max_connections_beyond_the_open_file_limit_is_refused_at_start() {
    let args = ["--max-connections", "600", "127.0.0.1", "80", "0"];
    let exit = KillOnDrop::spawn(with_open_file_limit(&mut command(&args), 1024, 1024)).finish();
    let stderr = exit.stderr;
    assert_eq!(exit.status, Some(1), "{stderr}");
    assert!(
        stderr.contains("--max-connections 600 needs 1232 open files, but the limit is 1024"),
        "{stderr}"
    );
}

#[test]
fn refusals_of_a_scan_are_logged_at_most_once_a_second() {
    let mut proxy = Proxy::start(echo_server(), &["--allow", "127.0.0.1/32"]);
    let started = Instant::now();
    for _ in 0..30 {
        let mut outsider = connect_from("127.0.0.2", proxy.addr()).expect("connect from 127.0.0.2");
        assert_eq!(
            drain(&mut outsider),
            0,
            "an outsider must be closed at once"
        );
    }
    let mut insider = proxy.connect();
    ping(&mut insider, b"member");
    // The accept thread logged every refusal before it took the insider, whose close line comes
    // after: once it is here, so is every refusal line.
    drop(insider);
    proxy.wait_for_log("closed:");
    let refused = proxy
        .log_so_far()
        .iter()
        .filter(|l| l.contains("refused 127.0.0.2"))
        .count();
    let allowed = started.elapsed().as_secs() as usize + 1;
    assert!(
        (1..=allowed).contains(&refused),
        "{refused} refusal lines for 30 refusals"
    );
}

#[test]
fn a_thousand_silent_clients_are_reclaimed_while_a_good_client_is_served() {
    let mut proxy = Proxy::start(echo_server(), &["--timeout", "1"]);
    let baseline = proc_stats(proxy.pid());
    let mut good = proxy.connect();
    let silent: Vec<TcpStream> = (0..1000).map(|_| proxy.connect()).collect();
    let pinger = thread::spawn(move || {
        let mut slowest = Duration::ZERO;
        for round in 0..40 {
            slowest = slowest.max(ping(&mut good, format!("round {round}").as_bytes()));
            thread::sleep(Duration::from_millis(50)); // pacing: a request every ~50 ms for ~2 s
        }
        slowest
    });
    for mut client in silent {
        assert_eq!(drain(&mut client), 0, "a silent client got data");
    }
    let slowest = pinger.join().expect("pinger");
    assert!(
        slowest < Duration::from_secs(1),
        "the good client waited {slowest:?}"
    );

    // Every pair's close line (good is pair 1, the silent ones 2 to 1001), in whatever order.
    for id in 2..=1001 {
        proxy.wait_for_log(&format!("pair {id} 127.0.0.1:"));
    }
    let log = proxy.log_so_far();
    let idle_cuts: Vec<f64> = log
        .iter()
        .filter(|l| l.contains("closed: idle timeout"))
        .filter_map(|l| l.rsplit(", ").next()?.trim_end_matches(" s").parse().ok())
        .collect();
    assert_eq!(
        idle_cuts.len(),
        1000,
        "every silent client is cut by the idle rule"
    );
    let longest = idle_cuts.iter().cloned().fold(0.0, f64::max);
    let mut sorted = idle_cuts.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "idle cuts: min {:.2} median {:.2} p99 {:.2} max {longest:.2}",
        sorted[0], sorted[500], sorted[990]
    );
    assert!(
        longest <= 2.0,
        "a silent pair lived {longest} s; the rule allows T + 1 = 2 s"
    );
    let end = wait_for_stats(proxy.pid(), |s| {
        s.fds <= baseline.fds + 2 && s.threads <= baseline.threads + 2
    });
    assert!(
        end.fds <= baseline.fds + 2,
        "{} descriptors, baseline {}",
        end.fds,
        baseline.fds
    );
    assert!(
        end.threads <= baseline.threads + 2,
        "{} threads, baseline {}",
        end.threads,
        baseline.threads
    );
}

#[test]
fn a_client_pushing_into_a_destination_that_never_reads_costs_no_memory() {
    let (server, accepted) = holding_server();
    let proxy = Proxy::start(server, &["--timeout", "0"]); // no hang rule: the pair stays stuck
    let mut client = proxy.connect();
    let _deaf = accepted.recv_timeout(PATIENCE).expect("server accepted");
    let before = proc_stats(proxy.pid()).rss_kib;
    client
        .set_write_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let chunk = vec![b'p'; 1024 * 1024];
    let mut pushed = 0u64;
    // Try to push 1 GiB; the proxy's backpressure stops us once the kernel buffers are full.
    while pushed < 1 << 30 {
        match client.write(&chunk) {
            Ok(n) => pushed += n as u64,
            Err(_) => break,
        }
    }
    let grown = proc_stats(proxy.pid()).rss_kib.saturating_sub(before);
    assert!(pushed < 1 << 30, "the whole GiB went somewhere");
    assert!(
        grown < 16 * 1024,
        "RSS grew {grown} KiB after {pushed} bytes pushed"
    );
}

#[test]
fn destination_that_closes_at_once_closes_the_client() {
    let server = serve(drop);
    let mut proxy = Proxy::start(server, &[]);
    let started = Instant::now();
    let mut client = proxy.connect();
    assert_eq!(drain(&mut client), 0);
    assert!(started.elapsed() < Duration::from_secs(1));
    client.shutdown(Shutdown::Write).expect("our EOF");
    proxy.wait_for_log("closed: client EOF+server EOF");
}

#[test]
fn destination_that_resets_at_once_closes_the_client() {
    let server = serve(reset);
    let mut proxy = Proxy::start(server, &[]);
    let started = Instant::now();
    let mut client = proxy.connect();
    drain(&mut client);
    assert!(started.elapsed() < Duration::from_secs(1));
    // The reset may come before the connect's own check of the socket (std's `connect_timeout`
    // polls, then reads SO_ERROR): then the connect itself failed, with that reset.
    let line = proxy.wait_for_log("closed: ");
    assert!(
        line.contains("closed: server reset")
            || line.contains("closed: connect failed") && line.contains("reset by peer"),
        "{line}"
    );
}

#[test]
fn destination_that_never_answers_the_syn_is_given_up_after_the_connect_timeout() {
    let deaf = DeafDestination::start();
    let mut proxy = Proxy::start(deaf.addr, &["--connect-timeout", "1"]);
    let started = Instant::now();
    // Five at once: each waits out its own timeout in parallel, not one after another.
    let clients: Vec<TcpStream> = (0..5).map(|_| proxy.connect()).collect();
    for mut client in clients {
        assert_eq!(drain(&mut client), 0);
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    let line = proxy.wait_for_log("connect failed");
    assert!(line.contains("timed out"), "{line}");
}

#[test]
fn max_connections_beyond_the_memory_map_limit_is_refused_at_start() {
    // Each pair needs eight mappings (two thread stacks with guards, two signal stacks with
    // guards; the buffers share one pool); asking for one pair more than vm.max_map_count allows
    // must be refused, because a thread that cannot map its signal stack aborts the process.
    let map_count: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .expect("read vm.max_map_count")
        .trim()
        .parse()
        .expect("a number");
    let too_many = (map_count - 1000) / 8 + 1;
    let files = 32 + 2 * too_many + 100; // enough descriptors, so only the mappings can refuse
    let args_owned = ["--max-connections".to_string(), too_many.to_string()];
    let args: Vec<&str> = args_owned
        .iter()
        .map(String::as_str)
        .chain(["127.0.0.1", "80", "0"])
        .collect();
    let exit = KillOnDrop::spawn(with_open_file_limit(&mut command(&args), files, files)).finish();
    let stderr = exit.stderr;
    assert_eq!(exit.status, Some(1), "{stderr}");
    assert!(stderr.contains("vm.max_map_count"), "{stderr}");
}

#[test]
fn max_connections_refusal_suggests_a_value_that_starts() {
    // Whatever limits this machine has (the proxy raises its soft open-file limit to the hard
    // one; vm.max_map_count may be the lower budget), the number it suggests must be one it takes.
    let port = echo_server().port().to_string();
    let args = |n: &str| {
        [
            "--max-connections".to_string(),
            n.into(),
            "127.0.0.1".into(),
            port.clone(),
            "0".into(),
        ]
    };
    let refusal = run_to_exit(&args("99999999"));
    assert_eq!(refusal.status, Some(1), "{}", refusal.stderr);
    let suggested: u64 = refusal
        .stderr
        .split("at most ")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no 'at most N' in: {}", refusal.stderr));
    let mut proxy = Proxy::start_raw(&args(&suggested.to_string()));
    ping(&mut proxy.connect(), b"the suggested limit works");
    proxy.wait_for_log(&format!("max {suggested} pairs"));
    drop(proxy);
    let one_more = run_to_exit(&args(&(suggested + 1).to_string()));
    assert_eq!(
        one_more.status,
        Some(1),
        "{} is more than the suggested {suggested}: {}",
        suggested + 1,
        one_more.stderr
    );
}
