//! Destinations on several loopback addresses (127.0.0.2, 127.0.0.3, ...: all of 127.0.0.0/8 is
//! loopback on Linux), each saying who it is: a client learns which one the proxy chose from the
//! first line it reads. Each counts what it accepted and can be killed (its port then refuses) and
//! started again on the same address, in the middle of a run.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use super::client;
use super::servers::{echo, take_down};

/// A destination that answers each connection with its own address and a newline, then echoes.
pub struct Backend {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Backend {
    /// A backend on `ip`, on a port the kernel picks.
    pub fn start(ip: &str) -> Backend {
        let listener = TcpListener::bind((ip, 0)).expect("bind a backend");
        Backend::serving(listener)
    }

    /// A backend on exactly `addr`, if that port is free there.
    pub fn start_at(addr: SocketAddr) -> Option<Backend> {
        TcpListener::bind(addr).ok().map(Backend::serving)
    }

    fn serving(listener: TcpListener) -> Backend {
        let backend = Backend {
            addr: listener.local_addr().expect("addr"),
            up: Arc::new(AtomicBool::new(false)),
            accepted: Arc::new(AtomicUsize::new(0)),
        };
        backend.serve(listener);
        backend
    }

    fn serve(&self, listener: TcpListener) {
        self.up.store(true, Ordering::SeqCst);
        let (up, accepted, me) = (Arc::clone(&self.up), Arc::clone(&self.accepted), self.addr);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if !up.load(Ordering::SeqCst) {
                    return; // dropping the listener: the port now refuses
                }
                accepted.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let mut stream = stream;
                    if writeln!(stream, "{me}").is_ok() {
                        echo(stream);
                    }
                });
            }
        });
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Stop listening: from now on a connect to it is refused. Live connections go on.
    pub fn kill(&self) {
        take_down(&self.up, self.addr);
    }

    /// Listen again on the same address.
    pub fn revive(&self) {
        self.serve(TcpListener::bind(self.addr).expect("rebind the backend"));
    }
}

/// Connect through the proxy at `proxy` and read which backend answered; the connection, for a
/// test that keeps the pair live.
pub fn reach(proxy: SocketAddr) -> (String, BufReader<TcpStream>) {
    let mut reader = BufReader::new(client::connect(proxy));
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("no backend answered through {proxy}: {e}"));
    assert!(
        line.ends_with('\n'),
        "the pair ended before a backend spoke: {line:?}"
    );
    (line.trim_end().to_string(), reader)
}

/// The backend a connection to `to` reaches, or `None` if it is closed or reset before one
/// speaks (a balancer with no server up, a proxy whose every destination failed).
pub fn try_reach(to: SocketAddr) -> Option<String> {
    let mut reader = BufReader::new(client::try_connect(to).ok()?);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(_) if line.ends_with('\n') => Some(line.trim_end().to_string()),
        _ => None,
    }
}

/// The backend a new pair through `proxy` reaches.
pub fn who_answers(proxy: SocketAddr) -> String {
    reach(proxy).0
}

/// Backends on `ips`, all on one port (a name that moves keeps its port): the first on a port
/// the kernel picks, the others on the same port at their addresses, retried on a fresh port if
/// one is taken there.
pub fn on_one_port(ips: &[&str]) -> Vec<Backend> {
    for _ in 0..20 {
        let first = Backend::start(ips[0]);
        let port = first.addr.port();
        let others: Option<Vec<Backend>> = (ips[1..].iter())
            .map(|ip| Backend::start_at(SocketAddr::new(ip.parse().expect("an IP"), port)))
            .collect();
        if let Some(others) = others {
            return std::iter::once(first).chain(others).collect();
        }
        first.kill();
    }
    panic!("no port free on all of {ips:?}");
}
