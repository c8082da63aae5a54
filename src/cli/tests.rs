//! The command line's unit tests.

use super::*;
use crate::error::{ArgError, DurationError};

#[test]
fn lab_command_line_parses() {
    let o = Options::try_parse_from(["tcpproxy", "web.mit.edu", "80", "3000"]).unwrap();
    assert_eq!((o.destination_port, o.listen_port), (80, 3000));
    assert_eq!(o.timeout, Duration::from_secs(10));
    assert_eq!(o.idle_timeout(), Duration::from_secs(10));
}

#[test]
fn bracketed_ipv6_host_is_unwrapped() {
    let o = Options::try_parse_from(["tcpproxy", "[::1]", "80", "0"]).unwrap();
    assert_eq!(o.destination_host, "::1");
}

#[test]
fn decimal_seconds_and_idle_override() {
    let o = Options::try_parse_from([
        "tcpproxy",
        "--timeout",
        "0.5",
        "--idle-timeout",
        "0",
        "h",
        "1",
        "0",
    ])
    .unwrap();
    assert_eq!(o.timeout, Duration::from_millis(500));
    assert_eq!(o.idle_timeout(), Duration::ZERO);
}

#[test]
fn stats_interval_zero_means_only_on_signal() {
    let parse = |v: &str| {
        Options::try_parse_from(["tcpproxy", "--stats-interval", v, "h", "1", "0"])
            .unwrap()
            .stats_interval()
    };
    assert_eq!(parse("0"), None);
    assert_eq!(parse("2.5"), Some(Duration::from_millis(2500)));
}

#[test]
fn ports_say_their_range() {
    let message = |args: &[&str]| Options::try_parse_from(args).unwrap_err().to_string();
    let negative = message(&["tcpproxy", "h", "-1", "0"]);
    assert!(
        negative.contains("'-1' is not a port number: ports are 1-65535"),
        "{negative}"
    );
    assert!(!negative.contains("-- -1"), "{negative}");
    let zero = message(&["tcpproxy", "h", "0", "0"]);
    assert!(
        zero.contains("must be 1-65535 (0 names no service)"),
        "{zero}"
    );
    let listen = message(&["tcpproxy", "h", "80", "-1"]);
    assert!(listen.contains("or 0 for any free port"), "{listen}");
    assert!(!listen.contains("-- -1"), "{listen}");
}

#[test]
fn seconds_say_what_is_wrong() {
    assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
    assert_eq!(seconds("0"), Ok(Duration::ZERO));
    assert_eq!(
        seconds("x"),
        Err(DurationError::NotADuration("x".into()).into())
    );
    assert_eq!(seconds("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(
        seconds("-0.5"),
        Err(DurationError::Negative("-0.5".into()).into())
    );
    assert_eq!(
        seconds("1e300"),
        Err(DurationError::NotADuration("1e300".into()).into())
    );
    assert_eq!(host("[]"), Err(ArgError::EmptyHost));
    assert_eq!(host("[::1]").as_deref(), Ok("::1"));
}

#[test]
fn bad_values_are_refused() {
    for args in [
        &["tcpproxy", "h", "0", "1"][..],
        &["tcpproxy", "h", "70000", "1"],
        &["tcpproxy", "h", "80", "abc"],
        &["tcpproxy", "--timeout", "-1", "h", "80", "1"],
        &["tcpproxy", "--allow", "10.0.0.0/33", "h", "80", "1"],
        &["tcpproxy", "-v", "-q", "h", "80", "1"],
        &["tcpproxy", "--max-connections", "0", "h", "80", "1"],
        &["tcpproxy", "--send-proxy", "v3", "h", "80", "1"],
        &["tcpproxy", "--stats-interval", "-1", "h", "80", "1"],
        &["tcpproxy", "--dump", "h", "80", "1"],
        &["tcpproxy", "--source", "db.internal", "h", "80", "1"],
        &["tcpproxy", "--keepalive", "0", "h", "80", "1"],
        &["tcpproxy", "--keepalive", "32768", "h", "80", "1"],
        &["tcpproxy", "--keepalive", "1.5", "h", "80", "1"],
        &["tcpproxy", "--keepalive", "500ms", "h", "80", "1"],
        &["tcpproxy", "--stats-interval", "0.001", "h", "80", "1"],
        &["tcpproxy", "--stats-interval", "999ms", "h", "80", "1"],
        &["tcpproxy", "--timeout", "10x", "h", "80", "1"],
    ] {
        assert!(Options::try_parse_from(args).is_err(), "{args:?}");
    }
}

#[test]
fn metrics_takes_an_ip_and_a_port() {
    let o =
        Options::try_parse_from(["tcpproxy", "--metrics", "[::1]:9100", "h", "1", "0"]).unwrap();
    assert_eq!(o.metrics, Some("[::1]:9100".parse().unwrap()));
}

#[test]
fn every_secs_option_takes_a_unit() {
    let o = Options::try_parse_from([
        "tcpproxy",
        "--timeout",
        "10s",
        "--idle-timeout",
        "1h",
        "--connect-timeout",
        "500ms",
        "--drain",
        "2m",
        "--stats-interval",
        "1s",
        "--keepalive",
        "1m",
        "h",
        "80",
        "1",
    ])
    .unwrap();
    assert_eq!(o.timeout, Duration::from_secs(10));
    assert_eq!(o.idle_timeout(), Duration::from_secs(3600));
    assert_eq!(o.connect_timeout, Duration::from_millis(500));
    assert_eq!(o.drain, Duration::from_secs(120));
    assert_eq!(o.stats_interval(), Some(Duration::from_secs(1)));
    assert_eq!(o.keepalive, Some(60));
    let off = Options::try_parse_from(["tcpproxy", "--stats-interval", "0", "h", "80", "1"]);
    assert_eq!(off.unwrap().stats_interval(), None, "0 is still off");
}

#[test]
fn a_host_with_its_port_is_told_to_give_two_arguments() {
    let hint = |text: &str| host(text).unwrap_err().to_string();
    assert!(
        hint("127.0.0.1:5432").ends_with("give them as two arguments: 127.0.0.1 5432"),
        "{}",
        hint("127.0.0.1:5432")
    );
    assert!(hint("[::1]:80").ends_with("two arguments: ::1 80"));
    assert!(hint("db.internal:5432").ends_with("two arguments: db.internal 5432"));
    // Bare IPv6 addresses have colons and no port.
    assert_eq!(host("::1").as_deref(), Ok("::1"));
    assert_eq!(host("2001:db8::5").as_deref(), Ok("2001:db8::5"));
    assert_eq!(host("db.internal").as_deref(), Ok("db.internal"));
    let bind = bind_address("127.0.0.1:5000").unwrap_err().to_string();
    assert!(
        bind.contains("--bind takes the address alone (--bind 127.0.0.1)"),
        "{bind}"
    );
    assert_eq!(bind_address("127.0.0.1").as_deref(), Ok("127.0.0.1"));
}
