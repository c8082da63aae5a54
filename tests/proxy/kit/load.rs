//! Load that must go through an upgrade untouched: short echo clients every few milliseconds, and
//! slow multi-megabyte downloads, each checked byte for byte. Every client that is refused, reset
//! or cut short is counted, with what happened to it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::data::random_bytes;
use super::servers::serve;
use super::PATIENCE;

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Counts {
    pub ok: usize,
    /// Connections refused (nobody listening, or the queue gone).
    pub refused: usize,
    /// Connections reset, or broken, after they were accepted.
    pub reset: usize,
    /// Anything else: a short answer, a wrong one, a timeout; with what happened.
    pub other: Vec<String>,
}

/// Echo clients, each connecting, saying one line, reading it back and closing, in a loop.
pub struct EchoLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Counts>>,
}

impl EchoLoad {
    /// `clients` threads, each starting a new client every `every` through `proxy`.
    pub fn start(proxy: SocketAddr, clients: usize, every: Duration) -> EchoLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..clients)
            .map(|n| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut counts = Counts::default();
                    let mut round = 0;
                    while !stop.load(Ordering::SeqCst) {
                        one_echo(proxy, &format!("client {n} round {round}\n"), &mut counts);
                        round += 1;
                        thread::sleep(every); // the load's pace
                    }
                    counts
                })
            })
            .collect();
        EchoLoad { stop, threads }
    }

    /// Stop the clients and add up what they saw.
    pub fn finish(self) -> Counts {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Counts::default();
        for thread in self.threads {
            let counts = thread.join().expect("an echo client thread");
            total.ok += counts.ok;
            total.refused += counts.refused;
            total.reset += counts.reset;
            total.other.extend(counts.other);
        }
        total
    }
}

fn one_echo(proxy: SocketAddr, line: &str, counts: &mut Counts) {
    let outcome = TcpStream::connect_timeout(&proxy, PATIENCE).and_then(|mut stream| {
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.set_write_timeout(Some(PATIENCE))?;
        stream.write_all(line.as_bytes())?;
        let mut back = vec![0u8; line.len()];
        stream.read_exact(&mut back)?;
        if back != line.as_bytes() {
            return Err(io::Error::other("a different answer"));
        }
        Ok(())
    });
    match outcome {
        Ok(()) => counts.ok += 1,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => counts.refused += 1,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ) =>
        {
            counts.reset += 1
        }
        Err(e) => counts.other.push(format!("{line:?}: {e}")),
    }
}

/// What a client says to be sent the download rather than an echo.
const DOWNLOAD: &str = "download\n";

/// One destination for both kinds of client: a client that begins with [`DOWNLOAD`] is sent
/// `bytes` pseudo-random bytes (seeded by `seed`) in 64 pieces spread over `over`, then the
/// server closes; any other first line is echoed, and the rest with it. Also the bytes, to check
/// a download against.
pub fn mixed_server(seed: u64, bytes: usize, over: Duration) -> (SocketAddr, Arc<Vec<u8>>) {
    let data = Arc::new(random_bytes(seed, bytes));
    let sent = Arc::clone(&data);
    let address = serve(move |mut stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        if line != DOWNLOAD {
            let _ = stream.write_all(line.as_bytes());
            let _ = io::copy(&mut reader, &mut stream);
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        let pieces = 64;
        for piece in sent.chunks(sent.len().div_ceil(pieces)) {
            if stream.write_all(piece).is_err() {
                return;
            }
            thread::sleep(over / pieces as u32); // the pace under test
        }
    });
    (address, data)
}

/// A client downloading through the proxy to the server's close, on its own thread.
pub struct Download {
    received: Arc<AtomicUsize>,
    thread: JoinHandle<Result<usize, String>>,
}

impl Download {
    pub fn start(proxy: SocketAddr, expected: Arc<Vec<u8>>) -> Download {
        let received = Arc::new(AtomicUsize::new(0));
        let progress = Arc::clone(&received);
        let thread = thread::spawn(move || {
            let text = |e: io::Error| e.to_string();
            let mut stream = TcpStream::connect_timeout(&proxy, PATIENCE).map_err(text)?;
            stream.set_read_timeout(Some(PATIENCE)).map_err(text)?;
            stream.write_all(DOWNLOAD.as_bytes()).map_err(text)?;
            let mut got = Vec::with_capacity(expected.len());
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        progress.store(got.len(), Ordering::SeqCst);
                    }
                    Err(e) => return Err(format!("after {} bytes: {e}", got.len())),
                }
            }
            if *got == **expected {
                Ok(got.len())
            } else {
                Err(format!(
                    "{} bytes, not the {} sent",
                    got.len(),
                    expected.len()
                ))
            }
        });
        Download { received, thread }
    }

    /// Wait (bounded by PATIENCE) until some bytes have arrived: the download is under way.
    pub fn wait_until_flowing(&self) {
        let deadline = Instant::now() + PATIENCE;
        while self.received.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the download never started");
            thread::sleep(Duration::from_millis(5)); // progress has no event to wait on
        }
    }

    /// How the download ended: the bytes received whole, or what went wrong.
    pub fn finish(self) -> Result<usize, String> {
        self.thread.join().expect("a download thread")
    }
}
