//! One direction's pump: read from one socket, write everything to the other, until EOF.
//!
//! This is the whole of a proxy's data path, and with blocking sockets it is a plain loop, like
//! xv6's `pipewrite`/`piperead`: the thread sleeps in `read` while the source has nothing, and in
//! `write` while the sink's send buffer is full. Sleeping in `write` *is* the flow control: while
//! this thread is stuck there it does not read, so the source's window closes and the fast side is
//! slowed to the pace of the slow one, with never more than one buffer of data held here.
//!
//! What wakes a sleeping pump:
//! - bytes or EOF from the source, or buffer space at the sink (the normal case);
//! - a socket timeout armed by the hang rule (see `hang.rs`), after which the pump asks the pair's
//!   clock whether the pair is hung and either ends it or goes back to sleep;
//! - the other thread ending the pair: it shuts both sockets down, so our `read` returns 0 or our
//!   `write` fails at once, and we find the pair ended (its close reason recorded).

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use log::trace;

use crate::activity::State;
use crate::buffer::BufferPool;
use crate::channel::{Channel, CopyBuffer, PipeBudget, SplicePipe};
use crate::direction::Direction;
use crate::dump::{Dumper, Tap};
use crate::pair::Pair;
use crate::report::CloseReason;

/// How a pump finished.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// The source sent EOF and everything before it was delivered; the sink's write half is shut.
    Finished,
    /// This direction hit something that ends the whole pair.
    Stopped(CloseReason),
    /// The other thread (or a shutdown) ended the pair while we were blocked.
    Aborted,
}

/// How the pump moves bytes (`--copy-mode`).
#[derive(Clone)]
pub struct CopyMode {
    /// With `--copy-mode splice`: splice(2) through a pipe from this budget while it lasts.
    pub pipes: Option<Arc<PipeBudget>>,
    /// Otherwise read(2) into a buffer from this pool and write(2) from it.
    pub buffers: Arc<BufferPool>,
    /// `--dump`: a copy of every byte read goes here (the bytes must pass through our memory, so
    /// `pipes` is then `None`).
    pub dump: Option<Arc<Dumper>>,
}

/// Relay `dir` of `pair` until the source's EOF or the pair's end, saying so in its activity.
pub fn pump(pair: &Pair, dir: Direction, mode: &CopyMode) -> Flow {
    let flow = choose_channel_and_relay(pair, dir, mode);
    let state = match flow {
        Flow::Finished => State::HalfClosed,
        Flow::Stopped(_) | Flow::Aborted => State::Done,
    };
    pair.activity(dir).finished(state);
    flow
}

fn choose_channel_and_relay(pair: &Pair, dir: Direction, mode: &CopyMode) -> Flow {
    let (Some(source), Some(sink)) = (pair.socket(dir.source()), pair.socket(dir.sink())) else {
        return Flow::Aborted; // not connected: nothing to relay
    };
    let tap = mode.dump.as_deref().map(|d| Tap::new(d, pair.id(), dir));
    if let Some(budget) = &mode.pipes {
        if let Some(pipe) = SplicePipe::new(budget) {
            return relay(pair, dir, source, sink, pipe, tap);
        }
        trace!("no pipe for splice (budget spent or out of descriptors); copying instead");
    }
    match CopyBuffer::new(&mode.buffers) {
        Some(buffer) => relay(pair, dir, source, sink, buffer, tap),
        None => Flow::Stopped(CloseReason::OutOfResources("no free buffer".into())),
    }
}

/// The loop itself: take what the source has, give all of it to the sink, until EOF.
fn relay(
    pair: &Pair,
    dir: Direction,
    source: &TcpStream,
    sink: &TcpStream,
    mut channel: impl Channel,
    mut tap: Option<Tap>,
) -> Flow {
    loop {
        let n = match read_some(pair, dir, source, &mut channel) {
            Ok(0) => break,
            Ok(n) => n,
            Err(flow) => return flow,
        };
        if let (Some(tap), Some(bytes)) = (&mut tap, channel.bytes(n)) {
            tap.copy(bytes); // never blocks: a dump that falls behind drops instead
        }
        if let Err(flow) = write_all(pair, dir, sink, &mut channel, n) {
            return flow;
        }
    }
    // Half-close: pass the EOF on, but only for this direction. The sink may still be sending to
    // us (a client that sent its whole request and waits for the answer), so the socket stays open
    // and the other pump goes on. NotConnected just means the sink already left: nothing to tell.
    match sink.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => failure(pair, dir, End::Sink, &e),
        _ => Flow::Finished,
    }
}

/// Which end of this direction an error happened on.
enum End {
    Source,
    Sink,
}

/// Read at least one byte, or `Ok(0)` for the source's EOF.
fn read_some(
    pair: &Pair,
    dir: Direction,
    source: &TcpStream,
    channel: &mut impl Channel,
) -> Result<usize, Flow> {
    pair.activity(dir).reading(pair.clock().now());
    loop {
        match channel.fill(source) {
            // A shutdown by the other thread also reads as EOF: the flag tells the two apart.
            Ok(0) if pair.is_ended() => return Err(Flow::Aborted),
            Ok(0) => {
                trace!("read EOF from {}", dir.source());
                return Ok(0);
            }
            Ok(n) => {
                pair.clock().progress();
                trace!("read {n} bytes from {}", dir.source());
                return Ok(n);
            }
            Err(e) if is_timeout(&e) => {
                check_hang(pair)?;
                trace!(
                    "nothing from {} yet; the pair is not idle, so back to sleep",
                    dir.source()
                );
                // Not hung: the pair moved bytes the other way since we armed the timeout. Sleep
                // again, but only until the idle deadline as it stands now.
                if let Err(e) = source.set_read_timeout(pair.clock().read_timeout()) {
                    return Err(failure(pair, dir, End::Source, &e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(pair, dir, End::Source, &e)),
        }
    }
}

/// Deliver all `held` bytes, however slowly the sink takes them, unless the pair ends.
fn write_all(
    pair: &Pair,
    dir: Direction,
    sink: &TcpStream,
    channel: &mut impl Channel,
    mut held: usize,
) -> Result<(), Flow> {
    let started = pair.clock().write_started(dir);
    pair.activity(dir).writing(started, held);
    while held > 0 {
        match channel.drain(sink, held) {
            Ok(0) => {
                let e = io::Error::from(io::ErrorKind::WriteZero);
                return Err(failure(pair, dir, End::Sink, &e));
            }
            Ok(n) => {
                // A partial write is progress: a slow reader is not a stalled one.
                let moved_at = pair.clock().write_progress(dir);
                pair.count_delivered(dir, n);
                trace!("wrote {n} bytes to {}", dir.sink());
                held -= n;
                pair.activity(dir).wrote(moved_at, held);
            }
            Err(e) if is_timeout(&e) => {
                check_hang(pair)?;
                trace!(
                    "{} takes nothing; still holding {} bytes for it",
                    dir.sink(),
                    held
                );
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(pair, dir, End::Sink, &e)),
        }
    }
    pair.clock().write_done(dir);
    Ok(())
}

/// A socket timeout fired: stop if the pair ended or is hung, else carry on.
fn check_hang(pair: &Pair) -> Result<(), Flow> {
    if pair.is_ended() {
        return Err(Flow::Aborted);
    }
    match pair.clock().verdict() {
        Some(hang) => Err(Flow::Stopped(CloseReason::Hang(hang))),
        None => Ok(()),
    }
}

/// An I/O error: ours to report, unless the pair had already ended (then it is the shutdown's echo).
fn failure(pair: &Pair, dir: Direction, at: End, err: &io::Error) -> Flow {
    if pair.is_ended() {
        return Flow::Aborted;
    }
    let side = match at {
        End::Source => dir.source(),
        End::Sink => dir.sink(),
    };
    Flow::Stopped(CloseReason::from_io(side, err))
}

/// Socket timeouts surface as `WouldBlock` (EAGAIN) on Unix and `TimedOut` elsewhere.
fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
