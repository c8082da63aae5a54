//! A tiny blocking HTTP/1.1 server for the operator's endpoint (`--metrics`): one request per
//! connection, every answer `Connection: close`, each client on a thread of its own.
//!
//! The accept thread blocks in `accept`, takes a place for the client (`clients.rs`: at most
//! eight at once, and a client that keeps its thread waiting gives its place up to a newcomer),
//! and starts a thread that reads one request, answers it and closes. Beyond the places, clients
//! wait in the kernel's listen backlog (std asks for 128). Each client's work is bounded: the
//! request must arrive whole within [`READ_DEADLINE`] and fit in [`MAX_REQUEST`] bytes, the answer
//! gets [`WRITE_TIMEOUT`], and waiting for the client to close after it at most [`LINGER`]; a
//! bigger request is refused with 431 after 8 KiB.
//!
//! Parsing is `httparse`'s: a request-line and header parser, nothing more (no thread, no pool, no
//! allocation), so the threads stay ours. `tiny_http` would also parse, but its `Server` starts an
//! accept thread that hands each connection to a pool of at least four more threads.
//!
//! What each path answers is not this module's business: the caller passes a `route` function
//! from path to [`Response`]. Every response carries the same cautious headers ([`write`]).
//!
//! At an upgrade's handover the accept thread leaves ([`Wakeable`]): the new process answers.
//!
//! Blocking: `accept` and the wait for a place on the accept thread; the bounded reads and writes
//! above on each client's thread.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::front_door::wake::Wakeable;
use crate::operator::endpoint::clients::{Place, Places};
use crate::ratelimit::RateLimit;

/// The whole request (request line and headers) must arrive within this.
pub const READ_DEADLINE: Duration = Duration::from_secs(2);

/// The most request bytes read; a scraper sends a few hundred.
pub const MAX_REQUEST: usize = 8 * 1024;

/// Writing the answer may block this long before the client is given up on.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Headers a request may have: more is a malformed request here (431).
const MAX_HEADERS: usize = 32;

/// After answering, how long to wait for the client to close (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);

/// Pause after an accept error that is not about one client, as the main accept loop does.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a route answers: a status, a media type and a body. The server adds the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    /// 200 with `body` of type `content_type`.
    pub fn ok(content_type: &'static str, body: String) -> Self {
        Response {
            status: 200,
            content_type,
            body,
        }
    }

    /// A short plain-text answer, for errors.
    pub fn plain(status: u16, body: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
        }
    }

    pub fn not_found() -> Self {
        Response::plain(404, "not found")
    }
}

/// Start a thread named `name` that answers requests on `listener` with `route`, for ever.
pub fn start(
    name: &str,
    listener: Arc<TcpListener>,
    stop: Arc<Wakeable>,
    route: impl Fn(&str) -> Response + Send + Sync + 'static,
) -> io::Result<JoinHandle<()>> {
    let client_name = format!("{name} client");
    let route: Arc<Route> = Arc::new(route);
    thread::Builder::new()
        .name(name.into())
        .spawn(move || serve(&listener, &stop, &route, &client_name))
}

/// What each path answers; shared by the client threads.
type Route = dyn Fn(&str) -> Response + Send + Sync;

/// Accept clients and answer each on a thread of its own, named `client_name`, until `stop`.
pub fn serve(listener: &TcpListener, stop: &Wakeable, route: &Arc<Route>, client_name: &str) {
    let places = Places::new();
    let mut errors = RateLimit::new(Duration::from_secs(1));
    let inside = stop.enter();
    while !stop.is_asked() {
        let (stream, peer) = match inside.accept(listener) {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if let Some(held_back) = errors.check() {
                    warn!("HTTP accept failed: {e} ({held_back} more since last report)");
                }
                // Out of descriptors or memory: give it time rather than spin.
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let place = match places.claim(&stream) {
            Ok(place) => place,
            Err(e) => {
                debug!("HTTP client {peer}: no place for it: {e}");
                continue; // out of descriptors: this client is closed, the next may fare better
            }
        };
        let route = Arc::clone(route);
        let started = thread::Builder::new()
            .name(client_name.into())
            .spawn(move || {
                if let Err(e) = answer(stream, &*route, &place) {
                    debug!("HTTP client {peer}: {e}");
                }
            });
        if let Err(e) = started {
            debug!("HTTP client {peer}: no thread for it: {e}"); // the closure, and the client, are gone
        }
    }
}

/// Read one request from `stream` and write its answer. An error is the client's problem (it left,
/// it was too slow, it was shut out for a newcomer) and only ends this connection. `place` is told
/// when this thread waits on its client and when it works for it.
fn answer(mut stream: TcpStream, route: &Route, place: &Place) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let request = read_request(&mut stream)?;
    place.working();
    let response = match request {
        Request::Get(path) => route(path_only(&path)),
        Request::OtherMethod => Response::plain(405, "method not allowed: only GET"),
        Request::Malformed => Response::plain(400, "bad request"),
        Request::TooLarge => Response::plain(431, "request too large"),
        Request::TooSlow => Response::plain(408, "request timeout"),
    };
    write(&mut stream, &response)?;
    place.waiting();
    linger(&mut stream)
}

/// Close gently: say we are done writing, then read (and drop) what the client still sends, until
/// it closes or [`LINGER`] passes. Closing a socket with unread bytes in it sends a reset, which
/// can destroy our answer before the client reads it (a 431 to a client still sending, say).
fn linger(stream: &mut TcpStream) -> io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(LINGER))?;
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(())
}

/// What the client asked for, as far as this server cares.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Get(String),
    OtherMethod,
    Malformed,
    TooLarge,
    TooSlow,
}

/// Read until the headers are complete, the deadline passes or the size bound is reached.
fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let deadline = Instant::now() + READ_DEADLINE;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Request::TooSlow);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Request::TooSlow)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        len += n;
        if let Some(request) = parse(&buf[..len]) {
            return Ok(request);
        }
        if len == buf.len() {
            return Ok(Request::TooLarge);
        }
    }
}

/// The request in `bytes`, or `None` if its headers have not all arrived yet.
fn parse(bytes: &[u8]) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) => Some(match (request.method, request.path) {
            (Some("GET"), Some(path)) => Request::Get(path.to_string()),
            _ => Request::OtherMethod,
        }),
        Err(httparse::Error::TooManyHeaders) => Some(Request::TooLarge),
        Err(_) => Some(Request::Malformed),
    }
}

/// The path without its query string: `/metrics?x=1` is `/metrics`.
fn path_only(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// The status line, the headers every answer carries, and the body. `no-store`: a metric is
/// stale at once. The content security policy lets a page run its own inline script and style
/// and fetch from this server, nothing else, and never be framed; `nosniff` keeps a browser from
/// guessing a type we did not send.
fn write(stream: &mut TcpStream, response: &Response) -> io::Result<()> {
    let allow = if response.status == 405 {
        "Allow: GET\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; script-src \
         'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\n{allow}\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len(),
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(response.body.as_bytes())?;
    stream.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_get_is_its_path_and_a_partial_one_waits() {
        let get = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse(get), Some(Request::Get("/metrics?x=1".into())));
        assert_eq!(parse(&get[..20]), None);
        assert_eq!(path_only("/metrics?x=1"), "/metrics");
        let post = b"POST /metrics HTTP/1.1\r\n\r\n";
        assert_eq!(parse(post), Some(Request::OtherMethod));
        assert_eq!(
            parse(b"\x01\x02 nonsense\r\n\r\n"),
            Some(Request::Malformed)
        );
    }
}
