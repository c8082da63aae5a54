//! The live stats table (SIGUSR1, `--stats-interval`): one row per pair with what each direction is
//! doing, and the proxy's totals.

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain, ping};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo_server, frozen_and_idle_pairs, holding_server};
use crate::kit::PATIENCE;

/// The row of pair `id` in `table`, split into its cells' words.
fn row(table: &[String], id: u64) -> String {
    table
        .iter()
        .skip(2)
        .find(|line| line.split_whitespace().next() == Some(&id.to_string()))
        .unwrap_or_else(|| panic!("no row for pair {id} in:\n{}", table.join("\n")))
        .clone()
}

/// "writing, blocked 1.2 s, 160.0 KiB pending" -> 1.2
fn blocked_seconds(row: &str) -> Option<f64> {
    row.split("blocked ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

#[test]
fn table_shows_a_frozen_client_an_idle_pair_and_a_half_closed_pair() {
    let (server, accepted) = holding_server();
    let mut proxy = Proxy::start(server, &["--timeout", "30"]);

    // Pair 1 frozen (its client never reads while its server floods it), pair 2 idle.
    let (frozen, idle, _idle_server) = frozen_and_idle_pairs(proxy.addr(), &accepted);

    // Pair 3: the client is done sending; the server has not answered yet.
    let half = proxy.connect();
    let mut half_server = accepted
        .recv_timeout(PATIENCE)
        .expect("pair 3 at the server");
    half.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(half_server.read(&mut [0u8; 1]).expect("EOF"), 0);

    let table = proxy.stats_table_when(|t| {
        blocked_seconds(&row(t, 1)).is_some_and(|s| s >= 1.0) && row(t, 3).contains("half-closed")
    });
    eprintln!("{}", table.join("\n"));
    assert!(
        table[0].contains("stats: 3 pairs live, 0 served"),
        "{}",
        table[0]
    );
    assert!(table[1].contains("pair") && table[1].contains("c->s") && table[1].contains("s->c"));

    let frozen_row = row(&table, 1);
    let c2s = frozen_row.find("reading").expect("pair 1 c->s reading");
    let s2c = frozen_row
        .find("writing, blocked")
        .expect("pair 1 s->c writing");
    assert!(c2s < s2c, "c->s column comes first: {frozen_row}");
    let blocked = blocked_seconds(&frozen_row).expect("blocked for");
    assert!((1.0..30.0).contains(&blocked), "{frozen_row}");
    assert!(frozen_row.contains(" pending"), "{frozen_row}");
    assert!(!frozen_row.contains(", 0 B pending"), "{frozen_row}");

    let idle_row = row(&table, 2);
    assert_eq!(idle_row.matches("reading").count(), 2, "{idle_row}");

    let half_row = row(&table, 3);
    let closed = half_row
        .find("half-closed")
        .expect("pair 3 c->s half-closed");
    let reading = half_row.find("reading").expect("pair 3 s->c reading");
    assert!(closed < reading, "{half_row}");
    drop((frozen, idle, half));
}

#[test]
fn totals_count_refusals_hangs_and_served_pairs() {
    let mut proxy = Proxy::start(echo_server(), &["--timeout", "0.5", "--allow", "127.0.0.1"]);
    let mut stranger = connect_from("127.0.0.3", proxy.addr()).expect("connect");
    assert_eq!(drain(&mut stranger), 0, "refused at once");

    let mut served = proxy.connect();
    ping(&mut served, b"hello");
    drop(served);
    proxy.wait_for_log("pair 1 ");

    let _silent = proxy.connect();
    proxy.wait_for_log("closed: idle timeout");

    // The pair leaves the live table just after its close line.
    let table = proxy.stats_table_when(|t| t[0].contains("stats: 0 pairs live"));
    assert!(
        table[0].contains(
            "0 pairs live, 2 served (2 reached the destination, 0 did not); 1 refused by --allow, 0 by --deny, 0 over --max-per-client; hangs cut: 0 stall toward client, \
             0 stall toward server, 1 idle; up 5 B, down 5 B;"
        ),
        "{}",
        table[0]
    );
    assert!(
        table[0].contains(" threads (") && table[0].ends_with(" parked)"),
        "{}",
        table[0]
    );
}

/// How many stats reports the log holds so far.
fn reports(proxy: &mut Proxy) -> usize {
    proxy
        .log_so_far()
        .iter()
        .filter(|l| l.contains("stats: "))
        .count()
}

#[test]
fn stats_interval_reports_unasked_and_usr1_does_not_kill() {
    // The floor: a report a second (shorter is refused, tests/proxy/cli.rs).
    let mut proxy = Proxy::start(echo_server(), &["--stats-interval", "1s"]);
    let mut client = proxy.connect();
    ping(&mut client, b"hello");
    proxy.wait_for_log("stats: 1 pairs live");
    // Two more reports, unasked, well within 5 s (they are due every second).
    let before = reports(&mut proxy);
    let started = Instant::now();
    while reports(&mut proxy) < before + 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "reports stopped"
        );
        thread::sleep(Duration::from_millis(50));
    }
    proxy.signal("USR1");
    proxy.signal("USR1");
    ping(&mut client, b"still here");
    assert!(
        proxy.wait_exit(Duration::from_millis(300)).is_none(),
        "SIGUSR1 must not end the proxy"
    );
}

#[test]
fn usr1_without_interval_reports_once_per_signal() {
    let mut proxy = Proxy::start(echo_server(), &[]);
    let first = proxy.stats_table();
    assert!(
        first[0].contains("stats: 0 pairs live, 0 served"),
        "{}",
        first[0]
    );
    assert_eq!(first.len(), 2, "totals and header only: {first:?}");
    let mut client: TcpStream = proxy.connect();
    ping(&mut client, b"x");
    let second = proxy.stats_table();
    assert!(second[0].contains("stats: 1 pairs live"), "{}", second[0]);
    assert!(row(&second, 1).contains("127.0.0.1:"), "{second:?}");
    // Without --stats-interval, nothing more comes unasked (absence needs a wait).
    thread::sleep(Duration::from_millis(500));
    assert_eq!(reports(&mut proxy), 2);
}
