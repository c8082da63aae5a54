//! The proxy's integration tests: one test crate, so the kit's helpers are shared without copies.
//! Every test starts the built binary (`CARGO_BIN_EXE_tcpproxy`) against loopback servers it starts
//! itself; each module covers one area of the behaviour.
//!
//! `make soak` runs the one ignored test: `cargo test --release --test proxy soak:: -- --ignored`.

mod kit;

mod back_door;
mod cli;
mod destinations;
mod docs;
mod drain;
mod dump;
mod front_gate;
mod hang;
mod hardening;
mod ipv6;
mod isolation;
mod lab;
mod leaks;
mod lifecycle;
mod log_rotation;
mod machine_log;
mod metrics;
mod proxy_protocol;
mod relay;
mod resets;
mod signals;
mod soak;
mod splice;
mod stats;
mod status_page;
mod systemd;
mod upgrade;
