//! The front door: who gets in, how many at once, and how the main thread stops letting them in.
//!
//! The main thread lives here. It binds the [`listener`] (or takes the one [`systemd`] passed),
//! then runs the [`accept`] loop: wait for room under `--max-connections` ([`limits`], [`live`]),
//! block in `accept`, check the client against `--allow`, `--deny` and `--max-per-client`
//! ([`gate`], [`allow`]), and hand it to the relay. A signal, or an upgrade's new process that is
//! ready, reaches it through the [`stop`] flag, which interrupts its `accept` ([`wake`]);
//! [`shutdown`] then drains and cuts the pairs still live. Refused clients are counted per
//! network ([`refusal_log`]).
//!
//! This room uses the relay (to start pairs and to end them at a stop); the relay knows nothing
//! of it.

pub mod accept;
pub mod allow;
pub mod gate;
pub mod limits;
pub mod listener;
pub mod live;
pub mod refusal_log;
pub mod shutdown;
pub mod stop;
pub mod systemd;
pub mod wake;
