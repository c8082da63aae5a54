//! demo-client: a tiny TCP client for the demo scripts, where bash's `/dev/tcp` falls short.
//!
//! Bash can connect and read, but it cannot half-close a socket (send EOF while still reading), and
//! that is exactly what the half-close demo needs to show. This client sends an optional request,
//! optionally half-closes, copies everything it receives to stdout, and reports on stderr how many
//! bytes arrived, how long it took and how the connection ended.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

/// How long to wait for the next byte before giving up (longer than any demo's hang timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect, send REQUEST, print what comes back.
#[derive(Parser)]
#[command(name = "demo-client", version)]
struct Options {
    /// Host to connect to (an IP literal or localhost)
    host: String,
    /// Port to connect to
    port: u16,
    /// Line to send first (a newline is added); nothing is sent if omitted
    #[arg(long)]
    send: Option<String>,
    /// Shut down our write half after sending (EOF toward the server), then keep reading
    #[arg(long)]
    half_close: bool,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let started = Instant::now();
    let stream = match TcpStream::connect((options.host.as_str(), options.port)) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!(
                "demo-client: cannot connect to {}:{}: {e}",
                options.host, options.port
            );
            return ExitCode::from(1);
        }
    };
    match talk(&stream, &options) {
        Ok(received) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!("demo-client: received {received} bytes in {secs:.2} s, then EOF");
            ExitCode::SUCCESS
        }
        Err((received, e)) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!("demo-client: received {received} bytes in {secs:.2} s, then: {e}");
            ExitCode::from(1)
        }
    }
}

/// Send, maybe half-close, and copy to stdout until EOF. Returns the bytes received.
fn talk(stream: &TcpStream, options: &Options) -> Result<u64, (u64, io::Error)> {
    let mut writer = stream;
    if let Some(request) = &options.send {
        writer
            .write_all(format!("{request}\n").as_bytes())
            .map_err(|e| (0, e))?;
    }
    if options.half_close {
        stream.shutdown(Shutdown::Write).map_err(|e| (0, e))?;
    }
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| (0, e))?;
    let mut stdout = io::stdout().lock();
    let mut buffer = [0u8; 64 * 1024];
    let mut received = 0;
    loop {
        match (&*stream).read(&mut buffer) {
            Ok(0) => return Ok(received),
            Ok(n) => {
                received += n as u64;
                stdout.write_all(&buffer[..n]).map_err(|e| (received, e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((received, e)),
        }
    }
}
