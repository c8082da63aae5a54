//! The demo server answers the lab's requests, bare and HTTP, and survives bad ones.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Long enough for anything on a loaded 2-core machine; short enough that a hang fails fast.
const PATIENCE: Duration = Duration::from_secs(10);

struct DemoServer {
    child: Child,
    addr: SocketAddr,
}

impl DemoServer {
    fn start(args: &[&str]) -> DemoServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_demo-server"))
            .args(args)
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start demo-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("listening line");
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .expect("address");
        DemoServer { child, addr }
    }

    fn request(&self, bytes: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        stream.write_all(bytes).expect("send");
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply); // a reset after an error reply is fine
        reply
    }

    fn still_serves(&self) {
        assert_eq!(
            self.request(b"GET /~rtm/ok\n"),
            b"You were able to fetch the data.\n"
        );
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bare_get_ok_is_the_labs_answer() {
    DemoServer::start(&[]).still_serves();
}

#[test]
fn big_is_numbered_lines_of_the_requested_size() {
    let server = DemoServer::start(&["--big-size", "100000"]);
    let body = server.request(b"GET /~rtm/BIG\r\n");
    assert_eq!(body.len(), 100_000);
    let text = String::from_utf8(body).expect("text");
    let mut lines = text.lines();
    assert!(lines
        .next()
        .expect("line 1")
        .trim_start()
        .starts_with("1 BIG line"));
    assert!(lines
        .next()
        .expect("line 2")
        .trim_start()
        .starts_with("2 BIG line"));
}

#[test]
fn http_request_gets_status_and_headers() {
    let server = DemoServer::start(&[]);
    let reply =
        server.request(b"GET /~rtm/ok HTTP/1.0\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
    let text = String::from_utf8(reply).expect("text");
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 33\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nYou were able to fetch the data.\n"),
        "{text}"
    );
}

#[test]
fn unknown_path_gets_one_error_line() {
    let server = DemoServer::start(&[]);
    assert_eq!(
        server.request(b"GET /nothing\n"),
        b"ERROR not found: /nothing\n"
    );
    let reply = String::from_utf8(server.request(b"GET /nothing HTTP/1.1\r\n\r\n")).expect("text");
    assert!(reply.starts_with("HTTP/1.0 404 "), "{reply}");
}

#[test]
fn bad_requests_get_an_error_or_a_close_and_the_server_lives_on() {
    let server = DemoServer::start(&[]);
    let junk = server.request(&[0xff, 0x00, 0xfe, b'\n']);
    assert!(junk.starts_with(b"ERROR"), "{junk:?}");
    let huge = server.request(&vec![b'A'; 1 << 20]);
    assert!(
        String::from_utf8_lossy(&huge).contains("longer than"),
        "{huge:?}"
    );
    // A client that leaves mid-request.
    let mut gone = TcpStream::connect(server.addr).expect("connect");
    gone.write_all(b"GET /~rt").expect("partial");
    gone.shutdown(Shutdown::Both).expect("leave");
    drop(gone);
    server.still_serves();
}
