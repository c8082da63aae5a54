//! Starting the new process, with the sockets at descriptors 3 and 4: our own `fork` and `execve`.
//!
//! The systemd protocol says whom the sockets are for: `LISTEN_PID` must be the new process's own
//! pid, which exists only after `fork`. std's `Command` builds the environment before it forks and
//! cannot change it after: its `pre_exec` hook runs in the child, but the environment std is about
//! to pass is out of its reach. It also keeps a pipe of its own open in the child, to report a
//! failed `exec`, at whatever descriptor number was free, 3 or 4 perhaps, which our `dup2` would
//! then overwrite. So this module forks by itself, in three steps:
//!
//! 1. Before the fork, everything is allocated (`Prepared`): the path, the argument and
//!    environment arrays, a `LISTEN_PID=` entry with room for the digits, and the sockets
//!    duplicated to numbers above the ones they must land on, so no `dup2` can overwrite another.
//! 2. Between `fork` and `execve` the child is a copy of a many-threaded process with one thread
//!    left, and locks that other threads may have held (the allocator's among them) stay locked
//!    for ever. Only async-signal-safe calls are allowed there: no allocation, no lock, no log.
//!    The child writes its pid's digits into the prepared entry, `dup2`s the sockets to 3 and 4
//!    (a copy made by `dup2` is not close-on-exec, the original still is, so the old process's
//!    descriptors never leak into anything else it starts), empties the signal mask it inherited
//!    (every thread here blocks the signals that the `signals` thread reads) and restores
//!    SIGPIPE's default (Rust ignores it, and an ignored signal stays ignored across `execve`).
//! 3. `execve`; if that fails, `_exit` with the shell's status: 127 for a missing file, 126 else.
//!
//! The parent keeps a [`Child`] (`child.rs`).
//!
//! Blocking: nothing but the fork itself.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::ptr;

use nix::fcntl::{fcntl, FcntlArg};
use nix::libc::{self, c_char};
use nix::unistd::Pid;

use crate::front_door::systemd::UPGRADED_FROM;
use crate::upgrade::child::Child;
use crate::upgrade::program::Program;

/// The first descriptor of the systemd protocol (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// The environment variables this process may have that are about its own start, never the
/// child's: the child gets its own values, or none.
const NOT_INHERITED: [&str; 5] = [
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "NOTIFY_SOCKET",
    UPGRADED_FROM,
];

const LISTEN_PID: &[u8] = b"LISTEN_PID=";

/// Room for a pid's digits (a `u32` has at most 10) and the final NUL.
const PID_ROOM: usize = 11;

/// A socket to hand over, and its name in `LISTEN_FDNAMES`.
pub struct Handed<'a> {
    pub socket: BorrowedFd<'a>,
    pub name: &'static str,
}

/// Everything the child uses, allocated before the fork (the pointers point into the vectors).
struct Prepared {
    path: CString,
    _argv: Vec<CString>,
    argv: Vec<*const c_char>,
    _env: Vec<CString>,
    listen_pid: Vec<u8>,
    env: Vec<*const c_char>,
    /// The sockets, duplicated above the numbers they must land on (close-on-exec).
    sources: Vec<OwnedFd>,
}

impl Prepared {
    fn new(program: &Program, handed: &[Handed], notify: &Path) -> io::Result<Prepared> {
        let c_string = |bytes: Vec<u8>| {
            CString::new(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        };
        let path = c_string(program.path.clone().into_os_string().into_vec())?;
        let argv: Vec<CString> = (program.argv.iter().cloned())
            .map(|a| c_string(a.into_vec()))
            .collect::<io::Result<_>>()?;
        let names: Vec<&str> = handed.iter().map(|h| h.name).collect();
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(name, _)| !NOT_INHERITED.iter().any(|n| name == n))
            .map(|(name, value)| c_string(assignment(name, value)))
            .collect::<io::Result<_>>()?;
        for (name, value) in [
            ("LISTEN_FDS", handed.len().to_string()),
            ("LISTEN_FDNAMES", names.join(":")),
            ("NOTIFY_SOCKET", notify.display().to_string()),
            (UPGRADED_FROM, std::process::id().to_string()),
        ] {
            env.push(c_string(format!("{name}={value}").into_bytes())?);
        }
        let mut listen_pid = LISTEN_PID.to_vec();
        listen_pid.resize(LISTEN_PID.len() + PID_ROOM, 0);
        // Above every number a socket lands on, so that no dup2 in the child closes a source.
        let above = FIRST_FD + handed.len() as RawFd;
        let sources = (handed.iter())
            .map(|h| fcntl(h.socket, FcntlArg::F_DUPFD_CLOEXEC(above)).map(own))
            .collect::<nix::Result<_>>()?;
        let pointers =
            |all: &[CString]| -> Vec<*const c_char> { all.iter().map(|s| s.as_ptr()).collect() };
        let (mut argv_ptrs, mut env_ptrs) = (pointers(&argv), pointers(&env));
        env_ptrs.push(listen_pid.as_ptr().cast());
        argv_ptrs.push(ptr::null());
        env_ptrs.push(ptr::null());
        Ok(Prepared {
            path,
            _argv: argv,
            argv: argv_ptrs,
            _env: env,
            listen_pid,
            env: env_ptrs,
            sources,
        })
    }
}

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) just made this descriptor, and nothing else has it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn assignment(name: OsString, value: OsString) -> Vec<u8> {
    let mut bytes = name.into_vec();
    bytes.push(b'=');
    bytes.extend(value.into_vec());
    bytes
}

/// Start `program` with `handed` at descriptors 3, 4, ... and `notify` as its `NOTIFY_SOCKET`.
pub fn start(program: &Program, handed: &[Handed], notify: &Path) -> io::Result<Child> {
    let mut prepared = Prepared::new(program, handed, notify)?;
    // SAFETY: in bounds: listen_pid is LISTEN_PID followed by PID_ROOM bytes.
    let digits = unsafe { prepared.listen_pid.as_mut_ptr().add(LISTEN_PID.len()) };
    // SAFETY: the child runs only `in_child`, which makes async-signal-safe calls alone, on
    // memory prepared above; the parent goes on as after any fork.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => unsafe { in_child(&prepared, digits) },
        pid => {
            drop(prepared); // our copies of the sockets: the child has its own now
            Child::watch(Pid::from_raw(pid))
        }
    }
}

/// The child's side of the fork: async-signal-safe calls only, and no allocation (see the top).
unsafe fn in_child(prepared: &Prepared, digits: *mut u8) -> ! {
    write_decimal(libc::getpid().unsigned_abs(), digits);
    for (fd, source) in (FIRST_FD..).zip(&prepared.sources) {
        if libc::dup2(source.as_raw_fd(), fd) < 0 {
            libc::_exit(126);
        }
    }
    let mut nothing: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut nothing);
    libc::pthread_sigmask(libc::SIG_SETMASK, &nothing, ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    libc::execve(
        prepared.path.as_ptr(),
        prepared.argv.as_ptr(),
        prepared.env.as_ptr(),
    );
    let missing = *libc::__errno_location() == libc::ENOENT;
    libc::_exit(if missing { 127 } else { 126 })
}

/// `n` in decimal at `out`, then a NUL: at most [`PID_ROOM`] bytes, no allocation.
unsafe fn write_decimal(mut n: u32, out: *mut u8) {
    let mut digits = [0u8; PID_ROOM - 1];
    let mut len = 0;
    while len < digits.len() {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, digit) in digits[..len].iter().rev().enumerate() {
        *out.add(i) = *digit;
    }
    *out.add(len) = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(n: u32) -> String {
        let mut out = [0xffu8; PID_ROOM];
        unsafe { write_decimal(n, out.as_mut_ptr()) };
        let end = out.iter().position(|&b| b == 0).unwrap();
        String::from_utf8(out[..end].to_vec()).unwrap()
    }

    #[test]
    fn pids_are_written_in_decimal_with_a_nul() {
        for n in [0, 7, 10, 4_194_304, u32::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
