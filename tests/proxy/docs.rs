//! The docs keep up with the program: every metric family, label value, option, JSON key and
//! `/pairs.json` key the running binary has is in `docs/reference.md`, and every relative link in
//! `README.md` and `docs/` leads to a file of the repository.
//!
//! The reference is read as markdown: what counts is a `backticked` span, and for options and
//! metric families the first cell of a table row, so a name mentioned in passing does not pass
//! for a documented one.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::kit::http::get;
use crate::kit::process::run_to_exit;
use crate::kit::proxy::Proxy;
use crate::kit::servers::echo_server;
use crate::kit::PATIENCE;

/// The label names whose values are a fixed, documented set. (`le` and `version` are not, and
/// neither are labels naming a destination.)
const DOCUMENTED_LABELS: [&str; 5] = ["reason", "cause", "rule", "direction", "state"];

/// The issue that moved the README's reference into docs/ set this bound: a front door, not a
/// notebook.
const README_MAX_LINES: usize = 300;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn reference() -> String {
    read(&repository().join("docs/reference.md"))
}

/// The text outside fenced code blocks (a sample in a fence documents nothing and links nowhere).
fn prose(markdown: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every `backticked` span of `text`, outside fences.
fn spans(text: &str) -> BTreeSet<String> {
    let prose = prose(text);
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The names of the table rows: the spans of each row's first cell, each up to its first space
/// (`--bind ADDR` names `--bind`).
fn row_names(text: &str) -> BTreeSet<String> {
    prose(text)
        .lines()
        .filter_map(|line| line.strip_prefix('|')?.split('|').next())
        .flat_map(spans)
        .filter_map(|span| span.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The words inside backticked spans: `{state, seconds, pending_bytes}` documents all three.
fn span_words(text: &str) -> BTreeSet<String> {
    spans(text)
        .iter()
        .flat_map(|span| {
            span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The items not in `known`.
fn absent<'a>(
    items: impl IntoIterator<Item = &'a String>,
    known: &BTreeSet<String>,
) -> Vec<String> {
    items
        .into_iter()
        .filter(|item| !known.contains(*item))
        .cloned()
        .collect()
}

/// Fail naming every missing item, not only the first.
fn assert_none_missing(what: &str, missing: &[String]) {
    assert!(
        missing.is_empty(),
        "docs/reference.md does not document {what}: {}",
        missing.join(", ")
    );
}

/// From a scrape: the metric families (`# TYPE name kind`) and the `name="value"` label pairs.
fn families_and_labels(scrape: &str) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut families = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.extend(rest.split_whitespace().next().map(str::to_string));
        } else if let Some((_, rest)) = line.split_once('{') {
            let inside = rest.split('}').next().unwrap_or_default();
            for pair in inside.split(',') {
                if let Some((name, value)) = pair.split_once('=') {
                    labels.insert((name.to_string(), value.trim_matches('"').to_string()));
                }
            }
        }
    }
    (families, labels)
}

#[test]
fn every_metric_and_label_value_of_a_scrape_is_in_the_reference() {
    let (_proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    let scrape = get(metrics, "/metrics");
    assert_eq!(scrape.status, 200, "{}", scrape.head);
    let (families, labels) = families_and_labels(&scrape.body);
    assert!(
        families.len() > 10 && labels.len() > 10,
        "a scrape with its families and labels:\n{}",
        scrape.body
    );

    let text = reference();
    let (rows, spans) = (row_names(&text), spans(&text));
    let missing: Vec<String> = absent(&families, &rows)
        .into_iter()
        .map(|family| format!("metric `{family}` (no table row)"))
        .chain(
            labels
                .iter()
                .filter(|(name, value)| {
                    DOCUMENTED_LABELS.contains(&name.as_str()) && !spans.contains(value)
                })
                .map(|(name, value)| format!("{name}=\"{value}\"")),
        )
        .collect();
    assert_none_missing("everything /metrics serves", &missing);
}

/// The long options `--help` lists, e.g. `--idle-timeout`.
fn long_options(help: &str) -> BTreeSet<String> {
    let mut options = BTreeSet::new();
    for (at, _) in help.match_indices("--") {
        let before = help[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let name: String = help[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            options.insert(format!("--{name}"));
        }
    }
    options
}

#[test]
fn every_option_of_help_has_a_row_in_the_reference() {
    let help = run_to_exit(&["--help"]);
    assert_eq!(help.status, Some(0), "{}", help.stderr);
    let options = long_options(&help.stdout);
    assert!(options.contains("--idle-timeout"), "{options:?}");
    let missing = absent(&options, &row_names(&reference()));
    assert_none_missing("every option of --help", &missing);
}

/// Every key of `value`, at any depth, into `keys`.
fn all_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                keys.insert(key.clone());
                all_keys(inner, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| all_keys(item, keys)),
        _ => {}
    }
}

/// The keys not among the reference's backticked words.
fn undocumented(keys: &BTreeSet<String>) -> Vec<String> {
    absent(keys, &span_words(&reference()))
}

#[test]
fn every_key_of_pairs_json_is_in_the_reference() {
    let (proxy, metrics) = Proxy::start_with_metrics(echo_server(), &[]);
    // A live pair, so the answer has a row and both directions' states.
    let mut client = proxy.connect();
    client.write_all(b"ping").expect("send");
    client.read_exact(&mut [0; 4]).expect("the echo");
    let answer = get(metrics, "/pairs.json");
    assert_eq!(answer.status, 200, "{}", answer.head);
    let json: Value = serde_json::from_str(&answer.body).expect("/pairs.json is JSON");
    assert_eq!(json["pairs"].as_array().map(Vec::len), Some(1), "{json}");
    let mut keys = BTreeSet::new();
    all_keys(&json, &mut keys);
    assert_none_missing("every key of /pairs.json", &undocumented(&keys));
}

#[test]
fn every_event_and_key_of_the_json_log_is_in_the_reference() {
    let mut proxy = Proxy::start(echo_server(), &["--log-format", "json"]);
    let mut client = proxy.connect();
    client.write_all(b"ping").expect("send");
    client.read_exact(&mut [0; 4]).expect("the echo");
    proxy.signal("USR1"); // a stats event with a live pair in it
    proxy.wait_for_log(r#""event":"stats""#);
    drop(client);
    proxy.wait_for_log(r#""event":"pair""#);
    proxy.signal("TERM");
    proxy.wait_for_log(r#""event":"summary""#);
    proxy.wait_exit(PATIENCE).expect("exits after SIGTERM");

    let mut keys = BTreeSet::new();
    for line in proxy.log_so_far() {
        let object: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        keys.extend(object["event"].as_str().map(str::to_string));
        all_keys(&object, &mut keys);
    }
    for event in ["listening", "stats", "pair", "stop", "summary"] {
        assert!(keys.contains(event), "no {event} event seen: {keys:?}");
    }
    assert_none_missing("every event and key of the JSON log", &undocumented(&keys));
}

/// The relative link targets of a markdown text: inline links and images outside code, and
/// reference definitions (`[name]: target`); without a `#fragment` or a title.
fn relative_links(markdown: &str) -> Vec<String> {
    let prose = prose(markdown);
    // Code spans are not links, but a link's text may be one: drop the spans, keep the rest.
    let outside_code: String = prose.split('`').step_by(2).collect();
    let inline = outside_code
        .match_indices("](")
        .filter_map(|(at, _)| outside_code[at + 2..].split(')').next());
    let definitions = outside_code.lines().filter_map(|line| {
        let rest = line.trim_start().strip_prefix('[')?;
        rest.split_once("]:").map(|(_, target)| target)
    });
    inline
        .chain(definitions)
        .filter_map(|target| target.split_whitespace().next())
        .filter(|t| !t.starts_with('#') && !t.contains("://") && !t.starts_with("mailto:"))
        .map(|t| t.split('#').next().unwrap_or_default().to_string())
        .collect()
}

/// README.md and every markdown file of docs/.
fn documents() -> Vec<PathBuf> {
    let docs = repository().join("docs");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("list {}: {e}", docs.display()))
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    all.sort();
    all.insert(0, repository().join("README.md"));
    all
}

#[test]
fn every_relative_link_in_the_readme_and_docs_leads_to_a_file() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let here = document.parent().expect("a directory");
        for target in relative_links(&read(&document)) {
            checked += 1;
            if !here.join(&target).exists() {
                let name = document.strip_prefix(repository()).unwrap_or(&document);
                broken.push(format!("{} → {target}", name.display()));
            }
        }
    }
    assert!(
        checked > 10,
        "only {checked} links found: is the parser blind?"
    );
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_readme_links_every_file_in_docs_and_stays_a_front_door() {
    let readme = read(&repository().join("README.md"));
    let linked: BTreeSet<String> = relative_links(&readme).into_iter().collect();
    let unlinked: Vec<String> = documents()
        .iter()
        .skip(1)
        .filter_map(|path| path.file_name()?.to_str().map(|n| format!("docs/{n}")))
        .filter(|path| !linked.contains(path))
        .collect();
    assert!(
        unlinked.is_empty(),
        "README.md links none of: {}",
        unlinked.join(", ")
    );
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines: move the detail into docs/ (at most {README_MAX_LINES})"
    );
}
