//! Destinations that move and fail: several destinations on several loopback addresses, the
//! choice among them by `--balance`, failover within a pair, passive health and active checks,
//! names re-resolved from a private /etc/hosts, `/ready`, and what the operator is shown. Every
//! test runs real servers (`kit/backends.rs`), and a port that drops SYNs where a timeout is the
//! point (`kit/servers.rs`'s `DeafDestination`: a `listen(0)` whose accept queue is full).
//!
//! The figures a failover costs a client, and a moved name's delay, are printed (`--nocapture`).

mod balance;
mod command_line;
mod failover;
mod moving;
mod operator;
mod ready;

use std::net::SocketAddr;

use crate::kit::proxy::Proxy;

/// `tcpproxy ARGS... FIRST --destination MORE... 0`.
fn start(first: SocketAddr, more: &[SocketAddr], args: &[&str]) -> Proxy {
    let more: Vec<String> = more.iter().map(ToString::to_string).collect();
    let mut all: Vec<&str> = args.to_vec();
    for destination in &more {
        all.extend(["--destination", destination]);
    }
    Proxy::start(first, &all)
}
