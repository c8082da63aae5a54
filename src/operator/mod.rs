//! What the operator sees: the log, the live stats table, and the traffic dump.
//!
//! Everything here reads what the other rooms already keep — the pumps' activity records, the
//! relay's counters, the table of live pairs — and turns it into lines for people. None of it is
//! on the data path: the pumps publish with relaxed atomic stores and never wait for a reader.
//!
//! This room may use the relay and the front door; neither uses it.

pub mod dump;
pub mod history;
pub mod log_lines;
pub mod logging;
pub mod stats;
pub mod status_page;
