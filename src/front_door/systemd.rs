//! systemd: the listening socket it may hand us, and the news it wants from us.
//!
//! **Socket activation.** With a `.socket` unit, systemd binds the port itself and starts the
//! proxy with the listening socket already open, as descriptor 3; `LISTEN_FDS` says how many it
//! passed, `LISTEN_PID` whom they are for, `LISTEN_FDNAMES` what they are called. The proxy then
//! accepts on that socket instead of binding one, and nothing else changes: the accept loop cannot
//! tell the difference. The point is the restart: while the proxy is down, the socket stays open
//! in systemd, so new clients wait in its backlog instead of being refused.
//!
//! The command line keeps its three arguments. A listen port of 0 means "whatever systemd gave
//! us"; any other port must be the inherited socket's, so a unit and its config cannot silently
//! disagree about where the proxy listens.
//!
//! A second socket named `metrics` (`FileDescriptorName=metrics`) is the `--metrics` endpoint's,
//! which then serves on it instead of binding its address (port 0, or the same port, as above).
//!
//! **Readiness.** With `Type=notify`, systemd waits for `READY=1` before it calls the service
//! started, and `STOPPING=1` tells it a stop is under way (a drain can take a while). Both go to
//! the datagram socket named by `NOTIFY_SOCKET`; without it they are not sent.
//!
//! **The same protocol, from a previous tcpproxy.** An upgrade in place (`upgrade/`) starts the
//! new process exactly as systemd would: the listening socket as descriptor 3 named `tcpproxy`,
//! the metrics socket as 4 named `metrics`, and a `NOTIFY_SOCKET` of the old process's own, on
//! which it waits for `READY=1`. It adds [`UPGRADED_FROM`], its own pid, so that this process can
//! say in its listening line where its sockets came from, and knows that its `NOTIFY_SOCKET`
//! wants `READY=1` and nothing more (the old process is gone by the time we stop).
//!
//! The `sd-notify` crate reads and writes the protocol. Nothing here blocks.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use log::warn;
use sd_notify::NotifyState;
use socket2::{Domain, Socket, Type};

use crate::error::{ActivationError, StartupError};

/// With several inherited sockets, the one with this name (`FileDescriptorName=` in the unit).
pub const SOCKET_NAME: &str = "tcpproxy";

/// The inherited socket with this name is the `--metrics` endpoint's.
pub const METRICS_SOCKET_NAME: &str = "metrics";

/// Set by an upgrade in place for the new process: the old process's pid.
pub const UPGRADED_FROM: &str = "TCPPROXY_UPGRADED_FROM";

/// Who passed us our sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Giver {
    Systemd,
    /// The tcpproxy (this pid) that started us by an upgrade in place.
    PreviousTcpproxy(u32),
}

/// Read [`UPGRADED_FROM`] once: the environment does not change under us.
pub fn giver() -> Giver {
    static GIVER: OnceLock<Giver> = OnceLock::new();
    *GIVER.get_or_init(|| {
        std::env::var(UPGRADED_FROM)
            .ok()
            .and_then(|pid| pid.parse().ok())
            .map_or(Giver::Systemd, Giver::PreviousTcpproxy)
    })
}

/// A listening socket handed to us: the socket, which descriptor it came as, and its name.
pub struct Inherited {
    pub listener: TcpListener,
    pub fd: RawFd,
    pub name: String,
}

impl Inherited {
    /// Where it came from, for the log: ` (from systemd: descriptor 3, 'tcpproxy')`.
    pub fn origin(&self) -> String {
        let from = match giver() {
            Giver::Systemd => "systemd".to_string(),
            Giver::PreviousTcpproxy(pid) => format!("the previous tcpproxy, pid {pid}"),
        };
        format!(" (from {from}: descriptor {}, '{}')", self.fd, self.name)
    }
}

/// The sockets passed to this process: the one to accept clients on, and the `--metrics` one.
#[derive(Default)]
pub struct InheritedSockets {
    pub listener: Option<Inherited>,
    pub metrics: Option<Inherited>,
}

/// The sockets passed to this process (by systemd, or by a previous tcpproxy), if any; the
/// listener's port must be `port` unless that is 0. sd-notify marks them close-on-exec, so the
/// next program we start gets only what an upgrade hands it on purpose.
///
/// The environment is left as it is (changing it is unsafe once threads run): an upgrade builds
/// its new process's environment without our `LISTEN_*` and `NOTIFY_SOCKET`.
pub fn inherited_sockets(port: u16) -> Result<InheritedSockets, StartupError> {
    let fds: Vec<(RawFd, String)> = sd_notify::listen_fds_with_names()
        .map_err(ActivationError::Environment)?
        .collect();
    let Some((fd, name)) = choose(&fds)? else {
        return Ok(InheritedSockets::default());
    };
    let listener = take(fd, name)?;
    let address = listener
        .listener
        .local_addr()
        .map_err(StartupError::ListeningAddress)?;
    if port != 0 && port != address.port() {
        let differs = ActivationError::PortDiffers {
            inherited: address,
            asked: port,
        };
        return Err(differs.into());
    }
    let metrics = match fds.iter().find(|(_, name)| name == METRICS_SOCKET_NAME) {
        Some((fd, name)) if *fd != listener.fd => Some(take(*fd, name.clone())?),
        _ => None,
    };
    Ok(InheritedSockets {
        listener: Some(listener),
        metrics,
    })
}

/// Own the passed descriptor `fd`, which must be a listening TCP socket.
fn take(fd: RawFd, name: String) -> Result<Inherited, StartupError> {
    // SAFETY: this descriptor was passed to this process (LISTEN_PID is ours) and nothing else in
    // the process knows of it; we take ownership exactly once (`choose` names each fd once).
    let socket = Socket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    if !is_tcp_listener(&socket) {
        return Err(ActivationError::NotATcpListener { fd, name }.into());
    }
    // The accept loops block in `accept`; a unit with NonBlocking=yes would have them spin.
    socket
        .set_nonblocking(false)
        .map_err(StartupError::ListeningAddress)?;
    Ok(Inherited {
        listener: TcpListener::from(socket),
        fd,
        name,
    })
}

/// One socket: that one. Several: the one named [`SOCKET_NAME`].
fn choose(fds: &[(RawFd, String)]) -> Result<Option<(RawFd, String)>, ActivationError> {
    match fds {
        [] => Ok(None),
        [only] => Ok(Some(only.clone())),
        several => several
            .iter()
            .find(|(_, name)| name == SOCKET_NAME)
            .cloned()
            .map(Some)
            .ok_or_else(|| ActivationError::NoSocketNamed {
                wanted: SOCKET_NAME,
                names: several.iter().map(|(_, name)| name.clone()).collect(),
            }),
    }
}

fn is_tcp_listener(socket: &Socket) -> bool {
    let inet = matches!(socket.domain(), Ok(d) if d == Domain::IPV4 || d == Domain::IPV6);
    let stream = matches!(socket.r#type(), Ok(t) if t == Type::STREAM);
    inet && stream && socket.is_listener().unwrap_or(false)
}

/// `READY=1`: the proxy is listening and everything behind the listening line is in place.
pub fn ready(listening: SocketAddr) {
    let status = format!("listening on {listening}");
    tell(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// `STOPPING=1`: a stop has begun. Not to a previous tcpproxy: it heard our `READY=1`, the only
/// thing it listens for, and has gone.
pub fn stopping() {
    if giver() == Giver::Systemd {
        tell(&[NotifyState::Stopping]);
    }
}

fn tell(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("cannot tell systemd ({states:?}) through NOTIFY_SOCKET: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(list: &[(RawFd, &str)]) -> Vec<(RawFd, String)> {
        list.iter().map(|(fd, n)| (*fd, n.to_string())).collect()
    }

    #[test]
    fn one_socket_is_taken_whatever_its_name() {
        assert_eq!(choose(&[]).unwrap(), None);
        let only = named(&[(3, "web.socket")]);
        assert_eq!(choose(&only).unwrap(), Some((3, "web.socket".into())));
    }

    #[test]
    fn of_several_the_one_named_tcpproxy_is_taken() {
        let several = named(&[(3, "admin"), (4, "tcpproxy")]);
        assert_eq!(choose(&several).unwrap(), Some((4, "tcpproxy".into())));
        let err = choose(&named(&[(3, "a"), (4, "b")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'tcpproxy'") && err.contains("a, b"), "{err}");
    }

    #[test]
    fn only_a_listening_tcp_socket_will_do() {
        let listening = Socket::from(OwnedFd::from(TcpListener::bind("127.0.0.1:0").unwrap()));
        assert!(is_tcp_listener(&listening));
        let unbound = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        assert!(!is_tcp_listener(&unbound));
        let datagram = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        assert!(!is_tcp_listener(&datagram));
    }
}
