//! `--metrics ADDR:PORT`: the operator's HTTP endpoint, on its own thread named `metrics`.
//!
//! This module owns where the endpoint listens and what each path answers ([`route`]); the HTTP
//! itself is [`http`]'s (each client on its own thread, at most a few at once: [`clients`]), the
//! numbers are [`metrics`]' (written out by [`exposition`]), the status page (`/` and
//! `/pairs.json`) is [`status_page`]'s, its chart's samples [`history`]'s, and `/healthz` and
//! `/ready` are [`readiness`]'. The address is an IP literal and a port (`127.0.0.1:9100`,
//! `[::1]:9100`), or `localhost:PORT`, which means 127.0.0.1 without asking any resolver. Port 0
//! takes any free port; the log line names the one chosen. A socket named `metrics` passed by
//! systemd or by the previous tcpproxy of an upgrade (`front_door/systemd.rs`) is used instead of
//! binding one.
//!
//! Blocking: the `metrics` thread, in `http.rs`; nothing here.

pub mod clients;
pub mod exposition;
pub mod history;
pub mod http;
pub mod metrics;
pub mod readiness;
pub mod status_page;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use log::{info, warn};

use crate::error::{ActivationError, ArgError, StartupError};
use crate::front_door::systemd::Inherited;
use crate::front_door::wake::Wakeable;
use crate::operator::endpoint::http::Response;
use crate::operator::endpoint::metrics::Metrics;
use crate::operator::endpoint::readiness::Readiness;
use crate::operator::endpoint::status_page::Status;

/// `--metrics`' value: `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
pub fn parse_address(text: &str) -> Result<SocketAddr, ArgError> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let bad = || ArgError::NotAMetricsAddress(text.to_string());
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    Err(bad())
}

/// The endpoint's socket: the one passed to us as `metrics`, or `address` bound; and, for the
/// log, where it came from ("" for our own).
pub fn listen(
    address: SocketAddr,
    inherited: Option<Inherited>,
) -> Result<(TcpListener, String), StartupError> {
    let failed = |source| StartupError::Metrics { address, source };
    let Some(inherited) = inherited else {
        return Ok((TcpListener::bind(address).map_err(failed)?, String::new()));
    };
    let bound = inherited.listener.local_addr().map_err(failed)?;
    if address.port() != 0 && address.port() != bound.port() {
        let differs = ActivationError::MetricsPortDiffers {
            inherited: bound,
            asked: address,
        };
        return Err(differs.into());
    }
    let origin = inherited.origin();
    Ok((inherited.listener, origin))
}

/// Start the `metrics` thread on `listener` (from [`listen`]; `origin` says where it came from)
/// until `stop`; the address it listens on.
pub fn start(
    (listener, origin): (Arc<TcpListener>, &str),
    stop: Arc<Wakeable>,
    metrics: Metrics,
    status: Status,
    readiness: Readiness,
) -> Result<SocketAddr, StartupError> {
    let bound = listener
        .local_addr()
        .map_err(StartupError::ListeningAddress)?;
    if !bound.ip().is_loopback() {
        warn!(
            "--metrics {bound} is not a loopback address: anyone who can reach it sees the \
             proxy's traffic, and the endpoint shows client addresses"
        );
    }
    let metrics = Arc::new(metrics);
    let route = move |path: &str| route(path, &metrics, &status, &readiness);
    http::start("metrics", listener, stop, route).map_err(|source| StartupError::Thread {
        name: "metrics",
        source,
    })?;
    info!("metrics on http://{bound}/metrics{origin}");
    info!("status page on http://{bound}/ (its data: http://{bound}/pairs.json)");
    info!("health on http://{bound}/healthz, readiness on http://{bound}/ready");
    Ok(bound)
}

/// What each path answers. A new page is one more arm.
pub fn route(path: &str, metrics: &Metrics, status: &Status, readiness: &Readiness) -> Response {
    match path {
        "/metrics" => Response::ok(exposition::CONTENT_TYPE, metrics.render()),
        "/" => status_page::page(),
        "/pairs.json" => status.pairs(&metrics.sources),
        "/healthz" => readiness::healthz(),
        "/ready" => readiness.ready(),
        _ => Response::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ip_literals_or_localhost() {
        let parsed = |t: &str| parse_address(t).map(|a| a.to_string());
        assert_eq!(parsed("127.0.0.1:9100").as_deref(), Ok("127.0.0.1:9100"));
        assert_eq!(parsed("[::1]:0").as_deref(), Ok("[::1]:0"));
        assert_eq!(parsed("localhost:9").as_deref(), Ok("127.0.0.1:9"));
        for bad in [
            "9100",
            "example.com:80",
            "127.0.0.1",
            "127.0.0.1:x",
            "[::1]:70000",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }
}
