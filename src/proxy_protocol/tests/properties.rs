//! The properties, over thousands of generated headers each: a valid header is read exactly,
//! whatever follows it and however it arrives; hostile input never panics, is judged as the oracle
//! judges it, and is never read past.

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::oracle::{oracle, verdict, Verdict};
use super::strategies::{hostile, valid_header};
use crate::proxy_protocol::header::{Endpoints, HeaderError, Parsed};
use crate::proxy_protocol::parse::parse;
use crate::proxy_protocol::read::read_with;

/// Cases per property; two properties, so twice this many headers in all.
const CASES: u32 = 50_000;

/// A read that hands out bytes `chunk` at a time (at most what is asked), counting what it gave.
fn chunked(data: &[u8], chunk: usize) -> (Result<Option<Endpoints>, HeaderError>, usize) {
    let mut at = 0;
    let result = read_with(|buf| {
        let n = buf.len().min(chunk).min(data.len() - at);
        buf[..n].copy_from_slice(&data[at..at + n]);
        at += n;
        Ok(n)
    });
    (result.map(|h| h.endpoints), at)
}

/// Run `property` for CASES cases; say how many and how long.
fn run<S: Strategy>(
    name: &str,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let started = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner.run(&strategy, property).unwrap();
    eprintln!(
        "{name}: {CASES} cases in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn valid_headers_are_read_exactly_whatever_follows_them() {
    let cases = (
        valid_header(),
        proptest::collection::vec(any::<u8>(), 0..64),
        1..20usize,
    );
    run("valid headers", cases, |((h, expected), trailer, chunk)| {
        let data = [h.clone(), trailer].concat();
        prop_assert_eq!(verdict(&parse(&data)), Verdict::Accept(expected, h.len()));
        prop_assert_eq!(oracle(&data), Verdict::Accept(expected, h.len()));
        // Every prefix: no verdict yet, and never an invitation to read past the header.
        for cut in 0..h.len() {
            match parse(&data[..cut]) {
                Ok(Parsed::Incomplete { missing }) => prop_assert!(cut + missing <= h.len()),
                other => prop_assert!(false, "prefix {cut} of {}: {other:?}", h.len()),
            }
        }
        // Through the reader: exactly the header's bytes are taken, however they arrive.
        let (result, taken) = chunked(&data, chunk);
        prop_assert_eq!(result.ok(), Some(expected));
        prop_assert_eq!(taken, h.len());
        Ok(())
    });
}

#[test]
fn hostile_input_never_panics_and_is_judged_as_the_oracle_judges_it() {
    run(
        "hostile headers",
        (hostile(), 1..20usize),
        |(data, chunk)| {
            let full = parse(&data);
            prop_assert_eq!(verdict(&full), oracle(&data), "{}", data.escape_ascii());
            // Verdicts only sharpen: find the first prefix with one; every longer prefix agrees.
            let decided = (0..=data.len())
                .find(|&k| !matches!(parse(&data[..k]), Ok(Parsed::Incomplete { .. })));
            if let Some(k) = decided {
                prop_assert_eq!(verdict(&parse(&data[..k])), verdict(&full));
            }
            let (result, taken) = chunked(&data, chunk);
            match full {
                Ok(Parsed::Done { header, consumed }) => {
                    prop_assert_eq!(result.ok(), Some(header.endpoints));
                    prop_assert_eq!(taken, consumed, "read past the header");
                }
                Ok(Parsed::Incomplete { .. }) => {
                    prop_assert!(
                        matches!(result, Err(HeaderError::Truncated { .. })),
                        "{result:?}"
                    );
                }
                Err(_) => prop_assert!(result.is_err()),
            }
            Ok(())
        },
    );
}
