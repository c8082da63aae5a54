//! The errors that stop the proxy before it serves anyone, one type per concern:
//!
//! - [`ArgError`]: a value on the command line makes no sense (clap prints it with the usage line
//!   and exits 2);
//! - [`StartupError`]: the command line was fine, but the proxy cannot start (exit 1): a port in
//!   use, a name that does not resolve, a limit too small, a socket systemd passed that will not
//!   do;
//! - [`ActivationError`]: a listening socket systemd passed will not do (part of a
//!   `StartupError`);
//! - [`DumpError`]: `--dump` cannot be set up.
//!
//! Errors that end a single pair while the proxy goes on are the relay's own
//! ([`crate::relay::RelayError`]). Every message names what failed, the address or path involved,
//! and why, so that one line on stderr is enough to act on. Nothing here blocks.

mod activation;
mod args;
mod dump;
mod startup;

pub use activation::ActivationError;
pub use args::{ArgError, DurationError};
pub use dump::DumpError;
pub use startup::{BudgetTooSmall, StartupError};
