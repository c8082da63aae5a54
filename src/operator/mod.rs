//! What the operator sees: the log ([`logging`], with the per-pair and refusal lines of
//! [`log_lines`]), the listening line ([`announce`]), the live stats table ([`stats`], with the
//! destinations table of [`destinations`], both laid out by [`text_table`]), the traffic dump
//! ([`dump`]), and in a room of its own the HTTP endpoint of `--metrics` ([`endpoint`]: Prometheus
//! metrics, the live status page, and `/healthz` and `/ready` for load balancers).
//!
//! Everything here reads what the other rooms already keep — the pumps' activity records, the
//! relay's counters, the table of live pairs — and turns it into lines for people. None of it is
//! on the data path: the pumps publish with relaxed atomic stores and never wait for a reader.
//!
//! This room may use the relay and the front door; neither uses it.

pub mod announce;
pub mod destinations;
pub mod dump;
pub mod endpoint;
pub mod log_lines;
pub mod logging;
pub mod stats;
pub mod text_table;
