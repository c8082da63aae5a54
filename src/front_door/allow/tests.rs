//! The `--allow`/`--deny` networks: what they cover, and what each mistake is told.

use super::*;

fn permits(rules: &[&str], addr: &str) -> bool {
    let nets = rules.iter().map(|r| r.parse().unwrap()).collect();
    AllowList::new(nets).permits(addr.parse().unwrap())
}

#[test]
fn empty_list_permits_everyone() {
    assert!(permits(&[], "203.0.113.9"));
}

#[test]
fn ipv4_prefix_matches_only_inside() {
    assert!(permits(&["10.0.0.0/8"], "10.200.3.4"));
    assert!(!permits(&["10.0.0.0/8"], "11.0.0.1"));
    assert!(permits(&["0.0.0.0/0"], "8.8.8.8"));
    assert!(permits(&["127.0.0.1"], "127.0.0.1"));
    assert!(!permits(&["127.0.0.1"], "127.0.0.2"));
}

#[test]
fn mapped_ipv6_client_matches_ipv4_rule() {
    assert!(permits(&["127.0.0.0/8"], "::ffff:127.0.0.1"));
    assert!(!permits(&["::1/128"], "127.0.0.1"));
}

#[test]
fn ipv6_prefix() {
    assert!(permits(&["fd00::/8"], "fd12::1"));
    assert!(!permits(&["fd00::/8"], "fe80::1"));
}

#[test]
fn mapped_ipv6_rule_means_its_ipv4_network() {
    assert!(permits(&["::ffff:127.0.0.1/128"], "127.0.0.1"));
    assert!(!permits(&["::ffff:127.0.0.1/128"], "127.0.0.2"));
    assert!(permits(&["::ffff:127.0.0.0/120"], "127.0.0.2"));
    assert!(permits(&["::ffff:127.0.0.0/120"], "::ffff:127.0.0.9"));
    assert!(permits(&["::ffff:0.0.0.0/96"], "8.8.8.8"));
    assert_eq!(
        "::ffff:10.0.0.0/104".parse::<Cidr>().unwrap().to_string(),
        "10.0.0.0/8"
    );
    assert_eq!(
        "::ffff:10.1.2.3".parse::<Cidr>().unwrap().to_string(),
        "10.1.2.3/32"
    );
    let short = "::ffff:0:0/95".parse::<Cidr>().unwrap_err().to_string();
    assert!(short.contains("96 to 128"), "{short}");
}

#[test]
fn prefixes_match_at_their_bit_boundaries() {
    assert!(permits(&["10.0.0.0/31"], "10.0.0.1"));
    assert!(!permits(&["10.0.0.0/31"], "10.0.0.2"));
    assert!(permits(&["fd00::/127"], "fd00::1"));
    assert!(!permits(&["fd00::/127"], "fd00::2"));
    assert!(permits(&["::/0"], "2001:db8::1"));
    assert!(
        !permits(&["::/0"], "10.0.0.1"),
        "an IPv6 rule never covers IPv4"
    );
}

#[test]
fn bad_networks_are_refused_with_a_reason() {
    assert!("10.0.0.0/33"
        .parse::<Cidr>()
        .unwrap_err()
        .to_string()
        .contains("0 to 32"));
    assert!("::/129"
        .parse::<Cidr>()
        .unwrap_err()
        .to_string()
        .contains("0 to 128"));
    assert!("::/129".parse::<Cidr>().is_err());
    assert!("ten/8".parse::<Cidr>().is_err());
    assert!("10.0.0.0/".parse::<Cidr>().is_err());
}

fn refusal(text: &str) -> String {
    text.parse::<Cidr>().unwrap_err().to_string()
}

#[test]
fn a_comma_list_is_told_to_repeat_the_option() {
    assert_eq!(
        refusal("10.0.0.0/8,192.168.0.0/16"),
        "one network per value: repeat the option, once for each of 10.0.0.0/8, 192.168.0.0/16"
    );
    let named = Cidr::parse("10.66.0.0/16, fd00::/8", Some("deny")).unwrap_err();
    assert_eq!(
        named.to_string(),
        "one network per --deny: repeat --deny (--deny 10.66.0.0/16 --deny fd00::/8)"
    );
}

#[test]
fn clap_tells_the_parser_which_option_the_value_came_from() {
    let command = clap::Command::new("t").arg(
        clap::Arg::new("allow")
            .long("allow")
            .value_parser(clap::value_parser!(Cidr)),
    );
    let refused = command
        .try_get_matches_from(["t", "--allow", "10.0.0.0/8,192.168.0.0/16"])
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("repeat --allow (--allow 10.0.0.0/8 --allow 192.168.0.0/16)"),
        "{refused}"
    );
}

#[test]
fn host_bits_are_refused_naming_the_network_meant() {
    assert_eq!(
        refusal("10.1.2.3/8"),
        "10.1.2.3/8 has host bits set: did you mean 10.0.0.0/8?"
    );
    assert_eq!(
        refusal("fd00::1/8"),
        "fd00::1/8 has host bits set: did you mean fd00::/8?"
    );
    assert_eq!(
        refusal("::ffff:10.1.2.3/104"),
        "::ffff:10.1.2.3/104 has host bits set: did you mean ::ffff:10.0.0.0/104?"
    );
    assert_eq!(
        refusal("10.0.0.1/31"),
        "10.0.0.1/31 has host bits set: did you mean 10.0.0.0/31?"
    );
    for network in [
        "10.0.0.0/8",
        "10.0.0.1/32",
        "10.0.0.1",
        "0.0.0.0/0",
        "::/0",
        "fd00::1",
    ] {
        assert!(network.parse::<Cidr>().is_ok(), "{network}");
    }
}

#[test]
fn a_deny_that_covers_everything_allowed_is_seen() {
    let list = |nets: &[&str]| AllowList::new(nets.iter().map(|n| n.parse().unwrap()).collect());
    let everyone = list(&[]);
    assert!(everyone.all_listed_by(&list(&["0.0.0.0/0", "::/0"])));
    assert!(everyone.all_listed_by(&list(&["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"])));
    assert!(
        !everyone.all_listed_by(&list(&["0.0.0.0/0"])),
        "IPv6 clients still come in"
    );
    assert!(
        !everyone.all_listed_by(&list(&[])),
        "no --deny refuses no one"
    );
    assert!(list(&["127.0.0.1"]).all_listed_by(&list(&["127.0.0.0/8"])));
    assert!(list(&["10.0.0.0/8", "::1"]).all_listed_by(&list(&["10.0.0.0/7", "::/0"])));
    assert!(!list(&["10.0.0.0/8"]).all_listed_by(&list(&["10.0.0.0/9"])));
    assert!(!list(&["10.0.0.0/8", "192.168.0.0/16"]).all_listed_by(&list(&["10.0.0.0/8"])));
}
