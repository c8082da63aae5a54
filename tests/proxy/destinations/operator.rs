//! What the operator is shown of several destinations: the metrics per destination (read by a
//! real `promtool`), the destinations table under the SIGUSR1 table, `/pairs.json`'s
//! `destinations`, and the status page's table as headless Chromium draws it.

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

use crate::kit::backends::{reach, Backend};
use crate::kit::browser::dump_dom;
use crate::kit::http::get;
use crate::kit::proxy::Proxy;
use crate::kit::servers::dead_address;
use crate::metrics::{promtool, value};

/// A proxy over three destinations: two backends and a dead address (refused, so down after the
/// first pair fails over from it), each used: 2 pairs live at `a`, one ended at `b`. The proxy,
/// its endpoint, the destinations in order, and the live pairs.
fn three_destinations() -> (
    Proxy,
    SocketAddr,
    [SocketAddr; 3],
    Vec<BufReader<TcpStream>>,
) {
    let (a, b, dead) = (
        Backend::start("127.0.0.2"),
        Backend::start("127.0.0.3"),
        dead_address(),
    );
    let all = [dead, a.addr, b.addr];
    let args = [
        "--balance",
        "least-conn",
        "--destination",
        &a.addr.to_string(),
        "--destination",
        &b.addr.to_string(),
    ]
    .map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut proxy, endpoint) = Proxy::start_with_metrics(dead, &args);
    let mut live = Vec::new();
    for _ in 0..3 {
        live.push(reach(proxy.addr()));
    }
    // least-conn: the dead one first (refused: down), then a, b, a.
    let reached: Vec<&str> = live.iter().map(|(who, _)| who.as_str()).collect();
    assert_eq!(reached, [a.addr, b.addr, a.addr].map(|x| x.to_string()));
    live.remove(1);
    proxy.wait_for_log(") pair 2 ");
    (
        proxy,
        endpoint,
        all,
        live.into_iter().map(|(_, c)| c).collect(),
    )
}

#[test]
fn promtool_accepts_a_scrape_with_several_destinations_and_each_has_its_series() {
    let (_proxy, endpoint, [dead, a, b], _live) = three_destinations();
    let scrape = get(endpoint, "/metrics").body;
    let series =
        |name: &str, at: SocketAddr| value(&scrape, &format!("{name}{{destination=\"{at}\"}}"));
    assert_eq!(series("tcpproxy_destination_up", dead), 0.0);
    assert_eq!(series("tcpproxy_destination_up", a), 1.0);
    assert_eq!(series("tcpproxy_destination_pairs_live", a), 2.0);
    assert_eq!(series("tcpproxy_destination_pairs_live", b), 0.0);
    assert_eq!(series("tcpproxy_destination_pairs_total", b), 1.0);
    assert_eq!(
        series("tcpproxy_destination_connect_failures_total", dead),
        1.0
    );
    assert_eq!(
        series("tcpproxy_destination_connect_failures_total", a),
        0.0
    );
    let (ok, said) = promtool(&["check", "metrics"], Some(&scrape));
    assert!(ok && said.trim().is_empty(), "promtool:\n{said}\n{scrape}");
}

#[test]
fn the_stats_table_and_pairs_json_list_every_destination() {
    let (mut proxy, endpoint, [dead, a, b], _live) = three_destinations();
    let table = proxy.stats_table();
    let rest = proxy.wait_for_log(&format!(") stats  {b} "));
    let log = proxy.log_so_far();
    let row = |at: SocketAddr| {
        (log.iter().chain([&rest]))
            .find(|l| l.contains(&format!("stats  {at} ")))
            .unwrap_or_else(|| panic!("no row for {at} after {table:#?} in {log:#?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row(dead).contains(&format!("{dead} down ")),
        "{}",
        row(dead)
    );
    assert!(row(a).contains(&format!("{a} up ")), "{}", row(a));
    assert!(row(a).ends_with(&format!("ago {a} 2 2 0")), "{}", row(a));
    assert!(row(b).ends_with(&format!("ago {b} 0 1 0")), "{}", row(b));

    let json: Value = serde_json::from_str(&get(endpoint, "/pairs.json").body).expect("JSON");
    let destinations = json["destinations"].as_array().expect("destinations");
    let names: Vec<&str> = destinations
        .iter()
        .filter_map(|d| d["destination"].as_str())
        .collect();
    assert_eq!(names, [dead, a, b].map(|x| x.to_string()));
    assert_eq!(destinations[0]["up"], false);
    assert_eq!(destinations[1]["pairs_live"], 2);
    assert_eq!(
        destinations[1]["addresses"],
        serde_json::json!([a.to_string()])
    );
    assert!(destinations[2]["since_s"]
        .as_f64()
        .is_some_and(|s| s >= 0.0));
}

#[test]
fn chromium_draws_the_destinations_table_up_and_down() {
    let (_proxy, endpoint, [dead, a, _], _live) = three_destinations();
    let dom = dump_dom(&format!("http://{endpoint}/"), 2000);
    let row = |at: SocketAddr| {
        let start = dom
            .find(&format!("<tr data-destination=\"{at}\""))
            .unwrap_or_else(|| panic!("no row for {at} in {dom}"));
        let len = dom[start..].find("</tr>").expect("the row's end");
        dom[start..start + len].to_string()
    };
    let down = row(dead);
    assert!(down.contains("data-state=\"down\""), "{down}");
    assert!(down.contains("<td class=\"state\">down</td>"), "{down}");
    let up = row(a);
    assert!(up.contains("data-state=\"up\""), "{up}");
    assert!(
        up.contains(&format!("<td class=\"addresses\">{a}</td>")),
        "{up}"
    );
    assert!(up.contains("<td class=\"live\">2</td>"), "{up}");
}
