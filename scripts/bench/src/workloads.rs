//! The workloads `make bench` measures, each against one target address (the backend directly, or
//! a proxy in front of it), plus the backend they all talk to. The many-pinger workload, which
//! needs an event loop, is `pingers`'.
//!
//! The backend is one loopback listener inside this process. The first byte of each connection
//! picks its job: `U` read and discard (upload), `D` write until the client leaves (download), `E`
//! echo, `P` echo for the many pingers (in `echo_loop`'s one epoll thread). Everything else is
//! blocking and thread-per-connection, like the proxy under test: the point is to load the proxy,
//! not to be clever here.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;

use crate::echo_loop::EchoLoop;
use std::time::{Duration, Instant};

/// Stack for the backend's many small threads (the 2 MiB default is far more).
const SMALL_STACK: usize = 128 * 1024;

/// Bytes per write or read in the throughput workloads.
const CHUNK: usize = 256 * 1024;

/// Start the backend; returns its address. Its threads live as long as the process.
pub fn start_backend() -> io::Result<SocketAddr> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    socket.set_reuse_address(true)?;
    socket.bind(&any.into())?;
    socket.listen(4096)?; // bursts of thousands of pingers must not overflow the accept queue
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr()?;
    let echo_loop = Arc::new(EchoLoop::start()?);
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let echo_loop = Arc::clone(&echo_loop);
            let _ = thread::Builder::new()
                .stack_size(SMALL_STACK)
                .spawn(move || serve(stream, &echo_loop));
        }
    });
    Ok(addr)
}

fn serve(mut stream: TcpStream, echo_loop: &EchoLoop) {
    let _ = stream.set_nodelay(true);
    let mut mode = [0u8; 1];
    if stream.read_exact(&mut mode).is_err() {
        return;
    }
    if mode[0] == b'P' {
        let _ = echo_loop.add(stream);
        return;
    }
    let mut buffer = vec![0u8; CHUNK];
    match mode[0] {
        b'U' => while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {},
        b'D' => while stream.write_all(&buffer).is_ok() {},
        _ => loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            }
        },
    }
}

fn connect(target: SocketAddr, mode: u8) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(target)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&[mode])?;
    Ok(stream)
}

/// Gbit/s moved by `streams` connections for `duration`, uploading (`U`) or downloading (`D`).
pub fn throughput(
    target: SocketAddr,
    mode: u8,
    streams: usize,
    duration: Duration,
) -> io::Result<f64> {
    let start = Arc::new(Barrier::new(streams + 1));
    let workers: Vec<_> = (0..streams)
        .map(|_| {
            let start = Arc::clone(&start);
            thread::spawn(move || -> io::Result<u64> {
                let mut stream = connect(target, mode)?;
                let mut buffer = vec![0u8; CHUNK];
                start.wait();
                let began = Instant::now();
                let mut moved = 0u64;
                while began.elapsed() < duration {
                    moved += match mode {
                        b'U' => stream.write(&buffer)?,
                        _ => stream.read(&mut buffer)?,
                    } as u64;
                }
                Ok(moved)
            })
        })
        .collect();
    start.wait();
    let mut total = 0;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| io::Error::other("worker panicked"))??;
    }
    Ok(total as f64 * 8.0 / duration.as_secs_f64() / 1e9)
}

/// One 64-byte echo on `stream`; its round-trip time.
fn ping(stream: &mut TcpStream, message: &[u8; 64]) -> io::Result<Duration> {
    let began = Instant::now();
    stream.write_all(message)?;
    let mut reply = [0u8; 64];
    stream.read_exact(&mut reply)?;
    Ok(began.elapsed())
}

/// Round-trip times of `count` back-to-back 64-byte pings on one connection.
pub fn ping_pong(target: SocketAddr, count: usize) -> io::Result<Vec<Duration>> {
    let mut stream = connect(target, b'E')?;
    let message = [b'p'; 64];
    for _ in 0..count / 10 {
        ping(&mut stream, &message)?; // warm up: caches, the scheduler, TCP's window
    }
    (0..count).map(|_| ping(&mut stream, &message)).collect()
}

/// Short connections (connect, one 64-byte echo, close) from `clients` threads for `duration`:
/// connections per second and each one's total time.
pub fn short_connections(
    target: SocketAddr,
    clients: usize,
    duration: Duration,
) -> io::Result<(f64, Vec<Duration>)> {
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            thread::spawn(move || -> io::Result<Vec<Duration>> {
                let message = [b'c'; 64];
                let began = Instant::now();
                let mut times = Vec::new();
                while began.elapsed() < duration {
                    let started = Instant::now();
                    let mut stream = connect(target, b'E')?;
                    ping(&mut stream, &message)?;
                    times.push(started.elapsed());
                }
                Ok(times)
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(
            worker
                .join()
                .map_err(|_| io::Error::other("worker panicked"))??,
        );
    }
    Ok((all.len() as f64 / duration.as_secs_f64(), all))
}

/// Open `count` idle echo connections (`mode` `E`, or `P` for the epoll echo) through `target` and
/// keep them until the returned value drops.
pub fn idle_connections(target: SocketAddr, count: usize, mode: u8) -> io::Result<Vec<TcpStream>> {
    let mut streams: Vec<TcpStream> = (0..count)
        .map(|_| connect(target, mode))
        .collect::<io::Result<_>>()?;
    // One echo each proves every pair is established end to end before anyone measures it.
    let message = [b'i'; 64];
    for stream in &mut streams {
        ping(stream, &message)?;
    }
    Ok(streams)
}
