//! The listening socket: where it is bound, and what it must never relay to.
//!
//! By default the proxy listens on `[::]` with `IPV6_V6ONLY` off, so one socket takes both IPv6 and
//! IPv4 clients (the latter appear as `::ffff:a.b.c.d`). Only on a host without IPv6 does it fall
//! back to `0.0.0.0`, with a warning; any other failure on `[::]` is a start-up error. std's
//! `TcpListener::bind` cannot switch `IPV6_V6ONLY` off explicitly (it inherits a sysctl), so the
//! socket is made with socket2.
//!
//! (How a stop wakes the thread blocked in `accept` on this socket is `wake.rs`'s story: not by
//! connecting to it, since after an upgrade another process accepts on it too.)
//!
//! Blocking: nothing here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};

use log::warn;
use nix::errno::Errno;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::StartupError;

/// Connections the kernel may hold for us while the accept loop is busy or at `--max-connections`.
/// Linux caps it at `net.core.somaxconn` (4096 on current kernels); 1024 covers a burst of clients.
const LISTEN_BACKLOG: i32 = 1024;

/// Bind the listening socket on `bind` (default: every interface, IPv6 and IPv4) and `port`.
pub fn bind(bind: Option<&str>, port: u16) -> Result<TcpListener, StartupError> {
    let failed = |address| move |source| StartupError::Listen { address, source };
    let Some(host) = bind else {
        return bind_everywhere(port);
    };
    let unresolved = |source| StartupError::Resolve {
        what: "--bind address",
        host: host.to_string(),
        source,
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(Some(e)))?
        .next()
        .ok_or_else(|| unresolved(None))?;
    listen_on(address).map_err(failed(address))
}

/// `[::]`, dual-stack; `0.0.0.0` only on a host with no IPv6 at all, and then a warning says so.
/// Any other failure on `[::]` (the port in use, say by a program holding `[::]:PORT` IPv6-only)
/// is a start-up error: falling back would quietly leave IPv6 clients to the other program.
fn bind_everywhere(port: u16) -> Result<TcpListener, StartupError> {
    let any_v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    let no_ipv6 = match listen_on(any_v6) {
        Ok(listener) => return Ok(listener),
        Err(e) if has_no_ipv6(&e) => e,
        Err(source) => {
            return Err(StartupError::Listen {
                address: any_v6,
                source,
            })
        }
    };
    let any_v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let listener = listen_on(any_v4).map_err(|source| StartupError::Listen {
        address: any_v4,
        source,
    })?;
    warn!("this host has no IPv6 ({any_v6}: {no_ipv6}): listening on {any_v4}, IPv4 only");
    Ok(listener)
}

/// EAFNOSUPPORT: the kernel has no IPv6 (booted with ipv6.disable=1); EADDRNOTAVAIL: it has,
/// but no IPv6 address to bind (disabled by sysctl).
fn has_no_ipv6(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == Errno::EAFNOSUPPORT as i32
            || code == Errno::EADDRNOTAVAIL as i32
    )
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

/// The listener's address, and whether it takes IPv4 clients as well as IPv6 ones.
pub fn describe(listening: SocketAddr) -> String {
    if listening.is_ipv6() && listening.ip().is_unspecified() {
        format!("{listening} (IPv6 and IPv4)")
    } else {
        listening.to_string()
    }
}

/// Would a connection to `destination` arrive at this listener, bound to `listening`? Then a
/// proxy relaying there would relay every client to itself, one pair after another, until
/// `--max-connections` is used up. An unspecified listening address takes every local address of
/// its family (and `[::]`, dual-stack, IPv4 as well); a specific one only itself.
pub fn would_reach(listening: SocketAddr, destination: SocketAddr) -> bool {
    if listening.port() != destination.port() {
        return false;
    }
    let (heard_on, target) = (
        listening.ip().to_canonical(),
        destination.ip().to_canonical(),
    );
    // Connecting to an unspecified address reaches the loopback address of its family.
    let target = match target {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    match heard_on {
        IpAddr::V6(any) if any.is_unspecified() => is_local(target),
        IpAddr::V4(any) if any.is_unspecified() => target.is_ipv4() && is_local(target),
        specific => specific == target,
    }
}

/// A destination that is our own listening socket would have every pair connect to the proxy
/// itself, which accepts it as a new client, and so on until `--max-connections` is spent.
pub fn refuse_relaying_to_ourselves(
    listening: SocketAddr,
    destination: &[SocketAddr],
) -> Result<(), StartupError> {
    match destination
        .iter()
        .find(|address| would_reach(listening, **address))
    {
        Some(&address) => Err(StartupError::RelaysToItself {
            destination: address,
            listening,
        }),
        None => Ok(()),
    }
}

/// Is `ip` one of this host's own addresses? The kernel knows: only a local address can be bound.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaches(listening: &str, destination: &str) -> bool {
        would_reach(listening.parse().unwrap(), destination.parse().unwrap())
    }

    #[test]
    fn a_destination_on_our_own_port_and_address_is_ourselves() {
        assert!(reaches("[::]:7000", "127.0.0.1:7000"));
        assert!(reaches("[::]:7000", "[::1]:7000"));
        assert!(reaches("[::]:7000", "0.0.0.0:7000"));
        assert!(reaches("0.0.0.0:7000", "127.0.0.5:7000"));
        assert!(reaches("127.0.0.1:7000", "127.0.0.1:7000"));
        assert!(reaches("[::ffff:127.0.0.1]:7000", "127.0.0.1:7000"));
    }

    #[test]
    fn another_port_address_or_family_is_not() {
        assert!(!reaches("[::]:7000", "127.0.0.1:7001"));
        assert!(!reaches("127.0.0.1:7000", "127.0.0.2:7000"));
        assert!(!reaches("0.0.0.0:7000", "[::1]:7000"));
        // A documentation address is never one of ours.
        assert!(!reaches("[::]:7000", "192.0.2.1:7000"));
    }

    #[test]
    fn a_busy_port_is_an_error_naming_the_address() {
        let held = bind(Some("127.0.0.1"), 0).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = bind(Some("127.0.0.1"), port).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")),
            "{err}"
        );
    }
}
