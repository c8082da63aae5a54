//! bare-relay: tcpproxy's design with nothing else, the floor the bench sets beside it.
//!
//! tcpproxy gives each pair two OS threads, one per direction, each blocked in `read` on its
//! socket. The design has a price of its own: two threads started per connection, a thread woken
//! (a context switch) per message. This program pays that price and no other: no parked threads,
//! no buffer pool, no hang rule, no counters, no log, no limits. So in the bench's table the gap
//! between it and tcpproxy is tcpproxy's own doing, and the gap between it and an event loop
//! (HAProxy, nginx) is the design's. Not for real use: nothing bounds it.
//!
//! Usage: bare-relay LISTEN_PORT DEST_PORT (both on 127.0.0.1)

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// tcpproxy's pair-thread stack (address space, paid for only where touched) and its default
/// timeouts, set by the same calls: on the sockets, the two make the same syscalls.
const STACK: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let ports: Option<Vec<u16>> = std::env::args().skip(1).map(|a| a.parse().ok()).collect();
    let Some(&[listen, dest]) = ports.as_deref().filter(|p| !p.contains(&0)) else {
        eprintln!("usage: bare-relay LISTEN_PORT DEST_PORT (ports 1-65535, on 127.0.0.1)");
        return ExitCode::from(2);
    };
    let cannot = |e: &io::Error| eprintln!("bare-relay: cannot listen on 127.0.0.1:{listen}: {e}");
    let Ok(listener) = bind(listen).inspect_err(cannot) else {
        return ExitCode::from(1);
    };
    let dest = SocketAddr::from((Ipv4Addr::LOCALHOST, dest));
    loop {
        match listener.accept() {
            // The pair's own thread connects, so a slow destination never holds up accept. If
            // it cannot start, the client is dropped, and so closed.
            Ok((client, _)) => drop(spawn(move || drop(pair(client, dest)))),
            // Out of descriptors, say: that lasts until pairs end, so wait rather than spin.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// tcpproxy's backlog of 1,024 (std's listener has 128): bursts of clients wait, not retry.
fn bind(port: u16) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?; // as std's listener does: a restart binds at once
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// This thread carries server→client, a second one client→server. They share both sockets, and
/// whichever ends last drops the last `Arc` and so closes them: no hand-off between the two. On an
/// error the client is closed, and sees EOF: all a relay without a protocol of its own can say.
fn pair(client: TcpStream, dest: SocketAddr) -> io::Result<()> {
    let server = TcpStream::connect(dest)?;
    for socket in [&client, &server] {
        socket.set_nodelay(true)?; // a small message leaves at once, not when Nagle lets it
        socket.set_read_timeout(Some(TIMEOUT))?;
        socket.set_write_timeout(Some(TIMEOUT))?;
    }
    let ends = Arc::new((client, server));
    let theirs = Arc::clone(&ends);
    spawn(move || pump(&theirs.0, &theirs.1))?;
    pump(&ends.1, &ends.0);
    Ok(())
}

/// One direction until its EOF, passed on as a half-close (the other direction may still be
/// talking), or an error, which ends both: the shutdowns wake the other thread from its `read`.
fn pump(mut from: &TcpStream, mut to: &TcpStream) {
    // On the stack: a heap buffer would bring malloc's bookkeeping, which the floor has not.
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => return drop(to.shutdown(Shutdown::Write)),
            Ok(n) if to.write_all(&buffer[..n]).is_ok() => {}
            // A quiet direction is no fault (a download's other half); a write stuck 10 s is.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            _ => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A fresh thread each time, detached: no pool to park it in, nobody waits for it.
fn spawn(work: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new().stack_size(STACK).spawn(work)?;
    Ok(())
}
