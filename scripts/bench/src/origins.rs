//! The servers the real clients talk to, each started on a free loopback port with its own
//! configuration and directory under the scratch directory: redis-server (for redis-benchmark,
//! nothing saved to disk) and nginx as an HTTP origin serving one small static file (for wrk).
//! Each is a `Target`, stopped by pid when dropped.

use std::io;
use std::process::Command;

use crate::peers::path_arg;
use crate::scratch::Scratch;
use crate::target::{start_listening, Target};

/// The file wrk fetches: 256 bytes, small enough that the proxy's per-request cost dominates.
pub(crate) const SMALL_FILE: &str = "small.html";

/// redis-server on loopback, no persistence, its working directory in the scratch directory.
pub(crate) fn start_redis(program: &std::path::Path, scratch: &Scratch) -> io::Result<Target> {
    start_listening("redis-server", Command::new(program), |port| {
        let dir = scratch.path().join(format!("redis-{port}"));
        std::fs::create_dir_all(&dir)?;
        let config = format!(
            "bind 127.0.0.1\nport {port}\nprotected-mode no\ndaemonize no\nsave \"\"\n\
             appendonly no\ndir {}\nlogfile \"\"\ntcp-backlog 511\nmaxclients 10000\n",
            dir.display()
        );
        let config = scratch.write(&format!("redis-{port}.conf"), &config)?;
        Ok(vec![path_arg(&config)])
    })
}

/// nginx serving `SMALL_FILE` over HTTP/1.1 on loopback: one worker, no access log, keep-alive
/// connections kept for as many requests as wrk sends (nginx's default closes one after 1,000).
pub(crate) fn start_http(program: &std::path::Path, scratch: &Scratch) -> io::Result<Target> {
    start_listening("nginx (HTTP origin)", Command::new(program), |port| {
        let dir = scratch.path().join(format!("http-{port}"));
        let root = dir.join("www");
        std::fs::create_dir_all(&root)?;
        let body = format!("<!doctype html><title>bench</title>{}\n", "x".repeat(210));
        std::fs::write(root.join(SMALL_FILE), &body[..256.min(body.len())])?;
        let d = dir.display();
        let config = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log stderr;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  default_type text/html;\n  keepalive_requests 10000000;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port} backlog=4096; root {root}; }}\n}}\n",
            root = root.display()
        );
        let config = scratch.write(&format!("http-{port}.conf"), &config)?;
        Ok(vec![
            "-c".into(),
            path_arg(&config),
            "-e".into(),
            "stderr".into(),
        ])
    })
}
