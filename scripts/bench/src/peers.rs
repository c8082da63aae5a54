//! The peers `--peers` measures beside tcpproxy, when installed: socat, HAProxy (TCP mode) and
//! nginx (stream module). Each is started on its own loopback port in front of the same backend,
//! with a configuration written to a scratch directory, and stopped by pid when the run ends.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::target::{start_proxy, Target};

/// A scratch directory for the peers' configuration files, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("tcpproxy-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Err(e) = std::fs::write(&path, contents) {
            eprintln!("bench: cannot write {}: {e}", path.display());
        }
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every installed peer, started.
pub fn start_all(backend: SocketAddr, scratch: &Scratch) -> io::Result<Vec<Target>> {
    let mut peers = Vec::new();
    if installed("socat").is_some() {
        peers.push(start_proxy(
            "socat",
            Command::new("socat"),
            backend,
            |port, backend| {
                vec![
                    format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096"),
                    format!("TCP:127.0.0.1:{backend}"),
                ]
            },
        )?);
    }
    if let Some(haproxy) = installed("haproxy") {
        peers.push(start_proxy(
            "HAProxy",
            Command::new(haproxy),
            backend,
            |port, backend| {
                let config = scratch.write("haproxy.cfg", &haproxy_config(port, backend));
                vec!["-db".into(), "-q".into(), "-f".into(), path_arg(&config)]
            },
        )?);
    }
    let stream_module = Path::new("/usr/lib/nginx/modules/ngx_stream_module.so");
    if let Some(nginx) = installed("nginx") {
        peers.push(start_proxy(
            "nginx",
            Command::new(nginx),
            backend,
            |port, backend| {
                let config = nginx_config(port, backend, &scratch.0, stream_module);
                let config = scratch.write("nginx.conf", &config);
                vec!["-c".into(), path_arg(&config), "-e".into(), "stderr".into()]
            },
        )?);
    }
    Ok(peers)
}

/// HAProxy 2.x in TCP mode, as its documentation sets it up; threads = cores.
fn haproxy_config(port: u16, backend: u16) -> String {
    format!(
        "global\n  maxconn 9000\n\
         defaults\n  mode tcp\n  timeout connect 10s\n  timeout client 60s\n  timeout server 60s\n\
         frontend bench\n  bind 127.0.0.1:{port}\n  default_backend backend\n\
         backend backend\n  server only 127.0.0.1:{backend}\n"
    )
}

/// nginx's stream proxy, one worker per core, in the foreground.
fn nginx_config(port: u16, backend: u16, dir: &Path, module: &Path) -> String {
    let load = if module.exists() {
        format!("load_module {};\n", module.display())
    } else {
        String::new() // built in
    };
    format!(
        "{load}daemon off;\nworker_processes auto;\nworker_rlimit_nofile 20000;\n\
         pid {dir}/nginx.pid;\nerror_log stderr;\n\
         events {{ worker_connections 20000; }}\n\
         stream {{ server {{ listen 127.0.0.1:{port} backlog=4096; proxy_pass 127.0.0.1:{backend}; }} }}\n",
        dir = dir.display()
    )
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The program's path, if it is installed (also in sbin, which a user's PATH may lack).
fn installed(program: &str) -> Option<PathBuf> {
    let output = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .ok()?;
    if output.status.success() {
        let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
        return Some(PathBuf::from(path));
    }
    ["/usr/sbin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
}
