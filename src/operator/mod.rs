//! What the operator sees: the log, the live stats table, the traffic dump, and the HTTP endpoint
//! (`--metrics`: `endpoint` routes, `http` serves, `metrics` and `exposition` write the numbers,
//! `status_page` and `history` are the live page at `/`).
//!
//! Everything here reads what the other rooms already keep — the pumps' activity records, the
//! relay's counters, the table of live pairs — and turns it into lines for people. None of it is
//! on the data path: the pumps publish with relaxed atomic stores and never wait for a reader.
//!
//! This room may use the relay and the front door; neither uses it.

pub mod dump;
pub mod endpoint;
pub mod exposition;
pub mod history;
pub mod http;
pub mod log_lines;
pub mod logging;
pub mod metrics;
pub mod stats;
pub mod status_page;
