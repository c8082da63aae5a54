//! systemd's side of the proxy: socket activation through the real `systemd-socket-activate`, and
//! a notify socket (`NOTIFY_SOCKET`) that receives what the proxy tells systemd.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::data::TempDir;
use super::process::BINARY;
use super::proxy::Proxy;
use super::PATIENCE;

const LAUNCHER: &str = "/usr/bin/systemd-socket-activate";

/// A port that was free a moment ago (bound and released): the launcher needs a concrete one.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `systemd-socket-activate` listening on `sockets` loopback ports, ready to start
/// `tcpproxy PROXY_ARGS...` (with `launcher_args` before the program, `-E NAME=VALUE` or
/// `--fdname=...`) when the first connection arrives. It execs into the proxy, so its pid is the
/// proxy's and the returned [`Proxy`] reads the log of both; `port` is 0, for the test to set.
pub fn launcher(sockets: usize, launcher_args: &[String], proxy_args: &[String]) -> Activation {
    // A free port may be taken between our check and the launcher's bind: try a few.
    for _ in 0..5 {
        let ports: Vec<u16> = (0..sockets).map(|_| free_port()).collect();
        let mut command = Command::new(LAUNCHER);
        for port in &ports {
            command.arg(format!("--listen=127.0.0.1:{port}"));
        }
        command
            .args(launcher_args)
            .arg(BINARY)
            .args(proxy_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut proxy = Proxy::launch(&mut command);
        let last = format!("Listening on 127.0.0.1:{} as", ports[sockets - 1]);
        // The log ends (and this gives up at once) if the launcher could not bind and exited.
        if proxy.wait_for_log_within(&last, PATIENCE).is_some() {
            return Activation { proxy, ports };
        }
        eprintln!("the launcher did not listen: {:?}", proxy.log_so_far());
    }
    panic!("systemd-socket-activate did not start listening in 5 tries");
}

/// A launcher listening on its ports, the proxy (not yet started) behind it.
pub struct Activation {
    pub proxy: Proxy,
    /// The launcher's ports, in the order of its `--listen` options (descriptors 3, 4, ...).
    pub ports: Vec<u16>,
}

impl Activation {
    pub fn addr(&self, index: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[index]))
    }
}

/// The datagram socket systemd would read: bound to a path in a temporary directory.
pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
    _dir: TempDir,
}

impl NotifySocket {
    pub fn bind() -> NotifySocket {
        let dir = TempDir::new("notify");
        let path = dir.0.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The launcher option that hands this socket to the proxy.
    pub fn launcher_arg(&self) -> String {
        format!("--setenv=NOTIFY_SOCKET={}", self.path.display())
    }

    /// The next message; panics if none comes within PATIENCE.
    pub fn receive(&self) -> String {
        self.socket
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no message on the notify socket: {e}"));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}
