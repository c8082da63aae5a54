//! `--metrics`: the endpoint's HTTP, the numbers it serves, and the real tools reading them
//! (Debian's `prometheus` package: `promtool` and a `prometheus` server started here).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::client::{connect_from, drain, round_trip_with_half_close};
use crate::kit::data::TempDir;
use crate::kit::http::{get, request_raw, Answer};
use crate::kit::process::{run_to_exit, KillOnDrop};
use crate::kit::procfs::threads_named;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{dead_address, echo_server};
use crate::kit::PATIENCE;

/// The value of the sample `series` (name and labels, exactly as written) in a scrape.
pub(crate) fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{scrape}"))
}

/// `pairs` echo round trips of `size + i` bytes each, waiting for each pair's close line (which
/// comes after the pair is in the totals). The bytes sent, in all.
fn echo_pairs(proxy: &mut Proxy, pairs: usize, size: usize) -> usize {
    let mut sent = 0;
    for i in 0..pairs {
        let data = vec![b'm'; size + i];
        let back = round_trip_with_half_close(proxy.connect(), data.clone());
        assert_eq!(back.len(), data.len());
        sent += data.len();
    }
    for id in 1..=pairs {
        proxy.wait_for_log(&format!("pair {id} 127.0.0.1:"));
    }
    sent
}

#[test]
fn promtool_accepts_a_scrape_taken_after_real_traffic() {
    let (mut proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    let sent = echo_pairs(&mut proxy, 3, 1000);
    let scrape = get(metrics, "/metrics");
    assert_eq!(scrape.status, 200, "{}", scrape.head);
    let body = scrape.body;
    assert_eq!(value(&body, "tcpproxy_pairs_accepted_total"), 3.0);
    assert_eq!(
        value(&body, "tcpproxy_pairs_closed_total{reason=\"both_eof\"}"),
        3.0
    );
    assert_eq!(
        value(&body, "tcpproxy_pairs_closed_total{reason=\"shutdown\"}"),
        0.0
    );
    assert_eq!(
        value(&body, "tcpproxy_pairs_reached_destination_total"),
        3.0
    );
    let up = "tcpproxy_bytes_total{direction=\"client_to_server\"}";
    assert_eq!(value(&body, up), sent as f64);
    let down = "tcpproxy_bytes_total{direction=\"server_to_client\"}";
    assert_eq!(value(&body, down), sent as f64);
    // The histograms count every pair served, and every connect (all succeeded).
    assert_eq!(value(&body, "tcpproxy_pair_duration_seconds_count"), 3.0);
    let inf = "tcpproxy_pair_duration_seconds_bucket{le=\"+Inf\"}";
    assert_eq!(value(&body, inf), 3.0);
    assert_eq!(value(&body, "tcpproxy_connect_duration_seconds_count"), 3.0);
    assert!(value(&body, "tcpproxy_open_files") >= 3.0);
    assert!(value(&body, "tcpproxy_threads{state=\"running\"}") >= 3.0);
    let version = format!(
        "tcpproxy_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&body, &version), 1.0);

    let checked = promtool(&["check", "metrics"], Some(&body));
    assert!(checked.0, "promtool check metrics failed:\n{}", checked.1);
    assert!(
        checked.1.trim().is_empty(),
        "promtool complained:\n{}",
        checked.1
    );
}

#[test]
fn the_alert_rules_are_valid() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/prometheus/alerts.yml");
    let (ok, output) = promtool(&["check", "rules", rules], None);
    assert!(ok && output.contains("SUCCESS"), "{output}");
}

#[test]
fn other_paths_are_404_other_methods_405_and_every_answer_has_the_headers() {
    let (_proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    let scrape = get(metrics, "/metrics");
    assert_eq!(
        scrape.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let missing = get(metrics, "/nothing-here");
    assert_eq!(missing.status, 404);
    let post = request_raw(metrics, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET"));
    for answer in [&scrape, &missing, &post] {
        has_the_cautious_headers(answer);
    }
    assert_eq!(
        scrape.header("Content-Length"),
        Some(&*scrape.body.len().to_string())
    );
}

fn has_the_cautious_headers(answer: &Answer) {
    let csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
               connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
    assert_eq!(
        answer.header("Connection"),
        Some("close"),
        "{}",
        answer.head
    );
    assert_eq!(
        answer.header("Cache-Control"),
        Some("no-store"),
        "{}",
        answer.head
    );
    assert_eq!(
        answer.header("Content-Security-Policy"),
        Some(csp),
        "{}",
        answer.head
    );
    assert_eq!(
        answer.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{}",
        answer.head
    );
}

#[test]
fn twenty_silent_clients_delay_no_scrape_and_the_endpoint_keeps_to_its_cap() {
    let (proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    // Each holds half a request line: one thread serving one client at a time waited 2 s for
    // each (18 s for six).
    let mut silent: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut client = TcpStream::connect(metrics).expect("connect");
            client.write_all(b"GET /metr").expect("half a request");
            client
        })
        .collect();
    let started = Instant::now();
    let answer = get(metrics, "/metrics");
    let waited = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(
        waited < Duration::from_secs(1),
        "the scrape waited {waited:?}"
    );
    // A thread that gave its place up is gone a moment later: its last instructions run after
    // the place is free, so a count taken at that moment may see one more.
    let give_up = Instant::now() + Duration::from_secs(2);
    let mut threads = threads_named(proxy.pid(), "metrics client");
    while threads > 8 && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(10)); // polling: /proc has no change event
        threads = threads_named(proxy.pid(), "metrics client");
    }
    assert!(
        (1..=8).contains(&threads),
        "{threads} client threads: the cap is 8"
    );
    // The places went to newcomers: the silent clients that waited longest were shut out at
    // once (EOF), the rest get their 408 at the read deadline.
    let (mut shut_out, mut timed_out) = (0, 0);
    for client in &mut silent {
        client.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut answer = String::new();
        let _ = client.read_to_string(&mut answer);
        match answer.is_empty() {
            true => shut_out += 1,
            false if answer.starts_with("HTTP/1.1 408") => timed_out += 1,
            false => panic!("a silent client got {answer:?}"),
        }
    }
    assert!(shut_out >= 12, "{shut_out} shut out, {timed_out} timed out");
    assert_eq!(shut_out + timed_out, 20);
}

#[test]
fn a_request_over_8_kib_is_refused_with_431() {
    let (_proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    let huge = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(9000));
    let refused = request_raw(metrics, huge.as_bytes()).expect("an answer, not a reset");
    assert_eq!(refused.status, 431);
}

#[test]
fn refusals_and_connect_failures_are_counted_by_cause() {
    let (mut proxy, metrics) =
        Proxy::start_with_metrics(dead_address(), &["--allow", "127.0.0.2/32"]);
    // Refused by --allow: the proxy closes it at once, after counting it.
    let mut refused = proxy.connect();
    drain(&mut refused);
    // Allowed, but nothing listens at the destination: the connect fails.
    let mut allowed = connect_from("127.0.0.2", proxy.addr()).expect("connect from 127.0.0.2");
    drain(&mut allowed);
    proxy.wait_for_log("pair 1 127.0.0.2:");
    let body = get(metrics, "/metrics").body;
    assert_eq!(
        value(&body, "tcpproxy_connections_refused_total{cause=\"allow\"}"),
        1.0
    );
    assert_eq!(value(&body, "tcpproxy_connect_failures_total"), 1.0);
    let failed = "tcpproxy_pairs_closed_total{reason=\"connect_failed\"}";
    assert_eq!(value(&body, failed), 1.0);
    assert_eq!(
        value(&body, "tcpproxy_pairs_not_reached_destination_total"),
        1.0
    );
    assert_eq!(
        value(&body, "tcpproxy_pairs_reached_destination_total"),
        0.0
    );
    assert_eq!(value(&body, "tcpproxy_pairs_accepted_total"), 1.0);
    assert_eq!(value(&body, "tcpproxy_connect_duration_seconds_count"), 0.0);
    assert_eq!(value(&body, "tcpproxy_pair_duration_seconds_count"), 1.0);
}

#[test]
fn a_real_prometheus_scrapes_the_bytes_the_test_sent() {
    let (mut proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    let sent = echo_pairs(&mut proxy, 4, 12_345);
    let server = Prometheus::start(metrics);
    let queries = [
        (
            "tcpproxy_bytes_total{direction=\"client_to_server\"}",
            sent as f64,
        ),
        (
            "tcpproxy_bytes_total{direction=\"server_to_client\"}",
            sent as f64,
        ),
        ("tcpproxy_pairs_accepted_total", 4.0),
        ("tcpproxy_pair_duration_seconds_count", 4.0),
    ];
    for (query, expected) in queries {
        let seen = server.wait_for_value(query, expected, Duration::from_secs(40));
        eprintln!("prometheus: {query} = {seen}");
    }
}

/// A `prometheus` server on loopback scraping `target` every second, killed (by pid) on drop.
struct Prometheus {
    _child: KillOnDrop,
    address: SocketAddr,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let config = dir.0.join("prometheus.yml");
        let text = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - \
             job_name: tcpproxy\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(&config, text).expect("write prometheus.yml");
        let address = free_port();
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.0.join("prometheus.log")));
        Prometheus {
            _child: KillOnDrop::spawn(&mut command),
            address,
            _dir: dir,
        }
    }

    /// Ask the query API for `query` until it returns `expected` or `limit` passes: the server
    /// needs a moment to start and a scrape or two to see the target.
    fn wait_for_value(&self, query: &str, expected: f64, limit: Duration) -> f64 {
        let target = format!("/api/v1/query?query={}", url_encode(query));
        let deadline = Instant::now() + limit;
        let mut last = String::from("(no answer yet)");
        while Instant::now() < deadline {
            if let Ok(answer) = request_raw(self.address, get_request(&target).as_bytes()) {
                if let Some(seen) = first_value(&answer.body) {
                    if seen == expected {
                        return seen;
                    }
                }
                last = answer.body;
            }
            // Polling an outside server, whose scrapes come once a second.
            thread::sleep(Duration::from_millis(250));
        }
        let log = std::fs::read_to_string(self._dir.0.join("prometheus.log")).unwrap_or_default();
        panic!("prometheus never said {query} = {expected}; last answer: {last}\nits log:\n{log}");
    }
}

fn get_request(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n")
}

/// The number in the query API's first result:
/// `{"status":"success","data":{"result":[{"metric":{…},"value":[1700000000.123,"49380"]}]}}`.
/// `None` until the answer is JSON with a result (the server answers plain text while it starts).
fn first_value(json: &str) -> Option<f64> {
    let answer: serde_json::Value = serde_json::from_str(json).ok()?;
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// Percent-encode everything but letters, digits and `_`: enough for a PromQL query.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A loopback address with a port free a moment ago (the server binds it right after).
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn log_file(path: &Path) -> Stdio {
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Run `promtool ARGS`, with `input` on its stdin: whether it succeeded, and all it printed.
pub(crate) fn promtool(args: &[&str], input: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (Debian's prometheus package; make test-deps installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).expect("feed promtool");
    }
    drop(stdin);
    let done = child.wait_with_output().expect("promtool output");
    let mut printed = String::from_utf8_lossy(&done.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&done.stderr));
    (done.status.success(), printed)
}

#[test]
fn a_busy_metrics_address_stops_the_start_and_is_named() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = held.local_addr().expect("addr").to_string();
    let finished = run_to_exit(&["--metrics", &busy, "127.0.0.1", "1", "0"]);
    assert_eq!(finished.status, Some(1), "{}", finished.stderr);
    let said = format!("cannot serve --metrics on {busy}: ");
    assert!(finished.stderr.contains(&said), "{}", finished.stderr);
    assert!(
        !finished.stderr.contains("listening on"),
        "{}",
        finished.stderr
    );
}
