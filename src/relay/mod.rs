//! The relay: one pair's data path, from the moment the accept loop hands over a client to the
//! pair's closing line.
//!
//! A pair has two threads, one per direction; each runs a [`pump`] that reads from one socket
//! and writes everything to the other, sleeping in the kernel whenever a peer is slow. The
//! [`hang`] rule decides when a pair that makes no progress is cut; [`close`] says why a pair
//! ended. Read in this order: [`lifecycle`] (a pair's life), [`pair`] (what its threads share,
//! and how a pair is cut: [`reset`]), [`pump`] (one direction), [`hang`] (the 10-second rule).
//! Then, as needed: [`last_out`] and [`closing`] (the last of a pair's threads closes it), [`workers`] (pair
//! threads started or reused), [`admission`] (`--accept-proxy`), [`close`], [`error`] and
//! [`direction`].
//!
//! Three sub-rooms hold what a student may skip on a first reading:
//! - [`channel`]: how a pump holds bytes between its read and its write (a buffer from the pool,
//!   or a splice pipe) and the `--dump` tap;
//! - [`upstream`]: the way to the destinations (resolving and re-resolving, the choice by
//!   `--balance`, failover, health and checks, connecting, `--source`, socket options,
//!   `--keepalive`, `--send-proxy`);
//! - [`accounting`]: what each pump is doing, the totals, the histograms, the closing line.
//!
//! This room imports nothing from the front door or the operator's view: it is the bottom of
//! the crate, and everything else is built on it.

pub mod accounting;
pub mod admission;
pub mod channel;
pub mod close;
pub mod closing;
pub mod direction;
pub mod error;
pub mod hang;
pub mod last_out;
pub mod lifecycle;
pub mod pair;
pub mod pump;
pub mod reset;
pub mod upstream;
pub mod workers;

pub use error::RelayError;
pub use lifecycle::Relay;
