//! The pump over real loopback sockets: EOF, half-close, short writes, the hang rule firing while
//! blocked, and a stop while blocked.
//!
//! Each test builds a [`Rig`]: the pump reads `source` and writes `sink`; the test plays both
//! peers through `source_peer` and `sink_peer`. Hang-rule tests use timeouts of a few hundred
//! milliseconds and assert only the verdict, never how long it took.
//!
//! `rig.rs` builds the sockets; `ends.rs` covers the ways a direction finishes well, `faults.rs`
//! the ways it is stopped.

mod ends;
mod faults;
mod rig;
