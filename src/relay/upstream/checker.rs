//! `--check-interval SECS`: active health checks. Every SECS, a TCP connect to each destination,
//! within `--connect-timeout`, closed at once; it marks the destination up when it answers and
//! counts as a failed connect (toward `--max-fails`) when it does not. So a dead destination is
//! found before a client is sent to it, and one that is back is used again as soon as it is.
//!
//! One thread per destination, named `check HOST:PORT`, each blocking on one thing: its own
//! connect, then a sleep. A destination that drops SYNs holds its checker for the whole connect
//! timeout, and only its checker: the others keep their schedule. One thread for all would check
//! them in turn, and one black hole would delay every other check by its timeout; checking them
//! all at once from one thread would need non-blocking connects and `poll`, the event loop this
//! proxy does without. A thread costs a stack's address space and a few KiB of memory; a pool
//! has as many destinations as a person types. No check ever runs on a pair's thread.
//!
//! Blocking: `connect` (bounded by `--connect-timeout`, or by the interval when that is off),
//! then a sleep until the next check; nothing wakes them early (the process ends them at exit).

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::relay::upstream::connect;
use crate::relay::upstream::destination::Destination;
use crate::relay::upstream::health::Prober;
use crate::relay::upstream::pool::Dial;

/// A checker's stack: a connect and a log line need what a pump needs (see the pair threads'
/// `PAIR_STACK_SIZE`, measured at 8 KiB used), so the same 256 KiB of address space.
const CHECKER_STACK_SIZE: usize = 256 * 1024;

/// Start one checker thread per destination, checking every `every`.
pub fn start(destinations: &[Arc<Destination>], dial: Dial, every: Duration) -> io::Result<()> {
    // With no connect timeout of our own, a check that outlasts its interval has failed anyway.
    let dial = Dial {
        timeout: dial.timeout.or(Some(every)),
        ..dial
    };
    for destination in destinations {
        let destination = Arc::clone(destination);
        thread::Builder::new()
            .name(format!("check {}", destination.name()))
            .stack_size(CHECKER_STACK_SIZE)
            .spawn(move || check_forever(&destination, dial, every))?;
    }
    Ok(())
}

/// Check now, then every `every` from the start of the last check (a slow check does not push the
/// schedule back, and a check that took longer than the interval is followed at once).
fn check_forever(destination: &Destination, dial: Dial, every: Duration) {
    loop {
        let next = Instant::now() + every;
        check(destination, dial);
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// One check: connect, and close again at once (the destination sees a connection that says
/// nothing; a database logs it as an incomplete start-up).
pub fn check(destination: &Destination, dial: Dial) {
    match connect::first_answering(&destination.current(), dial.timeout, dial.source) {
        Ok(_) => destination.reached(Prober::Check),
        Err(error) => destination.failed(Prober::Check, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::upstream::health::HealthRule;
    use crate::relay::upstream::name::Name;
    use std::net::TcpListener;

    #[test]
    fn a_check_marks_a_dead_destination_down_and_a_live_one_up() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let rule = HealthRule {
            max_fails: 1,
            fail_timeout: Duration::from_secs(1),
            checked: true,
        };
        let name = Name {
            host: "127.0.0.1".into(),
            port: address.port(),
        };
        let d = Destination::from_addresses(name, vec![address], rule, false).unwrap();
        let dial = Dial {
            timeout: Some(Duration::from_secs(2)),
            source: None,
        };
        check(&d, dial);
        assert!(d.is_up());
        drop(listener);
        check(&d, dial);
        assert!(!d.is_up(), "refused: down");
        let view = d.view();
        assert_eq!(
            (view.pairs, view.connect_failures),
            (0, 0),
            "checks are not pairs"
        );
        let listener = TcpListener::bind(address).unwrap();
        check(&d, dial);
        assert!(d.is_up(), "back");
        drop(listener);
    }
}
