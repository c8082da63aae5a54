//! Start-up's first contact with the network, and where it most often fails: the destination
//! resolved (and `--source` checked against it), the listening socket bound or taken from whoever
//! passed it (systemd, or the previous tcpproxy of an upgrade), and the `--metrics` socket
//! likewise.
//!
//! Blocking: resolving the destination's name, once.

use std::net::TcpListener;

use log::warn;

use crate::cli::Options;
use crate::error::{ActivationError, StartupError};
use crate::front_door::listener;
use crate::front_door::systemd::{self, Inherited};
use crate::operator::endpoint;
use crate::relay::upstream::{self, Destination};

/// What start-up opened.
pub struct Opened {
    pub destination: Destination,
    pub listener: TcpListener,
    /// Where the listener came from, for the listening line ("" for our own).
    pub origin: String,
    /// With `--metrics`: its socket, and where it came from.
    pub metrics: Option<(TcpListener, String)>,
}

/// Resolve the destination and open the sockets.
pub fn open(options: &Options) -> Result<Opened, StartupError> {
    let destination = Destination::resolve(&options.destination_host, options.destination_port)?;
    if let Some(source) = options.source {
        upstream::check_source(source, &destination)?;
    }
    let inherited = systemd::inherited_sockets(options.listen_port)?;
    let (listener, origin) = listen(options, inherited.listener)?;
    let metrics = match (options.metrics, inherited.metrics) {
        (Some(address), inherited) => Some(endpoint::listen(address, inherited)?),
        (None, Some(unused)) => {
            warn!(
                "a socket named 'metrics' was passed as descriptor {}, but there is no \
                 --metrics: not serving it",
                unused.fd
            );
            None
        }
        (None, None) => None,
    };
    Ok(Opened {
        destination,
        listener,
        origin,
        metrics,
    })
}

/// The listening socket passed to us, or one of our own on `--bind` and the listen port; and,
/// for the listening line, where it came from.
fn listen(
    options: &Options,
    inherited: Option<Inherited>,
) -> Result<(TcpListener, String), StartupError> {
    let Some(inherited) = inherited else {
        let listener = listener::bind(options.bind.as_deref(), options.listen_port)?;
        return Ok((listener, String::new()));
    };
    // Under systemd the unit's ListenStream= chose the address; a previous tcpproxy bound it
    // with this same --bind, from this same command line.
    if options.bind.is_some() && systemd::giver() == systemd::Giver::Systemd {
        return Err(ActivationError::BindGiven.into());
    }
    let origin = inherited.origin();
    Ok((inherited.listener, origin))
}
