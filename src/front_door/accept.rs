//! The accept loop: the main thread's whole job once the proxy is listening.
//!
//! It does four things, in a loop, and nothing else: wait until a pair may start
//! (`--max-connections`), block in `accept`, check the client against `--allow`, and hand the client
//! to the relay, which gives it a pair with its own threads. It never connects, reads or writes for
//! a client, so no slow peer can delay the next `accept`.
//!
//! It blocks in `accept` (woken by a client, or interrupted by a stop: `wake.rs`) and, at the
//! connection limit, in [`LivePairs::wait_for_room`]. When a stop is requested it closes its
//! descriptor of the listener and hands the live pairs back (`shutdown.rs` says what happens to
//! them). After a signal that descriptor is the socket's last, so the socket closes and new
//! clients are refused; after an upgrade's handover the new process holds its own descriptor of
//! the same socket, which lives on (a `close` drops one reference; only `shutdown` would act on
//! the socket itself, for both processes, and nothing here calls it).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::{debug, warn};

use crate::front_door::gate::{DoorCounts, Gate};
use crate::front_door::live::LivePairs;
use crate::front_door::stop::Stop;
use crate::front_door::wake::Inside;
use crate::ratelimit::RateLimit;
use crate::relay::Relay;

/// Pause after an accept error that is not about one client (EMFILE, ENFILE, ENOBUFS, ...). Retrying
/// at once would spin a core while nothing can change; a tenth of a second costs a client little.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The same event logged at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Who may come in, and how many at once.
pub struct Door {
    pub gate: Arc<Gate>,
    /// `--accept-proxy`: the client is named by its PROXY header, which the pair's own thread
    /// reads and then asks the gate about; the accept loop lets every client through to it.
    pub accept_proxy: bool,
    pub max_connections: usize,
    /// What the door counted, for the stats table and the metrics.
    pub counts: Arc<DoorCounts>,
}

/// One rate limit per kind of event that a flood of clients could repeat thousands of times a second.
struct LogLimits {
    accept_errors: RateLimit,
    at_limit: RateLimit,
    spawn_failures: RateLimit,
}

/// Accept clients until a stop is requested; then close our descriptor of the listener (see the
/// module's docs) and return the pairs still live.
pub fn serve(
    listener: Arc<TcpListener>,
    door: &Door,
    relay: &Arc<Relay>,
    stop: &Stop,
    mut live: LivePairs,
) -> LivePairs {
    let mut logs = LogLimits {
        accept_errors: RateLimit::new(LOG_INTERVAL),
        at_limit: RateLimit::new(LOG_INTERVAL),
        spawn_failures: RateLimit::new(LOG_INTERVAL),
    };
    let mut next_id: u64 = 1;
    // Entered before the flag is first read, so a stop requested from now on interrupts accept.
    let inside = stop.accept_loop().enter();
    while !stop.is_requested() {
        live.reap();
        if !wait_for_room(&mut live, door.max_connections, stop, &mut logs.at_limit) {
            break;
        }
        let (client, client_addr) = match accept(&inside, &listener) {
            Ok(accepted) => accepted,
            // A stop's interrupt (or any signal): the loop looks at the flag.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                door.counts.accept_failed();
                after_accept_error(&e, &mut logs.accept_errors);
                continue;
            }
        };
        // A client accepted as a stop begins is served like the others: it is nobody's knock
        // (there is none), and after a handover nobody else would serve it.
        let slot = if door.accept_proxy {
            None // the pair's thread asks the gate, once the header names the client
        } else {
            match door.gate.admit(client_addr) {
                Ok(slot) => Some(slot),
                Err(_) => continue, // counted and logged; dropping `client` closes it
            }
        };
        let pair = relay.open(next_id, client, client_addr);
        next_id += 1;
        let ticket = (live.admit(&pair), slot);
        if let Err(e) = relay.start(pair, ticket) {
            // The pair and its client went down with the thread's closure: only this client loses.
            if let Some(held_back) = logs.spawn_failures.check() {
                warn!("client {client_addr} dropped: no thread for it: {e} ({held_back} more since last report)");
            }
        }
    }
    drop(inside);
    drop(listener);
    door.gate.flush_logs();
    live
}

/// The next client, with its address as people (and `--allow` rules) write it: a dual-stack
/// socket reports IPv4 clients as `::ffff:a.b.c.d`.
fn accept(inside: &Inside, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (client, addr) = inside.accept(listener)?;
    Ok((
        client,
        SocketAddr::new(addr.ip().to_canonical(), addr.port()),
    ))
}

/// At the connection limit, wait for a pair to end; the kernel's backlog queues new clients
/// meanwhile. Says so when it starts waiting (at most once a second, since a busy proxy can touch
/// the limit with every accept). `false` if a stop was requested instead.
fn wait_for_room(live: &mut LivePairs, max: usize, stop: &Stop, log_limit: &mut RateLimit) -> bool {
    if live.len() < max {
        return true;
    }
    if let Some(held_back) = log_limit.check() {
        warn!(
            "{max} pairs live (--max-connections): waiting for one to end before accepting more \
             ({held_back} more waits since last report)"
        );
    }
    let room = live.wait_for_room(max, stop.wake_up());
    if room {
        debug!("a pair ended: accepting again");
    }
    room
}

fn after_accept_error(err: &io::Error, limit: &mut RateLimit) {
    if let Some(held_back) = limit.check() {
        warn!("accept failed: {err} ({held_back} more since last report); retrying");
    }
    // A client that gave up while queued (ECONNABORTED) says nothing about the next accept;
    // anything else (out of descriptors, memory) needs time to clear.
    let about_one_client = matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    );
    if !about_one_client {
        thread::sleep(ACCEPT_BACKOFF);
    }
}
