//! The proxies a run measures: tcpproxy (copy and splice) and, with `--peers`, bare-relay (built
//! beside the bench: the floor, two blocking threads per pair and nothing else) and those of socat,
//! HAProxy (TCP mode), nginx (stream module) and rinetd that are installed. Each can be started on
//! its own loopback port in front of any backend (the echo backend, redis-server, nginx's HTTP
//! origin), with its configuration written to the scratch directory; dropping the `Target` stops
//! it by pid.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::installed;
use crate::scratch::Scratch;
use crate::target::{start_proxy, Target};

/// One kind of proxy, and the program that runs it.
pub(crate) enum Proxy {
    /// `metrics`: with `--metrics` on, scraped once a second (`scrape.rs`), to show it costs nothing.
    Tcpproxy {
        program: PathBuf,
        splice: bool,
        metrics: bool,
    },
    /// `src/bin/bare_relay.rs`: tcpproxy's design without tcpproxy's bookkeeping.
    Bare(PathBuf),
    Socat(PathBuf),
    Haproxy(PathBuf),
    Nginx(PathBuf),
    Rinetd(PathBuf),
}

/// tcpproxy with copy and splice, then (with `peers`) the bare relay and every installed peer.
pub(crate) fn proxies(tcpproxy: &str, peers: bool) -> Vec<Proxy> {
    let program = PathBuf::from(tcpproxy);
    let mut all = vec![
        Proxy::Tcpproxy {
            program: program.clone(),
            splice: false,
            metrics: false,
        },
        Proxy::Tcpproxy {
            program: program.clone(),
            splice: false,
            metrics: true,
        },
        Proxy::Tcpproxy {
            program,
            splice: true,
            metrics: false,
        },
    ];
    if peers {
        all.extend(bare_relay().map(Proxy::Bare));
        all.extend(installed("socat").map(Proxy::Socat));
        all.extend(installed("haproxy").map(Proxy::Haproxy));
        all.extend(installed("nginx").map(Proxy::Nginx));
        all.extend(installed("rinetd").map(Proxy::Rinetd));
    }
    all
}

impl Proxy {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Proxy::Tcpproxy { metrics: true, .. } => "tcpproxy --metrics",
            Proxy::Tcpproxy { splice: false, .. } => "tcpproxy",
            Proxy::Tcpproxy { splice: true, .. } => "tcpproxy splice",
            Proxy::Bare(_) => "bare 2 threads/pair",
            Proxy::Socat(_) => "socat",
            Proxy::Haproxy(_) => "HAProxy",
            Proxy::Nginx(_) => "nginx",
            Proxy::Rinetd(_) => "rinetd",
        }
    }

    /// Start this proxy on a free loopback port in front of `backend`.
    pub(crate) fn start(&self, backend: SocketAddr, scratch: &Scratch) -> io::Result<Target> {
        let program = match self {
            Proxy::Tcpproxy { program, .. } => program,
            Proxy::Bare(program)
            | Proxy::Socat(program)
            | Proxy::Haproxy(program)
            | Proxy::Nginx(program)
            | Proxy::Rinetd(program) => program,
        };
        start_proxy(
            self.name(),
            Command::new(program),
            backend,
            |port, backend| self.arguments(port, backend, scratch),
        )
    }

    /// The command line that makes this proxy listen on `port` and forward to `backend`,
    /// writing its configuration file first where it needs one.
    fn arguments(&self, port: u16, backend: u16, scratch: &Scratch) -> io::Result<Vec<String>> {
        Ok(match self {
            Proxy::Tcpproxy {
                splice, metrics, ..
            } => tcpproxy_args(*splice, *metrics, port, backend)?,
            Proxy::Bare(_) => vec![port.to_string(), backend.to_string()],
            Proxy::Socat(_) => vec![
                format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096"),
                format!("TCP:127.0.0.1:{backend}"),
            ],
            Proxy::Haproxy(_) => {
                let file = format!("haproxy-{port}.cfg");
                let config = scratch.write(&file, &haproxy_config(port, backend))?;
                vec!["-db".into(), "-q".into(), "-f".into(), path_arg(&config)]
            }
            Proxy::Nginx(_) => {
                let config = nginx_config(port, backend, scratch.path());
                let config = scratch.write(&format!("nginx-{port}.conf"), &config)?;
                vec!["-c".into(), path_arg(&config), "-e".into(), "stderr".into()]
            }
            Proxy::Rinetd(_) => {
                // rinetd 0.73: one forwarding rule per line, no log file unless one is named.
                let rule = format!("127.0.0.1 {port} 127.0.0.1 {backend}\n");
                let config = scratch.write(&format!("rinetd-{port}.conf"), &rule)?;
                vec!["-f".into(), "-c".into(), path_arg(&config)]
            }
        })
    }
}

/// bare-relay, next to the bench's own executable (cargo builds both into one directory); `None`,
/// said on stderr, if it is not there, and the run goes on without it.
fn bare_relay() -> Option<PathBuf> {
    let program = std::env::current_exe().ok()?.parent()?.join("bare-relay");
    if program.is_file() {
        return Some(program);
    }
    eprintln!(
        "bench: no {} (cargo build --release -p tcpproxy-bench): the bare relay is left out",
        program.display()
    );
    None
}

/// tcpproxy quiet, on loopback; splice also caps its pairs: 4,000 pairs' sockets leave the
/// 20,000-descriptor limit room for ~6,000 pipes.
/// With `metrics`, the endpoint gets a free port of its own and a scraper.
fn tcpproxy_args(splice: bool, metrics: bool, port: u16, backend: u16) -> io::Result<Vec<String>> {
    let mut args: Vec<String> = Vec::new();
    if splice {
        args.extend(["--copy-mode", "splice", "--max-connections", "4000"].map(String::from));
    }
    if metrics {
        let endpoint = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        args.extend(["--metrics".to_string(), endpoint.to_string()]);
        crate::scrape::every_second(endpoint);
    }
    args.extend(["-q", "--bind", "127.0.0.1", "127.0.0.1"].map(String::from));
    args.extend([backend.to_string(), port.to_string()]);
    Ok(args)
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
fn nginx_config(port: u16, backend: u16, dir: &Path) -> String {
    format!(
        "{load}daemon off;\nworker_processes auto;\nworker_rlimit_nofile 20000;\n\
         pid {dir}/nginx-{port}.pid;\nerror_log stderr;\n\
         events {{ worker_connections 20000; }}\n\
         stream {{ server {{ listen 127.0.0.1:{port} backlog=4096; proxy_pass 127.0.0.1:{backend}; }} }}\n",
        load = nginx_module("ngx_stream_module.so"),
        dir = dir.display()
    )
}

/// Debian builds nginx's stream module as a dynamic module: a `load_module` line for `file` if it
/// is there, nothing if the module is built in.
pub(crate) fn nginx_module(file: &str) -> String {
    let module = Path::new("/usr/lib/nginx/modules").join(file);
    if module.exists() {
        format!("load_module {};\n", module.display())
    } else {
        String::new()
    }
}

pub(crate) fn path_arg(path: &Path) -> String {
    path.display().to_string()
}
