//! `/healthz` and `/ready`: what a load balancer, a Kubernetes probe or an orchestrator asks.
//!
//! - `/healthz` answers 200 while the process runs and its endpoint thread answers: a liveness
//!   probe, which restarts a proxy that answers nothing.
//! - `/ready` answers 200 while the proxy accepts clients and at least one destination is up,
//!   503 otherwise: every destination down, or a stop under way (after SIGTERM the listener is
//!   closed at once, and `--drain` lets the live pairs finish while `/ready` says 503, so a
//!   balancer sends new clients elsewhere). HAProxy's `option httpchk GET /ready` asks this
//!   instead of opening a relay pair (a database session) every few seconds.
//!
//! The body is one line saying why, for a person reading `curl`'s output. Nothing here blocks
//! but each destination's health lock, for an instant.

use std::sync::Arc;

use crate::front_door::stop::Stop;
use crate::operator::endpoint::http::Response;
use crate::relay::Relay;

/// What `/ready` looks at.
pub struct Readiness {
    /// Requested: the listener is closed, or about to be.
    pub stop: Arc<Stop>,
    pub relay: Arc<Relay>,
}

/// `/healthz`.
pub fn healthz() -> Response {
    Response::plain(200, "ok: the process runs")
}

impl Readiness {
    /// `/ready`.
    pub fn ready(&self) -> Response {
        if self.stop.is_requested() {
            return Response::plain(503, "not ready: stopping (the listener is closed)");
        }
        if !self.relay.upstream().pool.any_up() {
            return Response::plain(503, "not ready: every destination is down");
        }
        Response::plain(200, "ready: accepting, and a destination is up")
    }
}
