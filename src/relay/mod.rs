//! The relay: one pair's data path, from the moment the accept loop hands over a client to the
//! pair's closing line.
//!
//! A pair has two threads, one per direction; each runs a [`pump`] that reads from one socket
//! and writes everything to the other, sleeping in the kernel whenever a peer is slow. The
//! [`hang`] rule decides when a pair that makes no progress is cut; [`close`] says why a pair
//! ended. Read in this order: [`lifecycle`] (a pair's life), [`pair`] (what its threads share),
//! [`pump`] (one direction), [`hang`] (the 10-second rule), then the rest as needed.
//!
//! This room imports nothing from the front door or the operator's view: it is the bottom of
//! the crate, and everything else is built on it.

pub mod activity;
pub mod admission;
pub mod buffer;
pub mod channel;
pub mod close;
pub mod direction;
pub mod error;
pub mod hang;
pub mod histogram;
pub mod keepalive;
pub mod last_out;
pub mod lifecycle;
pub mod pair;
pub mod prepare;
pub mod proxy_header;
pub mod proxy_protocol;
pub mod pump;
pub mod report;
pub mod reset;
pub mod tap;
#[cfg(test)]
pub mod testing;
pub mod totals;
pub mod upstream;
pub mod workers;

pub use error::RelayError;
pub use lifecycle::Relay;
