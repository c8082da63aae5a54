//! demo-server: the lab's web server, made local (scripts/README.md, "The demo server").
//!
//! The lab fetched `/~rtm/BIG` and `/~rtm/ok` from a server at MIT that is long gone. This is a
//! stand-in that answers one request per connection and closes:
//!
//! - `GET /~rtm/BIG` → a large body (64 MiB by default, `--big-size`) of numbered 64-byte lines, so a
//!   reader can see where the stream stopped;
//! - `GET /~rtm/ok` → `You were able to fetch the data.`;
//! - anything else → one `ERROR ...` line.
//!
//! Both the lab's bare `GET /path` (answered with the body alone, as an HTTP/0.9 server would) and
//! HTTP/1.x requests (request line, headers, blank line → status line, headers, body) work, so `curl`
//! can fetch through the proxy too. Like the proxy, it is a blocking thread-per-connection server: a
//! client that stops reading blocks only its own thread, in `write`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;

/// The body the lab's `/~rtm/ok` returned.
const OK_BODY: &str = "You were able to fetch the data.\n";

/// Longest request or header line accepted; real ones are far shorter.
const MAX_LINE: u64 = 8 * 1024;

/// Most header lines read from an HTTP request before giving up on it.
const MAX_HEADERS: usize = 100;

/// A client has this long to send its request; then its thread is freed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that takes nothing for this long is abandoned (the proxy's own hang rule is shorter).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Every BIG line is this long, newline included, so line N starts at byte 64 × (N − 1).
const LINE_LEN: usize = 64;

/// Answers the lab's GET /~rtm/BIG and GET /~rtm/ok, locally.
#[derive(Parser)]
#[command(name = "demo-server", version)]
struct Options {
    /// Port to listen on (0 = any free port; the first line on stdout names it)
    port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Size of /~rtm/BIG in bytes
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    big_size: u64,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let listener = match TcpListener::bind((options.bind.as_str(), options.port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "demo-server: error: cannot listen on {}:{}: {e}",
                options.bind, options.port
            );
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("demo-server listening on {addr}"),
        Err(e) => eprintln!("demo-server: cannot read the listening address: {e}"),
    }
    let big_size = options.big_size;
    for accepted in listener.incoming() {
        match accepted {
            Ok(stream) => {
                let spawned = thread::Builder::new()
                    .name("demo client".into())
                    .spawn(move || serve(stream, big_size));
                if let Err(e) = spawned {
                    eprintln!("demo-server: no thread for a client ({e}); dropped it");
                }
            }
            Err(e) => {
                eprintln!("demo-server: accept failed: {e}");
                thread::sleep(Duration::from_millis(100)); // out of descriptors: let some close
            }
        }
    }
    ExitCode::SUCCESS
}

/// What a request asked for.
enum Reply {
    Big(u64),
    Text(&'static str),
    Error(u16, String),
}

/// Read one request, answer it, close.
fn serve(stream: TcpStream, big_size: u64) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "a client".to_string(), |a| a.to_string());
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut reader = BufReader::new(&stream);
    let (reply, http) = match read_request(&mut reader) {
        Ok(Some((path, http))) => (route(&path, big_size), http),
        Ok(None) => return, // the client left before asking anything
        Err(why) => (Reply::Error(400, why), false),
    };
    let outcome = send(&stream, &reply, http);
    eprintln!("demo-server: {peer}: {}", describe(&reply, &outcome));
}

/// The request's path and whether it was HTTP/1.x; `None` if the client closed without a request.
fn read_request(reader: &mut impl BufRead) -> Result<Option<(String, bool)>, String> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut words = line.split_whitespace();
    let (Some("GET"), Some(path)) = (words.next(), words.next()) else {
        return Err("bad request (expected: GET /path)".into());
    };
    let http = words.next().is_some_and(|v| v.starts_with("HTTP/"));
    if http {
        skip_headers(reader)?;
    }
    Ok(Some((path.to_string(), http)))
}

fn skip_headers(reader: &mut impl BufRead) -> Result<(), String> {
    for _ in 0..MAX_HEADERS {
        match read_line(reader)? {
            Some(line) if !line.is_empty() => continue,
            _ => return Ok(()), // blank line (or EOF): end of headers
        }
    }
    Err(format!("more than {MAX_HEADERS} header lines"))
}

/// One line without its `\r\n`, at most MAX_LINE bytes; `None` at EOF before any byte.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    let read = reader
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| format!("reading the request: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.len() as u64 > MAX_LINE {
        return Err(format!("request line longer than {MAX_LINE} bytes"));
    }
    let text = String::from_utf8(bytes).map_err(|_| "request is not text".to_string())?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

fn route(path: &str, big_size: u64) -> Reply {
    match path {
        "/~rtm/BIG" => Reply::Big(big_size),
        "/~rtm/ok" => Reply::Text(OK_BODY),
        _ => Reply::Error(404, format!("not found: {path}")),
    }
}

/// Write the reply; how many body bytes went out, or why it stopped.
fn send(mut stream: &TcpStream, reply: &Reply, http: bool) -> io::Result<u64> {
    let (status, length) = match reply {
        Reply::Big(size) => (200, *size),
        Reply::Text(text) => (200, text.len() as u64),
        Reply::Error(code, why) => (*code, format!("ERROR {why}\n").len() as u64),
    };
    if http {
        let reason = if status == 200 { "OK" } else { "Error" };
        write!(
            stream,
            "HTTP/1.0 {status} {reason}\r\nContent-Type: text/plain\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\n"
        )?;
    }
    match reply {
        Reply::Big(size) => send_big(stream, *size),
        Reply::Text(text) => stream.write_all(text.as_bytes()).map(|()| length),
        Reply::Error(_, why) => stream
            .write_all(format!("ERROR {why}\n").as_bytes())
            .map(|()| length),
    }
}

/// Stream `size` bytes of numbered lines, 1024 lines (64 KiB) per write.
fn send_big(mut stream: &TcpStream, size: u64) -> io::Result<u64> {
    const LINES_PER_BLOCK: u64 = 1024;
    let mut block = Vec::with_capacity(LINE_LEN * LINES_PER_BLOCK as usize);
    let mut sent = 0;
    let mut next_line = 1;
    while sent < size {
        block.clear();
        for n in next_line..next_line + LINES_PER_BLOCK {
            block.extend_from_slice(big_line(n).as_bytes());
        }
        next_line += LINES_PER_BLOCK;
        let take = (size - sent).min(block.len() as u64) as usize;
        stream.write_all(&block[..take])?;
        sent += take as u64;
    }
    Ok(sent)
}

/// Line `n` of BIG: exactly LINE_LEN bytes.
fn big_line(n: u64) -> String {
    format!("{n:>9} BIG line; if this stops scrolling, the reader stopped\n")
}

fn describe(reply: &Reply, outcome: &io::Result<u64>) -> String {
    let what = match reply {
        Reply::Big(size) => format!("BIG ({size} bytes)"),
        Reply::Text(_) => "ok".to_string(),
        Reply::Error(code, why) => format!("error {code} ({why})"),
    };
    match outcome {
        Ok(sent) => format!("sent {what}: {sent} bytes"),
        Err(e) => format!("stopped sending {what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_lines_have_a_fixed_length() {
        assert_eq!(big_line(1).len(), LINE_LEN);
        assert_eq!(big_line(999_999_999).len(), LINE_LEN);
    }

    #[test]
    fn bare_and_http_requests_parse() {
        let mut bare = io::Cursor::new(b"GET /~rtm/ok\r\n".to_vec());
        assert_eq!(
            read_request(&mut bare).unwrap(),
            Some(("/~rtm/ok".into(), false))
        );
        let mut http = io::Cursor::new(b"GET /~rtm/BIG HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
        assert_eq!(
            read_request(&mut http).unwrap(),
            Some(("/~rtm/BIG".into(), true))
        );
    }

    #[test]
    fn junk_and_huge_lines_are_refused() {
        let mut junk = io::Cursor::new(vec![0xff, 0xfe, b'\n']);
        assert!(read_request(&mut junk).is_err());
        let mut huge = io::Cursor::new(vec![b'a'; 1 << 20]);
        assert!(read_request(&mut huge).unwrap_err().contains("longer than"));
        let mut empty = io::Cursor::new(Vec::new());
        assert_eq!(read_request(&mut empty).unwrap(), None);
    }
}
