//! The client side of a test: connect (from a chosen address, with a small window), ping, send and
//! read everything, flood, read slowly, leave with a reset, expect a reset.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};

use super::PATIENCE;

/// A connection to `to` with PATIENCE for every read and write.
pub fn connect(to: SocketAddr) -> TcpStream {
    try_connect(to).unwrap_or_else(|e| panic!("connect to {to}: {e}"))
}

/// Like [`connect`], for callers that count a failed connect rather than fail on it.
pub fn try_connect(to: SocketAddr) -> io::Result<TcpStream> {
    patient(TcpStream::connect(to)?)
}

fn patient(stream: TcpStream) -> io::Result<TcpStream> {
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    Ok(stream)
}

/// A connection from a chosen loopback address (127.0.0.2, say), to test `--allow`.
pub fn connect_from(source: &str, to: SocketAddr) -> io::Result<TcpStream> {
    let from = SocketAddr::new(source.parse().expect("source address"), 0);
    let socket = Socket::new(Domain::for_address(from), Type::STREAM, None)?;
    socket.bind(&from.into())?;
    socket.connect(&to.into())?;
    patient(socket.into())
}

/// A connection whose receive buffer (and so its TCP window) is `bytes`, set before the handshake.
pub fn connect_with_receive_buffer(to: SocketAddr, bytes: usize) -> TcpStream {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    socket.connect(&to.into()).expect("connect");
    patient(socket.into()).expect("set timeouts")
}

/// Close with a RST instead of a FIN (SO_LINGER 0, then close).
pub fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
}

/// One small request and its echo, timed.
pub fn ping(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(message).expect("ping write");
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).expect("ping read");
    assert_eq!(reply, message);
    started.elapsed()
}

/// Write `data` and half-close, from a thread, while this thread reads everything back.
pub fn round_trip_with_half_close(stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        writer.write_all(&data).expect("send payload");
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut received = Vec::new();
    (&stream).read_to_end(&mut received).expect("read reply");
    sender.join().expect("sender thread");
    received
}

/// Read until the peer closes (EOF or reset); how many bytes arrived. Panics if the connection is
/// still open when a read times out: a test that drains is waiting for a close.
pub fn drain(stream: &mut TcpStream) -> usize {
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                panic!("still open after {total} bytes: no EOF or reset within the read timeout")
            }
            Err(_) => return total,
        }
    }
}

/// Read until the connection ends, which must be a reset: an abort is never to look like an end.
/// Panics on an EOF (a FIN where a reset was due) and on a read timeout; returns how many bytes
/// arrived before the reset.
pub fn read_until_reset(stream: &mut TcpStream) -> usize {
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => panic!("an EOF (FIN) after {total} bytes where a reset was due"),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("no reset after {total} bytes: {e} ({:?})", e.kind()),
        }
    }
}

/// Write 64 KiB chunks until the peer stops taking them and the connection breaks. Returns when
/// the last write moved bytes and when the failure came.
///
/// Each write may block for at most 20 ms: a blocking write that is interrupted by the reset
/// returns the bytes it copied long before, which would make the last progress look as late as the
/// cut. With short calls, a write that returns bytes moved them within the last 20 ms.
pub fn flood_until_cut(stream: TcpStream) -> (Instant, Instant) {
    stream
        .set_write_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let give_up = Instant::now() + PATIENCE * 2;
    let mut last_ok = Instant::now();
    while Instant::now() < give_up {
        match (&stream).write(&chunk) {
            Ok(0) => break,
            Ok(_) => last_ok = Instant::now(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (last_ok, Instant::now())
}

/// Read `chunk` bytes, pause, repeat, for `duration`; panics if the connection ends meanwhile.
pub fn read_slowly(client: &mut TcpStream, chunk: usize, pause: Duration, duration: Duration) {
    let started = Instant::now();
    let mut buf = vec![0u8; chunk];
    let mut total = 0;
    while started.elapsed() < duration {
        let n = client.read(&mut buf).expect("slow read");
        let secs = started.elapsed().as_secs_f64();
        assert!(n > 0, "cut after {secs:.2} s having read {total} bytes");
        total += n;
        thread::sleep(pause); // the slowness under test
    }
}
