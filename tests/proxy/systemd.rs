//! systemd: socket activation through the real `systemd-socket-activate` (the inherited socket,
//! the port check, `LISTEN_FDNAMES`) and the notify protocol (`READY=1`, `STOPPING=1`).

use crate::kit::activation::{launcher, Activation, NotifySocket};
use crate::kit::client::{self, ping};
use crate::kit::process::BINARY;
use crate::kit::proxy::listening_port;
use crate::kit::servers::{dead_address, echo_server};
use crate::kit::PATIENCE;

/// `DEST_IP DEST_PORT LISTEN_PORT` for the proxy behind the launcher.
fn relay_args(listen_port: u16) -> Vec<String> {
    let echo = echo_server();
    vec![
        echo.ip().to_string(),
        echo.port().to_string(),
        listen_port.to_string(),
    ]
}

#[test]
fn an_inherited_socket_relays_and_is_named_in_the_listening_line() {
    let mut activation = launcher(1, &[], &relay_args(0));
    // The launcher starts the proxy only when the first client knocks.
    let mut client = client::connect(activation.addr(0));
    let line = activation.proxy.wait_for_log("listening on ");
    assert_eq!(listening_port(&line), activation.ports[0], "{line}");
    assert!(
        line.contains(&format!(
            "listening on 127.0.0.1:{} (from systemd: descriptor 3",
            activation.ports[0]
        )),
        "{line}"
    );
    ping(&mut client, b"through the inherited socket");
    let mut second = client::connect(activation.addr(0));
    ping(&mut second, b"and the next client too");
}

#[test]
fn notify_socket_hears_ready_with_status_then_stopping() {
    let notify = NotifySocket::bind();
    let mut activation = launcher(1, &[notify.launcher_arg()], &relay_args(0));
    let mut client = client::connect(activation.addr(0));
    let ready = notify.receive();
    activation.proxy.wait_for_log("listening on ");
    assert_eq!(
        ready,
        format!(
            "READY=1\nSTATUS=listening on 127.0.0.1:{}\n",
            activation.ports[0]
        )
    );
    ping(&mut client, b"ready means serving");
    activation.proxy.signal("TERM");
    assert_eq!(notify.receive(), "STOPPING=1\n");
    let status = activation.proxy.wait_exit(PATIENCE).expect("exit");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_listen_port_other_than_the_inherited_one_is_a_startup_error() {
    let other = dead_address().port();
    let mut activation = launcher(1, &[], &relay_args(other));
    let error = refused_start(&mut activation);
    assert!(error.contains(&format!("listen port {other}")), "{error}");
    let port = activation.ports[0];
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    let log = activation.proxy.log_so_far().join("\n");
    assert!(!log.contains("relaying to"), "it started anyway: {log}");
}

#[test]
fn of_two_inherited_sockets_the_one_named_tcpproxy_is_used() {
    let names = "--fdname=admin:tcpproxy".to_string();
    let mut activation = launcher(2, &[names], &relay_args(0));
    let mut client = client::connect(activation.addr(1));
    let line = activation.proxy.wait_for_log("listening on ");
    assert_eq!(listening_port(&line), activation.ports[1], "{line}");
    assert!(line.contains("descriptor 4, 'tcpproxy'"), "{line}");
    ping(&mut client, b"through the socket named tcpproxy");
}

#[test]
fn of_two_unnamed_inherited_sockets_none_is_guessed() {
    let names = "--fdname=admin:web".to_string();
    let mut activation = launcher(2, &[names], &relay_args(0));
    let error = refused_start(&mut activation);
    assert!(error.contains("'tcpproxy'"), "{error}");
    assert!(error.contains("admin, web"), "the names it found: {error}");
}

#[test]
fn bind_under_socket_activation_is_a_startup_error() {
    let mut args = vec!["--bind".to_string(), "127.0.0.1".to_string()];
    args.extend(relay_args(0));
    let mut activation = launcher(1, &[], &args);
    let error = refused_start(&mut activation);
    activation.proxy.wait_for_log(&format!("Execing {BINARY}"));
    assert!(error.contains("--bind"), "{error}");
}

/// Knock, so the launcher starts the proxy; the proxy must refuse to start (exit 1). Its error line.
fn refused_start(activation: &mut Activation) -> String {
    let _knock = client::connect(activation.addr(0));
    let status = activation
        .proxy
        .wait_exit(PATIENCE)
        .expect("the proxy should refuse to start");
    assert_eq!(status.code(), Some(1));
    activation.proxy.wait_for_log("error: ")
}
