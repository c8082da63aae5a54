//! tcpproxy: a thread-per-connection blocking TCP proxy.
//!
//! `tcpproxy HOST PORT LISTEN_PORT` accepts clients on LISTEN_PORT and relays each one, byte for
//! byte in both directions, to its own new connection to HOST:PORT. It is written to be read: a
//! working answer to the question "how does blocking network I/O work, and why is it enough?"
//!
//! # The design in one page
//!
//! **The main thread accepts; each pair gets two threads.** The main thread does nothing but
//! wait for room under `--max-connections`, block in `accept`, check `--allow`, and hand the
//! client over ([`front_door::accept`]). A *pair* — the client and our own connection to the
//! destination — then lives on two threads of its own, one per direction ([`relay::lifecycle`]).
//! The first connects to the destination; then each runs a *pump* ([`relay::pump`]): read from one
//! socket, write everything to the other, until EOF. No thread ever waits for two things at once,
//! so nothing needs `poll` or an event loop: the kernel's scheduler is the event loop.
//!
//! **Blocking is the flow control.** A pump sleeps in `read` while its source has nothing, and in
//! `write` while its sink's send buffer is full. While it sleeps in `write` it does not read, so
//! the source's TCP window closes and the fast peer is slowed to the slow one's pace, with never
//! more than one buffer held for it. This is xv6's `pipewrite`/`piperead`, with sockets.
//!
//! **Half-close.** When one side sends EOF, its pump shuts down the *write half* toward the other
//! side and ends; the other direction keeps going until it, too, sees EOF. A client that sends its
//! whole request and then EOF still gets the whole answer.
//!
//! **The hang rule.** A pair is hung when, for `--timeout` seconds, a write toward one side moved
//! no byte (*stall*), or no byte moved either way (*idle*). Progress is tracked per pair, not per
//! socket ([`relay::hang`]): a naive read timeout would cut a long download because the upload
//! direction is quiet. Blocked calls wake on socket timeouts the rule arms, look at the pair's
//! clock, and either cut the pair or go back to sleep.
//!
//! **What wakes a blocked thread.** Bytes, EOF or buffer space (the normal case); a socket
//! timeout (the hang rule looks); or the other thread ending the pair, which shuts both sockets
//! down so every blocked call returns at once ([`relay::pair::Pair::end`]). A stop does the same
//! to every live pair.
//!
//! **Seeing inside.** Each pump says what it is about to block on, with relaxed atomic stores
//! ([`relay::activity`]); `kill -USR1` prints a table of every pair's two threads and what each
//! is waiting for ([`operator::stats`]). Threads are named after their pair and direction
//! (`pair 17 c->s`), in the log and in `top -H`.
//!
//! # The three rooms, and which way the imports run
//!
//! | room | owns |
//! |---|---|
//! | [`relay`] | one pair's data path: its lifecycle, the pumps, channels and buffers, the hang clock, the activity records, the worker threads, the way to the destination, why a pair closed |
//! | [`front_door`] | who gets in: the listener, the accept loop, `--allow`, the pair budget, the table of live pairs, the stop flag |
//! | [`operator`] | what the operator sees: logging, the stats table, the traffic dump |
//!
//! Around them: [`cli`] (the command line), [`startup`] (builds the rooms and runs the accept
//! loop), [`signals`] (every signal, on one thread), [`error`] (start-up errors), [`events`] and
//! [`json`] (the log's events, as text for people or JSON for programs), [`units`] (bytes and
//! seconds for people). `main.rs` only parses, runs and maps errors to exit codes.
//!
//! Imports run one way, down this drawing; no module imports one that imports it
//! (`make lint` checks):
//!
//! ```text
//!   main.rs
//!     └─▶ startup, signals, cli
//!           └─▶ operator    (logging, log_lines, stats, dump)
//!                 └─▶ front_door   (accept, listener, allow, limits, live, stop, ratelimit,
//!                                   refusal_log)
//!                       └─▶ relay        (lifecycle → pair → pump → channel → buffer;
//!                                         hang, activity, close, report, totals, histogram,
//!                                         upstream, workers, last_out, tap, keepalive,
//!                                         proxy_header, admission, prepare)
//!                             └─▶ error, events → json, units
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
pub mod relay;
pub mod signals;
pub mod startup;
pub mod units;

pub use startup::run;
