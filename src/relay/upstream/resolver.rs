//! `--resolve-interval SECS`: the resolver thread, which asks again what each destination's name
//! resolves to, so that a name that moves (a database failover that flips its DNS record) is
//! followed without a restart.
//!
//! One thread, named `resolver`, for every name: it is the only thread that blocks in
//! `getaddrinfo` after start-up. A pair never asks a resolver (a slow DNS server would be every
//! client's delay), and neither does the accept loop; a pair reads the addresses the resolver
//! last stored (`addresses.rs`), which costs a lock held for one `Arc` clone. A changed answer is
//! logged, old → new, and used by the next pairs; live pairs keep the connection they have. An
//! answer that fails, or is empty, keeps the last good addresses: a DNS server down for a minute
//! must not take the destination with it. It is logged once when it starts failing and once when
//! it answers again, not at every round. IP literals are never re-resolved, and with no name to
//! follow (or `--resolve-interval 0`) there is no thread.
//!
//! Blocking: `getaddrinfo`, then a sleep until the next round; nothing wakes it early (the process
//! ends it at exit).

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{info, warn, Level};

use crate::events::{self, Importance};
use crate::relay::upstream::addresses::{self, Addresses};
use crate::relay::upstream::destination::Destination;

/// The resolver's stack. `getaddrinfo` with NSS modules loaded wants more than a pump: glibc's DNS
/// code keeps a 64 KiB answer buffer on the stack, so a quarter of the 2 MiB default.
const RESOLVER_STACK_SIZE: usize = 512 * 1024;

/// Start the resolver thread for the destinations given by name, if there are any and `every` is
/// not zero; `false` if there is nothing to follow.
pub fn start(destinations: &[Arc<Destination>], every: Duration) -> io::Result<bool> {
    let named: Vec<Arc<Destination>> = (destinations.iter())
        .filter(|d| matches!(d.addresses(), Addresses::Moving(_)))
        .cloned()
        .collect();
    if named.is_empty() || every.is_zero() {
        return Ok(false);
    }
    thread::Builder::new()
        .name("resolver".into())
        .stack_size(RESOLVER_STACK_SIZE)
        .spawn(move || resolve_forever(&named, every))?;
    Ok(true)
}

fn resolve_forever(named: &[Arc<Destination>], every: Duration) {
    let mut failing = vec![false; named.len()];
    let mut next = Instant::now() + every;
    loop {
        thread::sleep(next.saturating_duration_since(Instant::now()));
        next += every;
        for (destination, failing) in named.iter().zip(&mut failing) {
            resolve_again(destination, failing);
        }
        // A round that took longer than the interval (a slow DNS server) starts the next at once,
        // and the schedule does not try to catch up the rounds it missed.
        next = next.max(Instant::now());
    }
}

/// One name, asked once more. `failing` is whether the last answer was a failure.
fn resolve_again(destination: &Destination, failing: &mut bool) {
    let name = destination.name();
    let why = match addresses::resolve(&name.host, name.port) {
        Ok(list) if !list.is_empty() => {
            if std::mem::take(failing) {
                info!("destination {name} resolves again");
            }
            if let Some(old) = destination.addresses().replace(list) {
                moved(destination, &old);
            }
            return;
        }
        Ok(_) => "no addresses".to_string(),
        Err(e) => e.to_string(),
    };
    if !std::mem::replace(failing, true) {
        let kept = addresses::join(&destination.current());
        warn!(
            "cannot re-resolve destination '{}': {why}; keeping {kept}",
            name.host
        );
    }
}

/// Log a move: the `resolved` event, with the old and the new addresses.
fn moved(destination: &Destination, old: &[std::net::SocketAddr]) {
    let name = destination.name();
    let (old, new) = (
        addresses::join(old),
        addresses::join(&destination.current()),
    );
    let text = format!("destination {name} moved: {old} → {new}; new pairs go to {new}");
    events::emit(Level::Info, Importance::Normal, "resolved", &text, |out| {
        out.str("destination", name)
            .str("previous", &old)
            .str("addresses", &new);
    });
}
