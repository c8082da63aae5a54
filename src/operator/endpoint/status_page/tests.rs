use std::time::Duration;

use super::*;
use crate::operator::endpoint::history::Sample;
use crate::operator::stats::PairRow;
use crate::relay::accounting::activity::{Snapshot, State};
use crate::relay::accounting::totals::HangCuts;
use crate::relay::upstream::destination::View;

fn direction(state: State, seconds: f64, pending: u64) -> Snapshot {
    Snapshot {
        state,
        for_how_long: Duration::from_secs_f64(seconds),
        pending,
    }
}

fn frozen_and_idle() -> Report {
    let frozen = PairRow {
        id: 1,
        client: "127.0.0.1:54462".into(),
        destination: "127.0.0.1:40613".into(),
        age: Duration::from_millis(7700),
        up: 17,
        down: 5_977_088,
        directions: [
            direction(State::Reading, 7.7, 0),
            direction(State::Writing, 7.1, 243_507),
        ],
    };
    let idle = PairRow {
        id: 2,
        client: "127.0.0.1:54470".into(),
        destination: "127.0.0.1:40613".into(),
        age: Duration::from_secs(3),
        up: 0,
        down: 0,
        directions: [
            direction(State::Reading, 3.0, 0),
            direction(State::Reading, 3.0, 0),
        ],
    };
    Report {
        pairs: vec![frozen, idle],
        served: 4,
        reached: 3,
        not_reached: 1,
        refused_by_allow: 2,
        refused_by_deny: 0,
        refused_over_client_limit: 0,
        hang_cuts: HangCuts {
            stall_toward_client: 1,
            stall_toward_server: 0,
            idle: 2,
        },
        bytes: (33, 6_000_000),
        threads: Some(7),
        parked: 1,
        dump_dropped: None,
        destinations: vec![View {
            name: "db:40613".into(),
            up: true,
            for_how_long: Duration::from_millis(12_345),
            addresses: vec!["127.0.0.1:40613".parse().unwrap()],
            live: 2,
            pairs: 3,
            connect_failures: 1,
        }],
    }
}

const TIMEOUTS: Timeouts = Timeouts {
    stall: Duration::from_secs(10),
    idle: Duration::ZERO,
};

#[test]
fn pairs_json_has_the_documented_keys_and_values() {
    let history = History::new(3);
    for second in 1..=4 {
        history.push(Sample {
            at: Duration::from_secs(second),
            live: second,
            bytes: second * 100,
        });
    }
    let text = pairs_json(&frozen_and_idle(), TIMEOUTS, &history);
    assert_eq!(check_json(&text), Ok(text.len()), "{text}");
    for expected in [
        r#""timeout_s":10,"idle_timeout_s":0,"pairs_live":2,"pairs_served":4,"#,
        r#""pairs_reached":3,"pairs_not_reached":1,"refused_by_allow":2,"refused_by_deny":0,"#,
        r#""hang_cuts":{"stall_toward_client":1,"stall_toward_server":0,"idle":2},"#,
        r#""bytes_up":33,"bytes_down":6000000,"threads":7,"threads_parked":1,"#,
        r#""pairs":[{"id":1,"client":"127.0.0.1:54462","destination":"127.0.0.1:40613","#,
        r#""age_s":7.7,"bytes_up":17,"bytes_down":5977088,"#,
        r#""c_to_s":{"state":"reading","seconds":7.7,"pending_bytes":0},"#,
        r#""s_to_c":{"state":"writing","seconds":7.1,"pending_bytes":243507}},{"id":2,"#,
        r#""pairs_unlisted":0,"destinations":[{"destination":"db:40613","up":true,"#,
        r#""since_s":12.345,"addresses":["127.0.0.1:40613"],"pairs_live":2,"pairs":3,"#,
        r#""connect_failures":1}],"#,
        r#""history":[{"t":2,"live":2,"bytes":200},{"t":3,"live":3,"bytes":300},{"t":4,"live":4,"bytes":400}]}"#,
    ] {
        assert!(text.contains(expected), "{expected}\nnot in\n{text}");
    }
    assert!(text.starts_with(r#"{"uptime_s":"#), "{text}");
}

#[test]
fn pairs_json_lists_a_bounded_number_of_pairs() {
    let mut report = frozen_and_idle();
    let template = report.pairs.remove(1);
    report.pairs = (0..MAX_LISTED as u64 + 7)
        .map(|id| PairRow {
            id,
            client: template.client.clone(),
            destination: template.destination.clone(),
            ..template
        })
        .collect();
    let text = pairs_json(&report, TIMEOUTS, &History::new(0));
    assert_eq!(check_json(&text), Ok(text.len()));
    assert_eq!(text.matches(r#"{"id":"#).count(), MAX_LISTED);
    let live = format!(r#""pairs_live":{},"#, MAX_LISTED + 7);
    assert!(text.contains(&live), "{text}");
    assert!(text.contains(r#""pairs_unlisted":7,"destinations":[{"#));
    assert!(text.ends_with(r#"}],"history":[]}"#));
}

#[test]
fn the_page_fetches_nothing_from_elsewhere() {
    for outside in ["http://", "https://", "//cdn", "@import", "src=", "url("] {
        assert!(!PAGE.contains(outside), "the page mentions {outside:?}");
    }
    // What the page and the browser test rely on (the rows' data attributes are set by the
    // script; tests/proxy/status_page.rs reads them from the rendered page).
    for needed in [
        "fetch(\"/pairs.json\"",
        "id=\"pair-rows\"",
        "id=\"live\"",
        "id=\"chart\"",
        "row.dataset.pair",
        "id=\"destination-rows\"",
    ] {
        assert!(PAGE.contains(needed), "the page lacks {needed:?}");
    }
}

/// Whether `text` is one JSON value, by a small recursive-descent check (this crate writes JSON
/// and never reads it, so the tests carry their own reader): `Ok(bytes read)` or the offset of the
/// first error.
fn check_json(text: &str) -> Result<usize, usize> {
    let bytes = text.as_bytes();
    let end = value(bytes, 0)?;
    Ok(end)
}

fn value(b: &[u8], i: usize) -> Result<usize, usize> {
    match b.get(i) {
        Some(b'{') => sequence(b, i + 1, b'}', |b, i| {
            let i = string(b, i)?;
            if b.get(i) != Some(&b':') {
                return Err(i);
            }
            value(b, i + 1)
        }),
        Some(b'[') => sequence(b, i + 1, b']', value),
        Some(b'"') => string(b, i),
        Some(b't') if b[i..].starts_with(b"true") => Ok(i + 4),
        Some(b'f') if b[i..].starts_with(b"false") => Ok(i + 5),
        Some(b'n') if b[i..].starts_with(b"null") => Ok(i + 4),
        Some(c) if c.is_ascii_digit() || *c == b'-' => {
            let len = b[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || b"-+.eE".contains(c))
                .count();
            let number = std::str::from_utf8(&b[i..i + len]).map_err(|_| i)?;
            number.parse::<f64>().map(|_| i + len).map_err(|_| i)
        }
        _ => Err(i),
    }
}

/// Items separated by commas up to `close`, each read by `item`.
fn sequence(
    b: &[u8],
    mut i: usize,
    close: u8,
    item: fn(&[u8], usize) -> Result<usize, usize>,
) -> Result<usize, usize> {
    if b.get(i) == Some(&close) {
        return Ok(i + 1);
    }
    loop {
        i = item(b, i)?;
        match b.get(i) {
            Some(b',') => i += 1,
            Some(c) if *c == close => return Ok(i + 1),
            _ => return Err(i),
        }
    }
}

fn string(b: &[u8], i: usize) -> Result<usize, usize> {
    if b.get(i) != Some(&b'"') {
        return Err(i);
    }
    let mut j = i + 1;
    while let Some(c) = b.get(j) {
        match c {
            b'"' => return Ok(j + 1),
            b'\\' => j += 2,
            c if *c < 0x20 => return Err(j),
            _ => j += 1,
        }
    }
    Err(j)
}
