//! The destinations table: for each destination, up or down and since when, the addresses it
//! resolves to now, and its pairs (live now, served, failed connects). The SIGUSR1 table prints it
//! under the pairs, and `/pairs.json` (so the status page) and the `stats` event carry it as
//! `destinations`, one object a destination, with the keys docs/reference.md lists.
//!
//! Each reading is [`Destination::view`](crate::relay::upstream::Destination::view): a few
//! relaxed loads, the destination's health lock for an instant and its addresses' for a clone.
//! Nothing here blocks.

use crate::json::{self, Array, Object};
use crate::relay::upstream::destination::View;

/// The table's header, for people.
pub const HEADER: [&str; 7] = [
    "destination",
    "state",
    "since",
    "addresses",
    "live",
    "pairs",
    "failed connects",
];

/// One destination's keys.
pub fn fields(view: &View, out: &mut Object) {
    let mut addresses = Array::default();
    for address in &view.addresses {
        addresses.push(json::string(address));
    }
    out.str("destination", &view.name)
        .bool("up", view.up)
        .f64("since_s", seconds(view))
        .json("addresses", addresses)
        .u64("pairs_live", view.live)
        .u64("pairs", view.pairs)
        .u64("connect_failures", view.connect_failures);
}

/// The `destinations` array.
pub fn array(views: &[View]) -> Array {
    let mut rows = Array::default();
    for view in views {
        let mut row = Object::new();
        fields(view, &mut row);
        rows.push(row.finish());
    }
    rows
}

/// One destination's row, for people.
pub fn cells(view: &View) -> Vec<String> {
    let words: Vec<String> = view.addresses.iter().map(ToString::to_string).collect();
    vec![
        view.name.clone(),
        (if view.up { "up" } else { "down" }).to_string(),
        format!("{:.1} s ago", seconds(view)),
        words.join(" "),
        view.live.to_string(),
        view.pairs.to_string(),
        view.connect_failures.to_string(),
    ]
}

/// How long it has been up (or down), to the millisecond.
fn seconds(view: &View) -> f64 {
    (view.for_how_long.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn view() -> View {
        View {
            name: "db:5432".into(),
            up: false,
            for_how_long: Duration::from_millis(2500),
            addresses: vec![
                "127.0.0.2:5432".parse().unwrap(),
                "[::1]:5432".parse().unwrap(),
            ],
            live: 1,
            pairs: 7,
            connect_failures: 3,
        }
    }

    #[test]
    fn a_destination_has_the_documented_keys_and_cells() {
        let text: String = array(&[view()]).into();
        assert_eq!(
            text,
            r#"[{"destination":"db:5432","up":false,"since_s":2.5,"addresses":["127.0.0.2:5432","[::1]:5432"],"pairs_live":1,"pairs":7,"connect_failures":3}]"#
        );
        assert_eq!(
            cells(&view()),
            [
                "db:5432",
                "down",
                "2.5 s ago",
                "127.0.0.2:5432 [::1]:5432",
                "1",
                "7",
                "3"
            ]
        );
        assert_eq!(cells(&view()).len(), HEADER.len());
    }
}
