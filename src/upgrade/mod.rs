//! Upgrade in place, on SIGUSR2: the listening socket outlives the process, so nobody is refused.
//!
//! An upgrade is the systemd protocol that the proxy already speaks (`front_door/systemd.rs`),
//! spoken by one of our processes to the next, as nginx's binary upgrade and HAProxy's seamless
//! reload do it:
//!
//! 1. SIGUSR2 reaches the `signals` thread, which calls [`Upgrader::begin`]. It starts the
//!    [`program`] at the path this process was started from, with the same command line
//!    ([`spawn`]), handing it the listening socket as descriptor 3 (`tcpproxy`) and the
//!    `--metrics` socket as 4 (`metrics`), and a `NOTIFY_SOCKET` of our own ([`ready`]).
//! 2. The new process starts as under systemd: it accepts on the socket it inherited instead of
//!    binding one, and says `READY=1` once listening. From then on both processes accept on one
//!    socket, with one accept queue: each connection goes to one of them, none is lost.
//! 3. On `READY=1` the `upgrade` thread ([`attempt`]) asks the front door to stop, giving the new
//!    pid as the cause. The accept loop leaves `accept` without a connection (`front_door/wake.rs`:
//!    a connection might go to the new process), closes our descriptor of the socket (the
//!    socket lives on in the new process; we never `shutdown` it, which would break it for both),
//!    and the live pairs drain as on SIGTERM with `--drain`. Then the summary, and exit 0.
//! 4. If the new process exits first, or is not ready within [`ready::READY_WITHIN`], we log
//!    why, end it (by pid, and reap it) and go on serving as if nothing had happened. A second
//!    SIGUSR2 while an attempt is under way is logged and ignored; a stop abandons the attempt.
//!
//! The new process is an ordinary tcpproxy whose sockets happened to come from us, so it can be
//! upgraded in turn.
//!
//! Not under systemd: systemd follows its service's main pid, and would take our exit for the
//! service's end (and stop it, new process included). A unit upgrades with `systemctl restart`,
//! where the socket unit holds the socket meanwhile.
//!
//! Blocking: `begin` forks on the `signals` thread (a millisecond); the `upgrade` thread blocks
//! in one `poll` for the new process's word, its exit or a stop, at most `READY_WITHIN`; a stop
//! waits for that thread to end the attempt ([`child::END_GRACE`] at most).

pub mod attempt;
pub mod child;
pub mod program;
pub mod ready;
pub mod spawn;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use log::{info, warn};

use crate::front_door::stop::Stop;
use crate::front_door::systemd;
use crate::front_door::wake::Wakeable;
use crate::upgrade::attempt::Attempt;
pub use crate::upgrade::attempt::Sockets;
use crate::upgrade::child::Child;
use crate::upgrade::program::{Program, ProgramError};

/// What SIGUSR2 needs, and the one attempt under way.
pub struct Upgrader {
    /// Found at start-up; an error is reported when SIGUSR2 comes.
    program: Result<Program, ProgramError>,
    stop: Arc<Stop>,
    /// The `metrics` thread's accept loop, to leave once the new process is ready.
    endpoint: Option<Arc<Wakeable>>,
    state: Mutex<State>,
}

struct State {
    /// `None` once the accept loop has stopped: nothing to hand over any more.
    sockets: Option<Sockets>,
    attempt: Option<Attempt>,
}

impl Upgrader {
    pub fn new(
        program: Result<Program, ProgramError>,
        sockets: Sockets,
        stop: Arc<Stop>,
        endpoint: Option<Arc<Wakeable>>,
    ) -> Arc<Upgrader> {
        let state = State {
            sockets: Some(sockets),
            attempt: None,
        };
        Arc::new(Upgrader {
            program,
            stop,
            endpoint,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it, so a poisoned lock still holds a good value.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// SIGUSR2: start the new process, unless one is starting already or we are stopping.
    pub fn begin(self: &Arc<Self>) {
        let mut state = self.lock();
        let sockets = match (&state.sockets, &state.attempt) {
            (_, Some(attempt)) => {
                let pid = attempt.pid;
                warn!("SIGUSR2 received: the upgrade to {pid} is under way; ignored");
                return;
            }
            (Some(sockets), None) if !self.stop.is_requested() => sockets,
            _ => {
                info!("SIGUSR2 received while stopping: no upgrade");
                return;
            }
        };
        let program = match &self.program {
            Ok(program) => program,
            Err(e) => {
                warn!("SIGUSR2 received, but this process cannot upgrade: {e}");
                return;
            }
        };
        if systemd::giver() == systemd::Giver::Systemd
            && std::env::var_os("NOTIFY_SOCKET").is_some()
        {
            warn!(
                "upgrade under systemd: it follows this process, not the new one, and will take \
                 our exit for the service's end; a unit upgrades with `systemctl restart` (its \
                 socket unit keeps the socket)"
            );
        }
        // The attempt's thread calls this when it is over; it waits for our lock, so it finds
        // the attempt recorded below even if the new process failed at once.
        let upgrader = Arc::clone(self);
        let settle = move |pid, ready: Option<Child>| {
            if let Some(child) = ready {
                upgrader.hand_over(child);
            }
            upgrader.finished(pid);
        };
        match attempt::start(program, sockets, settle) {
            Ok(attempt) => state.attempt = Some(attempt),
            Err(e) => warn!(
                "upgrade failed: cannot start {}: {e}; still serving",
                program.path.display()
            ),
        }
    }

    /// The new process `child` said `READY=1`: hand over, unless a stop came first.
    fn hand_over(&self, child: Child) {
        let pid = child.pid();
        let announce = || attempt::announce_ready(pid);
        if self.stop.hand_over(pid, announce) {
            if let Some(endpoint) = &self.endpoint {
                endpoint.wake();
            }
            child.release();
        } else {
            let how = child.end();
            info!("upgrade: {pid} was ready, but a stop came first: ended it ({how})");
        }
    }

    /// The attempt for `pid` is over; the next SIGUSR2 may start another.
    fn finished(&self, pid: u32) {
        let mut state = self.lock();
        if state.attempt.as_ref().is_some_and(|a| a.pid == pid) {
            state.attempt = None; // our own thread's handle: dropping it detaches it
        }
    }

    /// The accept loop has stopped: let go of the sockets (so that, after a signal, the listener
    /// closes with the accept loop's descriptor), and abandon an attempt under way, waiting for
    /// its thread to end the new process.
    pub fn close(&self) {
        let attempt = {
            let mut state = self.lock();
            state.sockets = None;
            state.attempt.take()
        };
        if let Some(attempt) = attempt {
            attempt.abandon();
        }
    }
}
