//! IPv6: the default listener takes IPv4 and IPv6 clients, an IPv6 destination works
//! with or without brackets, and the listening line names it the way an operator writes it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use socket2::{Domain, Socket, Type};

use crate::kit::client::{self, ping};
use crate::kit::process::{run_to_exit, BINARY};
use crate::kit::proxy::Proxy;
use crate::kit::servers::{echo, echo_server, serve_at};
use crate::kit::PATIENCE;

fn v6_loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port))
}

#[test]
fn ipv6_loopback_clients_and_destinations_work() {
    let destination = serve_at("::1", echo);
    let proxy = Proxy::start_raw(&["[::1]".into(), destination.port().to_string(), "0".into()]);
    let mut client = client::connect(v6_loopback(proxy.port));
    ping(&mut client, b"v6");
}

#[test]
fn ipv4_and_ipv6_clients_share_the_default_listener() {
    let proxy = Proxy::start(echo_server(), &[]);
    let mut v4 = client::connect(proxy.addr());
    let mut v6 = client::connect(v6_loopback(proxy.port));
    ping(&mut v4, b"over IPv4");
    ping(&mut v6, b"over IPv6");
}

#[test]
fn plain_ipv6_literal_destination_works() {
    let port = serve_at("::1", |mut s| {
        let _ = s.write_all(b"v6 server");
    })
    .port();
    let proxy = Proxy::start_raw(&["::1".to_string(), port.to_string(), "0".into()]);
    let mut reply = Vec::new();
    proxy.connect().read_to_end(&mut reply).expect("read");
    assert_eq!(reply, b"v6 server");
}

#[test]
fn listening_line_brackets_an_ipv6_destination_once() {
    let port = serve_at("::1", echo).port().to_string();
    let mut proxy = Proxy::start_raw(&["::1", &port, "0"]);
    let line = proxy.wait_for_log("listening on ");
    assert!(
        line.contains(&format!("relaying to [::1]:{port}")),
        "{line}"
    );
    assert!(!line.contains("[["), "{line}");

    let port = echo_server().port().to_string();
    let mut proxy = Proxy::start_raw(&["localhost", &port, "0"]);
    let line = proxy.wait_for_log("listening on ");
    assert!(
        line.contains(&format!("relaying to localhost:{port} (resolved to ")),
        "{line}"
    );
    assert!(!line.contains("[["), "{line}");
}

#[test]
fn a_port_held_ipv6_only_by_another_program_is_a_startup_error_not_an_ipv4_fallback() {
    // Another program listens on [::]:P for IPv6 alone; IPv4's 0.0.0.0:P is still free, so a
    // fallback would start, and quietly leave every IPv6 client to the other program.
    let holder = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
    holder.set_only_v6(true).expect("IPV6_V6ONLY");
    holder
        .bind(&v6_loopback(0).into())
        .expect("bind [::1]:0 for a free port");
    drop(holder);
    let holder = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
    holder.set_only_v6(true).expect("IPV6_V6ONLY");
    let any: SocketAddr = "[::]:0".parse().unwrap();
    holder.bind(&any.into()).expect("bind [::]:0");
    holder.listen(8).expect("listen");
    let port = holder.local_addr().unwrap().as_socket().unwrap().port();
    let destination = echo_server().port().to_string();
    let exit = run_to_exit(&["127.0.0.1", &destination, &port.to_string()]);
    assert_eq!(exit.status, Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr.contains(&format!(
            "cannot listen on [::]:{port}: Address already in use"
        )),
        "{}",
        exit.stderr
    );
}

/// A host with IPv6 sockets but no `::1` (IPv6 switched off on loopback, in a network namespace of
/// the test's own): the default `[::]` listener still binds, and a stop must still wake `accept`.
/// (When the wake was a knock, a connect to `[::1]` could not arrive there and the stop hung for
/// ever; the wake is now a signal to the accepting thread, `front_door/wake.rs`.)
#[test]
fn a_stop_wakes_accept_on_a_host_whose_loopback_has_no_ipv6() {
    let inside = "ip link set lo up && echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6 && \
                  exec \"$0\" \"$@\"";
    let mut command = Command::new("unshare");
    command
        .args(["--net", "sh", "-c", inside, BINARY, "127.0.0.1", "9", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut proxy = Proxy::spawn(&mut command);
    proxy.signal("TERM");
    let status = proxy
        .wait_exit(PATIENCE)
        .expect("the proxy exits after SIGTERM though ::1 is gone");
    assert!(status.success(), "{status}");
}
