//! tcpproxy: a thread-per-connection blocking TCP proxy.
//!
//! `tcpproxy HOST PORT LISTEN_PORT` accepts clients on LISTEN_PORT and relays each one, byte for
//! byte in both directions, to its own new connection to HOST:PORT. It is written to be read: a
//! working answer to the question "how does blocking network I/O work, and why is it enough?"
//!
//! Start with `examples/lab.rs`: the same design and nothing else, in 150 lines, each part marked
//! with the module below that grows from it. The design essay follows (it is `docs/design.md`);
//! then the map of the code.
//!
#![doc = include_str!("../docs/design.md")]
//!
//! # The map: rooms, and which way the imports run
//!
//! | room | owns |
//! |---|---|
//! | [`relay`] | one pair's data path: its lifecycle, what its threads share, the pumps, the hang rule, how a pair is cut and why it closed, the pair threads; in sub-rooms, how bytes are held ([`relay::channel`]), the way to the destinations ([`relay::upstream`]: the choice among them, their health, the resolver and checker threads) and the bookkeeping ([`relay::accounting`]) |
//! | [`front_door`] | who gets in: the listener (or systemd's), the accept loop, `--allow`/`--deny`/`--max-per-client`, the pair budget, the table of live pairs, the stop flag, the drain |
//! | [`operator`] | what the operator sees: logging, the listening line, the stats table and the destinations table, the traffic dump, and the `--metrics` HTTP endpoint ([`operator::endpoint`]: Prometheus metrics, the status page, `/healthz` and `/ready`) |
//! | [`proxy_protocol`] | the PROXY protocol, read (`--accept-proxy`) and written (`--send-proxy`): a leaf that imports nothing of the rest |
//! | [`upgrade`] | upgrade in place on SIGUSR2: `argv[0]` made absolute at start-up, our own fork and exec with the sockets at descriptors 3 and 4, the notify socket that hears the new process say `READY=1`, and the attempt that hands over or gives up |
//!
//! Around them: [`cli`] (the command line; the options for several destinations in
//! [`cli::destinations`]), [`startup`] (opens the sockets and builds the rooms, in
//! [`startup::rooms`], and runs the accept loop), [`signals`] (SIGTERM, SIGHUP, SIGUSR1 and
//! SIGUSR2 on one thread from a `signalfd`; SIGINT on ctrlc's; the stop, its "again" and its "same
//! one twice" in [`signals::stops`]), [`error`] (start-up errors), [`events`] and [`json`] (the
//! log's events, as text for people or JSON for programs), [`units`] (bytes and seconds for
//! people, and durations as they are typed), [`ratelimit`] (at most one log line a second, for the
//! front door and the endpoint alike). `main.rs` only parses, runs and maps errors to exit codes.
//!
//! Every module is named below. Imports run one way, down the drawing: a module may use what is
//! below it, never what is above, and no module imports one that imports it (`make lint`
//! checks both, and that every `mod` is in this drawing). A room inside a room (`relay/channel/`)
//! is drawn here with its modules and told in its parent's docs.
//!
//! ```text
//!   main.rs
//!     └─▶ startup       rooms
//!     └─▶ signals       stops, ctrl_c
//!     └─▶ upgrade       attempt → ready, spawn, child; program
//!     └─▶ cli           destinations, values
//!           └─▶ operator      announce, logging, log_lines, stats, destinations, text_table, dump,
//!                             endpoint/ (endpoint, http, clients, metrics, exposition,
//!                                        status_page, history, readiness)
//!                 └─▶ front_door    accept, listener, systemd, gate, allow, limits, live,
//!                                   refusal_log, stop, shutdown, wake
//!                       └─▶ relay         lifecycle → pair → pump → hang;
//!                                         close, closing, direction, error, reset, last_out,
//!                                         workers, admission,
//!                                         channel/    (channel, buffer, tap),
//!                                         upstream/   (upstream, pool → balance, destination →
//!                                                      health, name, addresses, connect, route,
//!                                                      resolver, checker, prepare, keepalive),
//!                                         accounting/ (accounting, activity, totals, histogram,
//!                                                      report)
//!                             └─▶ proxy_protocol   header, parse, read, v1, v2, write
//!                             └─▶ error            args, startup, activation, dump
//!                             └─▶ events → json; units, ratelimit, testing (unit tests only)
//! ```
//!
//! Inside the relay, too, the arrows point down: [`relay::lifecycle`] drives a
//! [`relay::pair::Pair`], the pair hands each pump a [`relay::pump::Lane`] holding everything
//! that pump touches, and a pump never reaches back into the pair.

pub mod cli;
pub mod error;
pub mod events;
pub mod front_door;
pub mod json;
pub mod operator;
pub mod proxy_protocol;
pub mod ratelimit;
pub mod relay;
pub mod signals;
pub mod startup;
#[cfg(test)]
pub mod testing;
pub mod units;
pub mod upgrade;

pub use startup::run;
