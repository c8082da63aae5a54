//! The status page (`/` on the `--metrics` address) in a real browser: headless Chromium loads it
//! while a frozen pair and an idle pair are live, its script fetches `/pairs.json` and draws, and
//! the test reads the DOM it drew. The rows carry data attributes (`data-pair`, `data-dir`,
//! `data-state`, `data-blocked`, `data-hang`) so the test does not depend on the wording.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::browser::dump_dom;
use crate::kit::http::get;
use crate::kit::proxy::Proxy;
use crate::kit::servers::{frozen_and_idle_pairs, holding_server};
use crate::kit::PATIENCE;

/// The stall timeout: long enough that Chromium renders the frozen pair between half the timeout,
/// when the page highlights it, and the cut. Chromium loads in 1-2 s on an idle machine, but has
/// taken 10.5 s on a loaded 2-core one (its first start, in a fresh clone's `make test`); the page
/// is loaded at 52 % of the timeout, which leaves it 14 s.
const TIMEOUT_S: f64 = 30.0;

/// In `/pairs.json`, pair `id`'s direction `key` (`c_to_s`, `s_to_c`): its state and seconds.
fn direction(json: &str, id: u64, key: &str) -> Option<(String, f64)> {
    let page: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("/pairs.json is not JSON ({e}): {json}"));
    let pair = page["pairs"].as_array()?.iter().find(|p| p["id"] == id)?;
    let dir = &pair[key];
    Some((dir["state"].as_str()?.to_string(), dir["seconds"].as_f64()?))
}

/// The rendered row of pair `id`, `<tr data-pair="ID" ...>...</tr>`, if there is one.
fn row(dom: &str, id: u64) -> Option<&str> {
    let start = dom.find(&format!("<tr data-pair=\"{id}\""))?;
    let len = dom[start..].find("</tr>")?;
    Some(&dom[start..start + len])
}

/// The opening tag of the cell for direction `dir` (`c->s`, `s->c`) in `row`.
fn cell<'a>(row: &'a str, dir: &str) -> &'a str {
    let attribute = format!("data-dir=\"{dir}\"");
    let at = row
        .find(&attribute)
        .unwrap_or_else(|| panic!("no {dir} cell in {row}"));
    let start = row[..at].rfind("<td").expect("the cell's tag");
    // The direction's own '>' is inside the attribute; the tag ends after it.
    let after = at + attribute.len();
    let end = after + row[after..].find('>').expect("the tag's end");
    &row[start..end]
}

/// The text of the element with id `id`: `<dd id="ID" ...>TEXT</dd>`.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let tag = dom
        .split(&format!("id=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let after = &tag[tag.find('>').expect("tag end") + 1..];
    &after[..after.find('<').expect("element end")]
}

/// The page as Chromium rendered it, after 3 s of its (virtual) time: four redraws.
fn load(page: SocketAddr) -> String {
    let started = Instant::now();
    let dom = dump_dom(&format!("http://{page}/"), 3000);
    eprintln!("chromium rendered the page in {:?}", started.elapsed());
    dom
}

/// What a failure message needs of a rendered page: its status line, live count and rows.
fn summary(dom: &str) -> String {
    let rows: Vec<&str> = (1..=2).filter_map(|id| row(dom, id)).collect();
    format!(
        "updated: {:?}, live: {:?}, rows: {rows:?}",
        text_of(dom, "updated"),
        text_of(dom, "live")
    )
}

/// The page and its data, as a browser gets them: typed, never cached, never framed.
fn assert_the_page_is_typed_uncached_and_unframed(page: SocketAddr) {
    for (path, media) in [("/", "text/html"), ("/pairs.json", "application/json")] {
        let answer = get(page, path);
        assert_eq!(answer.status, 200, "{path}");
        assert!(answer
            .header("Content-Type")
            .is_some_and(|t| t.starts_with(media)));
        assert_eq!(answer.header("Cache-Control"), Some("no-store"), "{path}");
        let policy = answer.header("Content-Security-Policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
}

/// Pair 1's s->c blocked writing (highlighted past half the timeout) while its c->s reads; both
/// of pair 2's directions reading, never highlighted (the idle rule is off).
fn assert_frozen_and_idle_rows(dom: &str) {
    let frozen_row = row(dom, 1).unwrap_or_else(|| panic!("no row for pair 1 in {dom}"));
    let s_to_c = cell(frozen_row, "s->c");
    for attribute in ["data-state=\"writing\"", "data-blocked=\"true\""] {
        assert!(s_to_c.contains(attribute), "{attribute} not in {s_to_c}");
    }
    assert!(
        s_to_c.contains("data-hang=\"slow\"") || s_to_c.contains("data-hang=\"cut-soon\""),
        "past half the timeout, yet not highlighted: {s_to_c}"
    );
    assert!(frozen_row.contains("writing, blocked "), "{frozen_row}");
    assert!(cell(frozen_row, "c->s").contains("data-state=\"reading\""));
    let idle_row = row(dom, 2).unwrap_or_else(|| panic!("no row for pair 2 in {dom}"));
    for dir in ["c->s", "s->c"] {
        let tag = cell(idle_row, dir);
        assert!(tag.contains("data-state=\"reading\""), "{tag}");
        assert!(tag.contains("data-hang=\"ok\""), "idle rule off: {tag}");
    }
}

#[test]
fn chromium_shows_the_frozen_pair_blocked_the_idle_pair_reading_then_the_cut() {
    let (server, accepted) = holding_server();
    let timeout = TIMEOUT_S.to_string();
    // The idle rule off, so the quiet pair stays while the stall rule cuts the frozen one.
    let args = ["--timeout", &timeout, "--idle-timeout", "0"];
    let (mut proxy, page) = Proxy::start_with_metrics(server, &args);
    proxy.wait_for_log(&format!("status page on http://{page}/"));

    assert_the_page_is_typed_uncached_and_unframed(page);

    // Pair 1 frozen (its client never reads while its server floods it), pair 2 idle.
    let (frozen, idle, _idle_server) = frozen_and_idle_pairs(proxy.addr(), &accepted);

    // Load the page once pair 1's s->c has been blocked past half the timeout.
    let give_up = Instant::now() + Duration::from_secs_f64(TIMEOUT_S);
    loop {
        let json = get(page, "/pairs.json").body;
        match direction(&json, 1, "s_to_c") {
            Some((state, seconds)) if state == "writing" && seconds > 0.52 * TIMEOUT_S => break,
            _ if Instant::now() > give_up => panic!("pair 1 never blocked long: {json}"),
            // Polling: the JSON has no change event.
            _ => thread::sleep(Duration::from_millis(200)),
        }
    }
    let dom = load(page);
    assert!(
        dom.contains("id=\"live\" data-value=\"2\""),
        "not 2 pairs live: {}; log: {:?}",
        summary(&dom),
        proxy.log_so_far()
    );
    assert_eq!(text_of(&dom, "live"), "2");
    assert_frozen_and_idle_rows(&dom);

    // The cut comes at the timeout, up to half of it after the load: wait that long and more.
    let cut = Duration::from_secs_f64(TIMEOUT_S / 2.0) + PATIENCE;
    let line = proxy.wait_for_log_within("pair 1 ", cut);
    assert!(line.is_some(), "pair 1 was never cut");
    assert!(
        proxy
            .log_so_far()
            .iter()
            .any(|l| l.contains("stall timeout toward client")),
        "pair 1 was cut, but not by the stall rule"
    );
    let dom = dump_dom(&format!("http://{page}/"), 3000);
    assert!(
        row(&dom, 1).is_none(),
        "pair 1 is still shown after the cut"
    );
    assert!(row(&dom, 2).is_some(), "the idle pair is gone: {dom}");
    assert_eq!(text_of(&dom, "live"), "1");
    assert_eq!(text_of(&dom, "cut-stall-client"), "1");
    drop((frozen, idle));
}
