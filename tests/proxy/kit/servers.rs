//! Loopback servers for the proxy to relay to: echo, flood, holding (the test decides), deaf (never
//! accepts), faulty (resets on request, goes down and up), the lab's BIG/ok server, and an address
//! where nothing listens.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::client;
use super::PATIENCE;

/// A loopback (127.0.0.1) server that hands each connection to `handle` on its own thread.
pub fn serve<F>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + Clone + 'static,
{
    serve_at("127.0.0.1", handle)
}

/// Like [`serve`], on the loopback address `ip` ("127.0.0.1", "::1").
pub fn serve_at<F>(ip: &str, handle: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + Clone + 'static,
{
    let listener: TcpListener = listener(ip, 4096).into();
    let addr = listener.local_addr().expect("local addr");
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let handle = handle.clone();
            thread::spawn(move || handle(stream));
        }
    });
    addr
}

/// A listener on an ephemeral port of `ip` with an accept queue of `backlog`. std's `bind` asks
/// for 128; a burst larger than that makes the kernel drop SYNs and the client retry a second
/// later, which would show up as a slow proxy, so the servers ask for 4096.
fn listener(ip: &str, backlog: i32) -> Socket {
    let addr = SocketAddr::new(ip.parse().expect("an IP address"), 0);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    socket.bind(&addr.into()).expect("bind test server");
    socket.listen(backlog).expect("listen");
    socket
}

/// Echo everything back; on EOF, half-close in return.
pub fn echo(mut stream: TcpStream) {
    let reader = stream.try_clone().expect("clone");
    let _ = io::copy(&mut &reader, &mut stream);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Send as fast as the peer takes, until it goes away.
pub fn flood(mut stream: TcpStream) {
    let chunk = vec![b'z'; 64 * 1024];
    while stream.write_all(&chunk).is_ok() {}
}

pub fn echo_server() -> SocketAddr {
    serve(echo)
}

pub fn flood_server() -> SocketAddr {
    serve(flood)
}

/// A server that accepts and hands each connection to the test, which decides what (not) to do.
pub fn holding_server() -> (SocketAddr, Receiver<TcpStream>) {
    let (sender, accepted) = mpsc::channel();
    let addr = serve(move |stream| {
        let _ = sender.send(stream);
    });
    (addr, accepted)
}

/// Two pairs through the proxy at `proxy`, whose destination hands its connections to
/// `accepted` (a [`holding_server`]): pair 1 frozen — its client, with a 4 KiB receive buffer,
/// never reads while its server floods it (telnet after ^]) — and pair 2 idle, nobody saying
/// anything. Returns pair 1's client, pair 2's client and pair 2's server end.
pub fn frozen_and_idle_pairs(
    proxy: SocketAddr,
    accepted: &Receiver<TcpStream>,
) -> (TcpStream, TcpStream, TcpStream) {
    let frozen = client::connect_with_receive_buffer(proxy, 4096);
    let flooding = accepted
        .recv_timeout(PATIENCE)
        .expect("pair 1 at the server");
    thread::spawn(move || flood(flooding));
    let idle = client::connect(proxy);
    let idle_server = accepted
        .recv_timeout(PATIENCE)
        .expect("pair 2 at the server");
    (frozen, idle, idle_server)
}

/// The lab's answer to `GET /~rtm/ok`.
pub const OK_BODY: &[u8] = b"You were able to fetch the data.\n";

/// The lab's acceptance test server, made local: one request line, then `GET /~rtm/ok` gets
/// [`OK_BODY`] and `GET /~rtm/BIG` an endless body, each followed by a close. The receiver hears
/// each time a BIG write has waited 200 ms without its reader taking the rest: a client that
/// stopped reading has filled every buffer between it and the server.
pub fn big_ok_server() -> (SocketAddr, Receiver<()>) {
    let (sender, blocked) = mpsc::channel();
    let addr = serve(move |stream| big_or_ok(stream, &sender));
    (addr, blocked)
}

fn big_or_ok(mut stream: TcpStream, blocked: &Sender<()>) {
    let mut request = String::new();
    let reader = stream.try_clone().expect("clone");
    if BufReader::new(reader).read_line(&mut request).is_err() {
        return;
    }
    match request.trim_end() {
        "GET /~rtm/ok" => drop(stream.write_all(OK_BODY)),
        "GET /~rtm/BIG" => {
            let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
            let chunk = vec![b'B'; 64 * 1024];
            loop {
                match stream.write(&chunk) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let _ = blocked.send(()); // the test may have stopped listening
                    }
                    Err(_) => return,
                }
            }
        }
        _ => {}
    }
}

/// An address where nothing listens (a port just freed).
pub fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A destination that accepts nobody: a listener with `listen(0)` whose accept queue is already
/// full of the test's own connections, so the kernel drops further SYNs unanswered (and the
/// connecting side retries about a second later).
pub struct DeafDestination {
    pub addr: SocketAddr,
    listener: Socket,
    fillers: Vec<TcpStream>,
}

impl DeafDestination {
    pub fn start() -> DeafDestination {
        let listener = listener("127.0.0.1", 0);
        let addr = listener
            .local_addr()
            .expect("addr")
            .as_socket()
            .expect("inet");
        let fillers: Vec<TcpStream> = (0..2)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok())
            .collect();
        assert!(!fillers.is_empty(), "could not fill the accept queue");
        DeafDestination {
            addr,
            listener,
            fillers,
        }
    }

    /// Accept the fillers, so that the next SYN (a retry of one dropped before) gets in.
    pub fn make_room(&mut self) {
        for _ in &self.fillers {
            self.accept_within(Duration::from_secs(1));
        }
    }

    /// The next connection in the accept queue; panics if none arrives within `limit`.
    pub fn accept_within(&self, limit: Duration) -> TcpStream {
        // Linux honours SO_RCVTIMEO in accept(2).
        self.listener
            .set_read_timeout(Some(limit))
            .expect("accept timeout");
        let (socket, _) = self
            .listener
            .accept()
            .unwrap_or_else(|e| panic!("nothing reached the destination within {limit:?}: {e}"));
        socket.into()
    }
}

/// The destination: echoes, except that a request starting with `R` is answered with a reset.
/// It can be switched off (its port then refuses) and on again, on the same port.
pub struct FaultyDestination {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl FaultyDestination {
    pub fn start() -> FaultyDestination {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let destination = FaultyDestination {
            addr,
            up: Arc::new(AtomicBool::new(false)),
        };
        destination.serve(listener);
        destination
    }

    fn serve(&self, listener: TcpListener) {
        self.up.store(true, Ordering::SeqCst);
        let up = Arc::clone(&self.up);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if !up.load(Ordering::SeqCst) {
                    return; // dropping the listener: the port now refuses
                }
                thread::spawn(move || answer_or_reset(stream));
            }
        });
    }

    pub fn down(&self) {
        take_down(&self.up, self.addr);
    }

    pub fn up(&self) {
        self.serve(TcpListener::bind(self.addr).expect("rebind the destination"));
    }
}

fn answer_or_reset(mut stream: TcpStream) {
    let mut first = [0u8; 1];
    if stream.read_exact(&mut first).is_err() {
        return;
    }
    if first[0] == b'R' {
        return client::reset(stream);
    }
    if stream.write_all(&first).is_ok() {
        echo(stream);
    }
}

/// Have the accept loop that watches `up` drop its listener at `addr`: clear the flag, wake the
/// loop with a connection (which it does not count), and wait (bounded) until the port refuses,
/// since until the loop has dropped the listener a connect may still succeed.
pub fn take_down(up: &AtomicBool, addr: SocketAddr) {
    up.store(false, Ordering::SeqCst);
    let _ = TcpStream::connect(addr);
    for _ in 0..200 {
        if TcpStream::connect(addr).is_err() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("{addr} did not go down");
}
