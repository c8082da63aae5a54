//! One upgrade attempt: start the new process, wait for its word, then hand over or give up.
//!
//! [`start`] runs on the `signals` thread: it checks that the program is there, binds the notify
//! socket, forks, logs `upgrade: started PID (PATH)` and leaves the waiting to a thread named
//! `upgrade`, so that the signals thread is free for the next signal (a SIGTERM, say).
//! That thread blocks in `ready::wait` and acts on what it heard.
//!
//! Blocking: the `upgrade` thread, in `ready::wait` (at most `READY_WITHIN`), then in
//! `Child::end` (at most `END_GRACE`); [`Attempt::abandon`] waits for it.

use std::io::{self, Write};
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use log::Level;

use crate::events::{self, Importance};
use crate::front_door::systemd::{METRICS_SOCKET_NAME, SOCKET_NAME};
use crate::units::Timeout;
use crate::upgrade::child::Child;
use crate::upgrade::program::Program;
use crate::upgrade::ready::{self, Heard, ReadySocket, READY_WITHIN};
use crate::upgrade::spawn::{self, Handed};

/// The sockets a new process gets: the listener, and the `--metrics` one if there is one.
pub struct Sockets {
    pub listener: Arc<TcpListener>,
    pub metrics: Option<Arc<TcpListener>>,
}

/// An attempt under way: the new process's pid, and how to call it off.
pub struct Attempt {
    pub pid: u32,
    /// A byte written here wakes the `upgrade` thread's wait: the attempt is abandoned.
    cancel: UnixStream,
    thread: JoinHandle<()>,
}

impl Attempt {
    /// Call the attempt off, and wait until its thread has ended the new process (if it was not
    /// handed over to already).
    pub fn abandon(self) {
        let _ = (&self.cancel).write_all(b"!");
        let _ = self.thread.join();
    }
}

/// Start the new process and the thread that waits for it. That thread ends with
/// `settle(pid, Some(child))` if the child said `READY=1` (the caller hands over), and
/// `settle(pid, None)` after anything else, once it has dealt with the child itself.
pub fn start(
    program: &Program,
    sockets: &Sockets,
    settle: impl FnOnce(u32, Option<Child>) + Send + 'static,
) -> io::Result<Attempt> {
    // Checked here for a clear message; `execve` in the child would only say 127.
    program.path.metadata()?;
    let ready = ReadySocket::bind()?;
    let (cancel, cancelled) = UnixStream::pair()?;
    let mut handed = vec![Handed {
        socket: sockets.listener.as_fd(),
        name: SOCKET_NAME,
    }];
    if let Some(metrics) = &sockets.metrics {
        handed.push(Handed {
            socket: metrics.as_fd(),
            name: METRICS_SOCKET_NAME,
        });
    }
    let child = spawn::start(program, &handed, ready.path())?;
    let pid = child.pid();
    let path = program.path.display().to_string();
    let text = format!("upgrade: started {pid} ({path})");
    events::emit(Level::Info, Importance::Always, "upgrade", text, |out| {
        out.str("step", "started")
            .u64("pid", pid.into())
            .str("path", &path);
    });
    // If the thread cannot start, the closure drops `child`, which kills and reaps it.
    let thread = thread::Builder::new()
        .name("upgrade".into())
        .spawn(move || settle(pid, follow(child, &ready, &cancelled)))?;
    Ok(Attempt {
        pid,
        cancel,
        thread,
    })
}

/// The `upgrade` thread: wait, then act on what was heard; the child, if it is ready.
fn follow(child: Child, socket: &ReadySocket, cancelled: &UnixStream) -> Option<Child> {
    let pid = child.pid();
    match ready::wait(socket, child, cancelled, READY_WITHIN) {
        (Heard::Ready, Some(child)) => return Some(child),
        (Heard::Exited(how), _) => failed(pid, &format!("{pid} {how} before it was ready")),
        (Heard::NotReady, Some(child)) => {
            let how = child.end();
            let within = Timeout(READY_WITHIN);
            failed(
                pid,
                &format!("{pid} was not ready in {within}; ended it ({how})"),
            );
        }
        (Heard::Unwatchable(e), Some(child)) => {
            let how = child.end();
            failed(
                pid,
                &format!("cannot wait for {pid} ({e}); ended it ({how})"),
            );
        }
        (Heard::Cancelled, Some(child)) => {
            let how = child.end();
            let text = format!("upgrade abandoned: stopping; ended {pid} ({how})");
            events::emit(Level::Info, Importance::Always, "upgrade", text, |out| {
                out.str("step", "abandoned").u64("pid", pid.into());
            });
        }
        // `wait` gives the child back for every answer but an exit.
        (_, None) => {}
    }
    None
}

/// Log why the attempt failed; the old process goes on as before.
fn failed(pid: u32, why: &str) {
    let text = format!("upgrade failed: {why}; still serving");
    events::emit(Level::Warn, Importance::Always, "upgrade", text, |out| {
        out.str("step", "failed")
            .u64("pid", pid.into())
            .str("reason", why);
    });
}

/// `PID ready; handing over`: written once the stop is recorded, before the accept loop wakes.
pub fn announce_ready(pid: u32) {
    let text = format!("upgrade: {pid} ready; handing over");
    events::emit(Level::Info, Importance::Always, "upgrade", text, |out| {
        out.str("step", "ready").u64("pid", pid.into());
    });
}
