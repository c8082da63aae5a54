//! The listening socket: where it is bound, and how to wake a thread blocked in `accept`.
//!
//! By default the proxy listens on `[::]` with `IPV6_V6ONLY` off, so one socket takes both IPv6 and
//! IPv4 clients (the latter appear as `::ffff:a.b.c.d`). On a host without IPv6 it falls back to
//! `0.0.0.0`. std's `TcpListener::bind` cannot switch `IPV6_V6ONLY` off explicitly (it inherits a
//! sysctl), so the socket is made with socket2.
//!
//! A thread blocked in `accept` wakes only for a connection. So to stop the accept loop we connect
//! to ourselves ([`knock`]), as tiny-http does: the loop wakes, sees the stop flag and leaves.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use log::debug;
use socket2::{Domain, Protocol, Socket, Type};

/// Connections the kernel may hold for us while the accept loop is busy or at `--max-connections`.
/// Linux caps it at `net.core.somaxconn` (4096 on current kernels); 1024 covers a burst of clients.
const LISTEN_BACKLOG: i32 = 1024;

/// How long a [`knock`] may take; it goes to our own machine, so this is generous.
const KNOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Bind the listening socket on `bind` (default: every interface, IPv6 and IPv4) and `port`.
pub fn bind(bind: Option<&str>, port: u16) -> Result<TcpListener, String> {
    let Some(host) = bind else {
        let any_v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
        return listen_on(any_v6).or_else(|e| {
            debug!("cannot listen on {any_v6} ({e}); falling back to IPv4 only");
            let any_v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            listen_on(any_v4).map_err(|e| format!("cannot listen on {any_v4}: {e}"))
        });
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --bind address '{host}': {e}"))?
        .next()
        .ok_or_else(|| format!("--bind address '{host}' has no addresses"))?;
    listen_on(address).map_err(|e| format!("cannot listen on {address}: {e}"))
}

fn listen_on(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() && address.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    // Lets a restarted proxy bind at once, while old connections linger in TIME_WAIT (std does the same).
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Does this listener take IPv4 clients as well as IPv6 ones?
pub fn describe(listener: &TcpListener) -> String {
    match listener.local_addr() {
        Ok(a) if a.is_ipv6() && a.ip().is_unspecified() => format!("{a} (IPv6 and IPv4)"),
        Ok(a) => a.to_string(),
        Err(e) => format!("an unknown address ({e})"),
    }
}

/// The address to connect to in order to reach `listening`: an unspecified address becomes the
/// loopback address of the same family.
pub fn wake_address(listening: SocketAddr) -> SocketAddr {
    let ip = match listening.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listening.port())
}

/// Connect to our own listener so that a thread blocked in `accept` returns.
pub fn knock(address: SocketAddr) {
    if let Err(e) = TcpStream::connect_timeout(&address, KNOCK_TIMEOUT) {
        debug!("knock on {address} failed ({e}); the accept loop will notice the stop on its next client");
    }
}
