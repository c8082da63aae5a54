//! Building the rooms from the command line: the destinations, the listening socket and the
//! `--metrics` one, bound here or taken from whoever passed them (systemd, or the previous
//! tcpproxy of an upgrade) — where start-up meets the network, and most often fails — then the
//! front door and the relay behind it, with the way bytes will move. Blocking: the destinations'
//! names are resolved here, once, before any thread exists to wait on them.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use log::{info, warn};

use crate::cli::{destinations, Options};
use crate::error::{ActivationError, StartupError};
use crate::front_door::accept::Door;
use crate::front_door::allow::AllowList;
use crate::front_door::gate::{DoorCounts, Gate, Rules};
use crate::front_door::limits;
use crate::front_door::listener;
use crate::front_door::systemd::{self, Inherited};
use crate::operator::{dump, endpoint};
use crate::relay::admission::AcceptProxy;
use crate::relay::channel::buffer::BufferPool;
use crate::relay::channel::{self, CopyMode, PipeBudget};
use crate::relay::hang::HangRule;
use crate::relay::upstream::keepalive::Keepalive;
use crate::relay::upstream::{Name, Pool, Upstream};
use crate::relay::Relay;

/// What start-up opened.
pub struct Opened {
    pub pool: Pool,
    pub listener: TcpListener,
    /// Where the listener came from, for the listening line ("" for our own).
    pub origin: String,
    /// With `--metrics`: its socket, and where it came from.
    pub metrics: Option<(TcpListener, String)>,
}

/// The destinations, resolved (and `--source` checked against each), the listening socket and
/// the `--metrics` one, with where they came from: start-up's first contact with the network,
/// and where it most often fails.
pub fn open_sockets(options: &Options) -> Result<Opened, StartupError> {
    let first = Name {
        host: options.destination_host.clone(),
        port: options.destination_port,
    };
    let given = &options.upstream;
    let names = destinations::all(first, &given.destinations)?;
    let pool = Pool::resolve(names, given.balance, given.health(), options.source)?;
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
        pool,
        listener,
        origin,
        metrics,
    })
}

/// The front door and the relay behind it, from the command line. The relay gives `listener`
/// the socket options its clients inherit, which can fail.
pub fn build_rooms(
    options: &Options,
    listener: &TcpListener,
    pool: Pool,
    copy_mode: CopyMode,
    max_connections: usize,
) -> io::Result<(Door, Arc<Relay>)> {
    let upstream = Upstream {
        pool,
        connect_timeout: (!options.connect_timeout.is_zero()).then_some(options.connect_timeout),
        send_proxy: options.send_proxy,
        source: options.source,
        keepalive: options.keepalive.map(Keepalive::within),
    };
    let rule = HangRule::new(options.timeout, options.idle_timeout());
    let counts = Arc::new(DoorCounts::default());
    let rules = Rules {
        allow: AllowList::new(options.allow.clone()),
        deny: AllowList::new(options.deny.clone()),
        max_per_client: options.max_per_client,
    };
    if rules.allow.all_listed_by(&rules.deny) {
        warn!(
            "every client will be refused: --deny lists every address {}",
            match options.allow.is_empty() {
                true => "(IPv4 and IPv6)",
                false => "that --allow lets in",
            }
        );
    }
    let gate = Gate::new(rules, Arc::clone(&counts));
    let accept_proxy = options.accept_proxy.then(|| AcceptProxy {
        admission: Arc::new(Arc::clone(&gate)),
        header_timeout: header_timeout(options),
    });
    let relay = Relay::new(listener, upstream, rule, copy_mode, accept_proxy)?;
    let door = Door {
        gate,
        accept_proxy: options.accept_proxy,
        max_connections,
        counts,
    };
    Ok((door, relay))
}

/// `--accept-proxy`: a client has `--connect-timeout` to send its header (a balancer sends it at
/// once); with that limit off, the hang timeout, and with both off, the lab's 10 s.
pub fn header_timeout(options: &Options) -> Duration {
    [options.connect_timeout, options.timeout]
        .into_iter()
        .find(|limit| !limit.is_zero())
        .unwrap_or(Duration::from_secs(10))
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

/// `--copy-mode` and `--dump`: a buffer for each direction of every allowed pair (splice may still
/// fall back to the copy); with splice, the pipes the open-file limit has left after
/// `max_connections` pairs' sockets (two descriptors per pipe).
pub fn choose_copy_mode(
    options: &Options,
    max_connections: usize,
    open_files: Option<u64>,
) -> Result<CopyMode, StartupError> {
    let buffers = BufferPool::new(2 * max_connections, channel::CHUNK)?;
    let dump = match &options.dump {
        Some(path) => Some(dump::start(dump::Target::prepare(path)?)?),
        None => None,
    };
    let mut pipes = None;
    if options.copy_mode == "splice" && dump.is_some() {
        info!("--dump needs the bytes in our memory: copying instead of splicing");
    } else if options.copy_mode == "splice" {
        let spare = limits::spare_descriptors(open_files.unwrap_or(1024), max_connections as u64);
        info!(
            "splice: up to {} pipes (two per fully spliced pair), then copy",
            spare / 2
        );
        pipes = Some(PipeBudget::new((spare / 2) as usize));
    }
    Ok(CopyMode {
        pipes,
        buffers,
        dump,
    })
}
