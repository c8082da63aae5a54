//! The lab's answer, the card's design and nothing else: the main thread blocks in `accept`; each
//! pair (a client and its own connection to HOST:PORT) has two OS threads, one per direction,
//! asleep in `read` or `write` till bytes, a socket timeout or the other thread wakes them. Each
//! part names the module of tcpproxy (src/) that grows from it.

use std::io::ErrorKind::{Interrupted, WouldBlock};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};
use std::{fmt::Display, process::exit, sync::Arc, thread};

const USAGE: &str = "usage: lab HOST PORT LISTEN [TIMEOUT_SECS]";
const DEFAULT_TIMEOUT_SECS: &str = "10"; // the lab's rule: a pair hung for 10 seconds is cut
/// A blocked write wakes this often for the stall rule: a write of T would learn of a stall at 2T.
const WRITE_CHECK: Duration = Duration::from_millis(250);

fn quit(code: i32, why: impl Display) -> ! {
    eprintln!("{why}");
    exit(code)
}
// Start-up (src/cli/, src/startup/, src/front_door/listener.rs); exits 2 (usage) or 1.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, p, l, t) = match args.as_slice() {
        [host, p, l] => (host, p, l, DEFAULT_TIMEOUT_SECS),
        [host, p, l, t] => (host, p, l, t.as_str()),
        _ => quit(2, USAGE),
    };
    let (Ok(port), Ok(listen), Ok(secs @ 1..)) = (p.parse(), l.parse(), t.parse::<u64>()) else {
        quit(2, USAGE)
    };
    // Resolved once, at start: a typo is one error now, not one per client.
    let dest: Arc<[SocketAddr]> = match (host.as_str(), port).to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => quit(1, format!("lab: cannot resolve {host}: {e}")),
    };
    // `[::]` takes IPv4 clients too (Linux's default); 0.0.0.0 on a host without IPv6.
    let bind = |ip: &str| TcpListener::bind((ip, listen));
    let bound = bind("::").or_else(|_| bind("0.0.0.0"));
    let (addr, listener) = bound
        .and_then(|l| Ok((l.local_addr()?, l)))
        .unwrap_or_else(|e| quit(1, format!("lab: cannot listen on port {listen}: {e}")));
    eprintln!("lab: listening on {addr}, timeout {secs} s");
    // The accept loop (src/front_door/accept.rs) only accepts and spawns: no peer stalls it.
    loop {
        let Ok((client, _)) = listener.accept().map_err(|e| eprintln!("lab: accept: {e}")) else {
            thread::sleep(Duration::from_millis(100)); // out of descriptors, say: wait, do not spin
            continue;
        };
        let dest = Arc::clone(&dest);
        spawn(move || open(client, &dest, Duration::from_secs(secs)));
    }
}
// A thread the OS cannot start drops its closure, so its sockets close: a pair ends, not the proxy.
fn spawn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> bool {
    let started = thread::Builder::new().spawn(work);
    started.map_err(|e| eprintln!("lab: spawn: {e}")).is_ok()
}
// A pair's life (src/relay/lifecycle.rs). Its own thread connects, not the accept loop: if the
// destination is down, only this client waits, each address for at most T (upstream/connect.rs).
fn open(client: TcpStream, dest: &[SocketAddr], timeout: Duration) {
    let connect = |a: &SocketAddr| TcpStream::connect_timeout(a, timeout).ok();
    let Some(server) = dest.iter().find_map(connect) else {
        return eprintln!("lab: cannot connect to {dest:?} (each for {timeout:?} at most); closed");
    };
    let pair = Arc::new(Pair {
        sockets: [client, server],
        timeout,
        ended: AtomicBool::new(false),
        zero: Instant::now(),
        last: AtomicU64::new(0),
    });
    let other = Arc::clone(&pair); // the last thread to end drops the last Arc: the sockets close
    if spawn(move || other.pump(&other.sockets[1], &other.sockets[0], "server->client")) {
        pair.pump(&pair.sockets[0], &pair.sockets[1], "client->server");
    }
}
// What the two threads share (grows into src/relay/pair.rs; the clock into src/relay/hang.rs).
struct Pair {
    sockets: [TcpStream; 2], // the client, the server
    timeout: Duration,
    ended: AtomicBool, // set once, by whichever thread ends the pair
    zero: Instant,     // the clock's zero
    last: AtomicU64,   // nanoseconds after `zero` when a byte last moved, either way
}
impl Pair {
    fn moved(&self) -> Instant {
        let now = Instant::now();
        self.last.store((now - self.zero).as_nanos() as u64, SeqCst);
        now
    }
    // The end, said once, wakes the other thread. The lab shuts both sockets down; tcpproxy resets
    // them (src/relay/reset.rs), as a FIN looks like a normal end: a cut download would look whole.
    fn end<T>(&self, way: &str, why: impl Display) -> Option<T> {
        if !self.ended.swap(true, SeqCst) {
            eprintln!("lab: pair ended ({way}): {why}");
            let _ = self.sockets.each_ref().map(|s| s.shutdown(Shutdown::Both));
        }
        None
    }
    // One direction (grows into src/relay/pump/mod.rs). `None`: the pair is over.
    fn pump(&self, mut from: &TcpStream, to: &TcpStream, way: &str) -> Option<()> {
        let armed = to.set_write_timeout(Some(WRITE_CHECK));
        armed.map_err(|e| self.end::<()>(way, e)).ok()?;
        self.rearm(from, way)?; // nothing has moved yet: the whole timeout
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(_) if self.ended.load(SeqCst) => return None, // our own shutdown reads as EOF
                Ok(0) => break,
                Ok(n) => self.write_all(to, &buffer[..n], way)?,
                // EINTR too: a timed socket call fails so after ^Z and `fg`, see signal(7).
                Err(e) if matches!(e.kind(), WouldBlock | Interrupted) => self.rearm(from, way)?,
                Err(e) => return self.end(way, e),
            }
        }
        // Half-close: pass the EOF on as shutdown(Write) only. The other side may still be sending
        // (a client that sent its request waits for the answer): the other direction goes on.
        to.shutdown(Shutdown::Write).ok()
    }
    // The hang rule, per pair (src/relay/hang.rs): a quiet direction is no hang by itself (the
    // upload of a long download), so a timed-out read asks the pair. The flag first: if the other
    // thread ended the pair, there is nothing to judge. Re-arm with the time left, not a fresh T:
    // bytes that moved the other way put the deadline later; waiting what is left cuts at T.
    fn rearm(&self, from: &TcpStream, way: &str) -> Option<()> {
        let last = Duration::from_nanos(self.last.load(SeqCst));
        let quiet = self.zero.elapsed().saturating_sub(last);
        if self.ended.load(SeqCst) || quiet >= self.timeout {
            return self.end(way, "idle: no byte moved either way");
        }
        let armed = from.set_read_timeout(Some(self.timeout - quiet));
        armed.map_err(|e| self.end::<()>(way, e)).ok()
    }
    // Deliver `bytes` however slowly `to` reads: a partial write is progress; none in T is a stall.
    fn write_all(&self, mut to: &TcpStream, mut bytes: &[u8], way: &str) -> Option<()> {
        let mut last = self.moved(); // the read that brought `bytes`; the stall clock starts now
        while !bytes.is_empty() {
            match to.write(bytes) {
                Ok(n) if n > 0 => (bytes, last) = (&bytes[n..], self.moved()),
                Err(e) if !matches!(e.kind(), WouldBlock | Interrupted) => return self.end(way, e),
                _ if self.ended.load(SeqCst) || last.elapsed() >= self.timeout => {
                    return self.end(way, "stall: the receiver took no byte")
                }
                _ => {}
            }
        }
        Some(())
    }
}
