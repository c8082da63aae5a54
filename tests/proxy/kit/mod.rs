//! The test kit: everything the proxy's tests share, split by purpose.
//!
//! Every test owns both ends of every socket: a server started here on an ephemeral port, the proxy
//! started with listen port 0 (it logs the port it got), and clients connected by the test.
//!
//! | module       | holds                                                                       |
//! |--------------|-----------------------------------------------------------------------------|
//! | `process`    | child processes: command lines (tcpproxy, examples), limits, kill-on-drop   |
//! | `proxy`      | a running proxy: start it, read its log, signal it, see it exit             |
//! | `servers`    | loopback servers to relay to: echo, flood, holding, deaf, faulty, BIG/ok    |
//! | `backends`   | destinations on 127.0.0.2, .3, ... that say who they are, killed and revived |
//! | `client`     | the client side: connect (from an address), ping, drain, flood, reset       |
//! | `procfs`     | what /proc says about a process: descriptors, threads, limits, sockets      |
//! | `data`       | test data, temporary directories and timing checks                          |
//! | `activation` | systemd: `systemd-socket-activate` before the proxy, a notify socket        |
//! | `haproxy`    | a real HAProxy with the test's own configuration                            |
//! | `hosts`      | a private /etc/hosts in a mount namespace, rewritten in place               |
//! | `http`       | a tiny HTTP GET over std, for `--metrics` and a Prometheus server           |
//! | `browser`    | headless Chromium: the DOM a page's script rendered                         |
//! | `upgrade`    | SIGUSR2: a replaceable copy of the binary, the new process, socket holders  |
//! | `load`       | short echo clients every few ms and slow downloads, counting what went wrong |

use std::time::Duration;

pub mod activation;
pub mod backends;
pub mod browser;
pub mod client;
pub mod data;
pub mod haproxy;
pub mod hosts;
pub mod http;
pub mod load;
pub mod process;
pub mod procfs;
pub mod proxy;
pub mod servers;
pub mod upgrade;

/// Long enough for anything on a loaded 2-core machine; short enough that a hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(10);
