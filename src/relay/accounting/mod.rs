//! The relay's bookkeeping, which a student may skip: nothing in it decides anything, it only
//! counts and tells.
//!
//! - [`activity`]: what each direction of a live pair is doing right now (the pumps publish it
//!   with relaxed atomic stores; the stats table and the status page read it);
//! - [`totals`]: the running totals every ended pair adds itself to, with two [`histogram`]s
//!   (how long pairs lived, how long connects took);
//! - [`report`]: a pair's one closing line, for people and for programs.
//!
//! Nothing here blocks, and nothing takes a lock: a pump pays a few relaxed stores per call.

pub mod activity;
pub mod histogram;
pub mod report;
pub mod totals;
