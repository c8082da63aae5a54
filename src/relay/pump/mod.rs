//! One direction's pump: read from one socket, write everything to the other, until EOF.
//!
//! This is the whole of a proxy's data path, and with blocking sockets it is a plain loop, like
//! xv6's `pipewrite`/`piperead`: the thread sleeps in `read` while the source has nothing, and in
//! `write` while the sink's send buffer is full. Sleeping in `write` *is* the flow control: while
//! this thread is stuck there it does not read, so the source's window closes and the fast side is
//! slowed to the pace of the slow one, with never more than one buffer of data held here.
//!
//! The pump is handed everything it touches as one value, a [`Lane`]: its two sockets, the pair's
//! hang clock and shutdown flag, and its own activity record. It never reaches back into the pair.
//!
//! What wakes a sleeping pump:
//! - bytes or EOF from the source, or buffer space at the sink (the normal case);
//! - a socket timeout armed by the hang rule (see `hang.rs`), after which the pump asks the pair's
//!   clock whether the pair is hung and either ends it or goes back to sleep;
//! - the other thread ending the pair: it resets both sockets (`relay/reset.rs`), so our `read` or
//!   our `write` fails (or reads 0) at once, and we find the pair's [`Ending`] set.

use std::io;
use std::net::{Shutdown, TcpStream};

use log::trace;

use crate::relay::accounting::activity::{Activity, State};
use crate::relay::channel::tap::Tap;
use crate::relay::channel::Channel;
use crate::relay::close::{CloseReason, Ending};
use crate::relay::direction::Direction;
use crate::relay::error::Step;
use crate::relay::hang::HangClock;

/// One direction of a pair, as its pump sees it.
pub struct Lane<'a> {
    pub dir: Direction,
    pub source: &'a TcpStream,
    pub sink: &'a TcpStream,
    /// The pair's progress clock, shared with the other direction.
    pub clock: &'a HangClock,
    /// The pair's shutdown flag, shared with the other direction and the main thread.
    pub ending: &'a Ending,
    /// This direction's own state and byte count.
    pub activity: &'a Activity,
}

/// How a pump finished.
#[derive(Debug)]
pub enum Flow {
    /// The source sent EOF and everything before it was delivered; the sink's write half is shut.
    Finished,
    /// This direction hit something that ends the whole pair.
    Stopped(CloseReason),
    /// The pair was ended (by the other thread, or a stop) while we were blocked.
    Aborted,
}

/// Relay `lane` through `channel` until the source's EOF or the pair's end, saying so in the
/// lane's activity. With `tap`, a copy of every byte read goes to the dump.
pub fn pump(lane: &Lane, mut channel: impl Channel, mut tap: Option<Tap>) -> Flow {
    let flow = relay(lane, &mut channel, &mut tap);
    let state = match flow {
        Flow::Finished => State::HalfClosed,
        Flow::Stopped(_) | Flow::Aborted => State::Done,
    };
    lane.activity.finished(state);
    flow
}

/// The loop itself: take what the source has, give all of it to the sink, until EOF.
fn relay(lane: &Lane, channel: &mut impl Channel, tap: &mut Option<Tap>) -> Flow {
    loop {
        let n = match read_some(lane, channel) {
            Ok(0) => break,
            Ok(n) => n,
            Err(flow) => return flow,
        };
        if let (Some(tap), Some(bytes)) = (tap.as_mut(), channel.bytes(n)) {
            tap.copy(bytes); // never blocks: a dump that falls behind drops instead
        }
        if let Err(flow) = write_all(lane, channel, n) {
            return flow;
        }
    }
    // Half-close: pass the EOF on, but only for this direction. The sink may still be sending to
    // us (a client that sent its whole request and waits for the answer), so the socket stays open
    // and the other pump goes on. NotConnected just means the sink already left: nothing to tell.
    match lane.sink.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => failure(lane, End::Sink, e),
        _ => Flow::Finished,
    }
}

/// Which end of this direction an error happened on.
enum End {
    Source,
    Sink,
}

/// Read at least one byte, or `Ok(0)` for the source's EOF.
fn read_some(lane: &Lane, channel: &mut impl Channel) -> Result<usize, Flow> {
    lane.activity.reading(lane.clock.now());
    loop {
        match channel.fill(lane.source) {
            // A reset by the other thread may also read as EOF: the flag tells the two apart.
            Ok(0) if lane.ending.has_ended() => return Err(Flow::Aborted),
            Ok(0) => {
                trace!("read EOF from {}", lane.dir.source());
                return Ok(0);
            }
            Ok(n) => {
                lane.clock.progress(lane.clock.now());
                trace!("read {n} bytes from {}", lane.dir.source());
                return Ok(n);
            }
            Err(e) if is_timeout(&e) => {
                check_hang(lane)?;
                trace!(
                    "nothing from {} yet; the pair is not idle, so back to sleep",
                    lane.dir.source()
                );
                // Not hung: the pair moved bytes the other way since we armed the timeout. Sleep
                // again, but only until the idle deadline as it stands now.
                let left = lane.clock.read_timeout(lane.clock.now());
                if let Err(e) = lane.source.set_read_timeout(left) {
                    return Err(failure(lane, End::Source, e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(lane, End::Source, e)),
        }
    }
}

/// Deliver all `held` bytes, however slowly the sink takes them, unless the pair ends.
fn write_all(lane: &Lane, channel: &mut impl Channel, mut held: usize) -> Result<(), Flow> {
    let (clock, dir) = (lane.clock, lane.dir);
    let started = clock.now();
    clock.write_started(dir, started);
    lane.activity.writing(started, held);
    while held > 0 {
        match channel.drain(lane.sink, held) {
            Ok(0) => return Err(failure(lane, End::Sink, io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                // A partial write is progress: a slow reader is not a stalled one.
                let moved_at = clock.now();
                clock.write_progress(dir, moved_at);
                held -= n;
                lane.activity.wrote(moved_at, n, held);
                trace!("wrote {n} bytes to {}", dir.sink());
            }
            Err(e) if is_timeout(&e) => {
                check_hang(lane)?;
                trace!("{} takes nothing; still holding {held} bytes", dir.sink());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(lane, End::Sink, e)),
        }
    }
    clock.write_done(dir);
    Ok(())
}

/// A socket timeout fired: stop if the pair ended or is hung, else carry on.
fn check_hang(lane: &Lane) -> Result<(), Flow> {
    if lane.ending.has_ended() {
        return Err(Flow::Aborted);
    }
    match lane.clock.verdict(lane.clock.now()) {
        Some(hang) => Err(Flow::Stopped(CloseReason::Hang(hang))),
        None => Ok(()),
    }
}

/// An I/O error: ours to report, unless the pair had already ended (then it is the shutdown's echo).
fn failure(lane: &Lane, at: End, err: io::Error) -> Flow {
    if lane.ending.has_ended() {
        return Flow::Aborted;
    }
    let side = match at {
        End::Source => lane.dir.source(),
        End::Sink => lane.dir.sink(),
    };
    Flow::Stopped(CloseReason::from_io(side, Step::Relay, err))
}

/// Socket timeouts surface as `WouldBlock` (EAGAIN) on Unix and `TimedOut` elsewhere.
fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests;
