//! The targets a run measures through: a name, a loopback address, and the process behind it
//! (none for the direct connection). `start_proxy` starts one (`start_listening` any server) and
//! waits until it accepts; dropping it stops that process by pid, SIGTERM first.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// One thing measured through: a name, an address, and the process behind it (none for direct).
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) process: Option<Child>,
}

impl Drop for Target {
    /// SIGTERM first, so a peer with worker processes (nginx) takes them down with it; SIGKILL
    /// only if it has not gone within two seconds.
    fn drop(&mut self) {
        let Some(child) = &mut self.process else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20)); // no event to wait on for another's exit
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Start a proxy on a free loopback port in front of `backend`, and wait until it accepts.
pub(crate) fn start_proxy(
    name: &str,
    command: Command,
    backend: SocketAddr,
    arguments: impl Fn(u16, u16) -> io::Result<Vec<String>>,
) -> io::Result<Target> {
    start_listening(name, command, |port| arguments(port, backend.port()))
}

/// Start a server or proxy on a free loopback port (`arguments` get the port), and wait until it
/// accepts.
pub(crate) fn start_listening(
    name: &str,
    mut command: Command,
    arguments: impl FnOnce(u16) -> io::Result<Vec<String>>,
) -> io::Result<Target> {
    // A port the kernel just gave us and we let go: peers cannot take port 0 and say which they got.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = command
        .args(arguments(port)?)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::other(format!("cannot start {name}: {e}")))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let target = Target {
        name: name.into(),
        addr,
        process: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!("{name} did not listen on {addr}")));
        }
        thread::sleep(Duration::from_millis(20)); // polling for a listener that has no other signal
    }
    Ok(target)
}
