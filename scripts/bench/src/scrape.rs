//! A Prometheus-like scraper for the "tcpproxy --metrics" target: `GET /metrics` once a second
//! for as long as the endpoint answers, so that target's figures include the cost of being
//! watched (issue: the endpoint must never slow the relay).
//!
//! It runs on its own thread and ends by itself when the proxy has gone (the connect fails), or
//! after an hour, whichever comes first.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Scrape `addr` every second in the background.
pub(crate) fn every_second(addr: SocketAddr) {
    thread::spawn(move || {
        let give_up = Instant::now() + Duration::from_secs(3600);
        // The endpoint starts with the proxy; a failed first try may only be early.
        let mut failures = 0;
        while Instant::now() < give_up && failures < 5 {
            if scrape(addr).is_ok() {
                failures = 0;
            } else {
                failures += 1;
            }
            thread::sleep(Duration::from_secs(1)); // the scrape interval itself
        }
    });
}

fn scrape(addr: SocketAddr) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body)?;
    Ok(body.len())
}
