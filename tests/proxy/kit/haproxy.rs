//! A real HAProxy (Debian's package), started with a configuration of the test's own and a
//! listening socket the test bound first (`fd@3`), so there is no race for a free port. Killed by
//! pid on drop.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::data::TempDir;
use super::process::KillOnDrop;

pub struct Haproxy {
    _child: KillOnDrop,
    /// Where its frontend listens.
    pub addr: SocketAddr,
    _config: TempDir,
}

impl Haproxy {
    /// HAProxy with `config` (which binds its frontend with `bind fd@3`), listening at `addr`.
    pub fn start(config: &str) -> Haproxy {
        let places = [
            "/usr/sbin/haproxy",
            "/usr/bin/haproxy",
            "/usr/local/sbin/haproxy",
        ];
        let binary = places
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "HAProxy is not installed (looked in {places:?}): these tests run against \
                     it; `make test-deps` installs it (apt-get install haproxy)"
                )
            });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dir = TempDir::new("haproxy");
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, config).expect("write config");
        let fd = listener.as_raw_fd();
        let mut command = Command::new(binary);
        command
            .args(["-db", "-q", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: dup2 and fcntl are async-signal-safe. The socket moves to descriptor 3 and
        // loses close-on-exec there (dup2 onto itself would keep the flag, hence the fcntl), so
        // HAProxy inherits exactly this one socket.
        unsafe {
            command.pre_exec(move || {
                if (fd != 3 && libc::dup2(fd, 3) < 0) || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Haproxy {
            _child: KillOnDrop::spawn(&mut command),
            addr,
            _config: dir,
        }
    }
}
