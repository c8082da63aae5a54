//! The pump over real loopback sockets: EOF, half-close, short writes, the hang rule firing while
//! blocked, and a stop while blocked.
//!
//! Each test builds a [`Rig`]: the pump reads `source` and writes `sink`; the test plays both
//! peers through `source_peer` and `sink_peer`. Hang-rule tests use timeouts of a few hundred
//! milliseconds and assert only the verdict, never how long it took.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use socket2::SockRef;

use super::*;
use crate::relay::buffer::BufferPool;
use crate::relay::channel::{CopyBuffer, CHUNK};
use crate::relay::direction::Side;
use crate::relay::hang::{Hang, HangRule};

/// How long a test peer waits for anything before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A connected pair of loopback sockets: (the proxy's end, the peer's end).
fn connected() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    peer.set_write_timeout(Some(PATIENCE)).unwrap();
    (ours, peer)
}

struct Rig {
    source: TcpStream,
    source_peer: TcpStream,
    sink: TcpStream,
    sink_peer: TcpStream,
    clock: HangClock,
    ending: Ending,
    activity: Activity,
}

impl Rig {
    /// Sockets armed as a pair's are (`lifecycle.rs`), under a hang rule of `stall_ms`/`idle_ms`
    /// (0 disables).
    fn new(stall_ms: u64, idle_ms: u64) -> Rig {
        let (source, source_peer) = connected();
        let (sink, sink_peer) = connected();
        let rule = HangRule::new(
            Duration::from_millis(stall_ms),
            Duration::from_millis(idle_ms),
        );
        let clock = HangClock::start(rule);
        source.set_read_timeout(clock.read_timeout(0)).unwrap();
        sink.set_write_timeout(clock.write_timeout()).unwrap();
        Rig {
            source,
            source_peer,
            sink,
            sink_peer,
            clock,
            ending: Ending::default(),
            activity: Activity::default(),
        }
    }

    fn lane(&self) -> Lane<'_> {
        Lane {
            dir: Direction::ClientToServer,
            source: &self.source,
            sink: &self.sink,
            clock: &self.clock,
            ending: &self.ending,
            activity: &self.activity,
        }
    }

    fn pump_with_buffer(&self) -> Flow {
        let pool = BufferPool::new(1, CHUNK).unwrap();
        pump(&self.lane(), CopyBuffer::new(&pool).unwrap(), None)
    }

    /// Make the sink back up quickly: tiny kernel buffers between the pump and a peer that
    /// does not read.
    fn shrink_sink_buffers(&self) {
        SockRef::from(&self.sink)
            .set_send_buffer_size(4096)
            .unwrap();
        SockRef::from(&self.sink_peer)
            .set_recv_buffer_size(4096)
            .unwrap();
    }
}

fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Write up to `limit` bytes until the peer stops taking them (or the connection breaks).
fn flood(mut stream: &TcpStream, limit: usize) {
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = [b'x'; 16 * 1024];
    let mut sent = 0;
    while sent < limit {
        match stream.write(&chunk) {
            Ok(n) if n > 0 => sent += n,
            _ => return,
        }
    }
}

#[test]
fn eof_after_the_bytes_finishes_and_passes_the_eof_on() {
    let mut rig = Rig::new(10_000, 10_000);
    rig.source_peer.write_all(b"hello, pump").unwrap();
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(rig.pump_with_buffer(), Flow::Finished));
    assert_eq!(read_all(&mut rig.sink_peer), b"hello, pump");
    assert_eq!(rig.activity.delivered(), 11);
    assert_eq!(rig.activity.snapshot(0).state, State::HalfClosed);
    assert!(
        !rig.ending.has_ended(),
        "a finished direction does not end the pair"
    );
}

#[test]
fn half_close_shuts_only_the_write_half() {
    let mut rig = Rig::new(10_000, 10_000);
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    assert!(matches!(rig.pump_with_buffer(), Flow::Finished));
    assert_eq!(
        read_all(&mut rig.sink_peer),
        b"",
        "the sink's peer sees EOF"
    );
    // The other way through the same sockets is still open: the sink's peer can answer, and the
    // source's peer can still be written to.
    rig.sink_peer.write_all(b"answer").unwrap();
    let mut answer = [0u8; 6];
    rig.sink.set_read_timeout(Some(PATIENCE)).unwrap();
    rig.sink.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"answer");
    (&rig.source).write_all(b"back").unwrap();
    let mut back = [0u8; 4];
    rig.source_peer.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");
}

/// A channel that takes at most 7 bytes a read and gives at most 1 byte a write: every write is
/// a short one.
struct Trickle {
    held: Vec<u8>,
}

impl Channel for Trickle {
    fn fill(&mut self, mut source: &TcpStream) -> io::Result<usize> {
        let mut bytes = [0u8; 7];
        let n = source.read(&mut bytes)?;
        self.held = bytes[..n].to_vec();
        Ok(n)
    }

    fn drain(&mut self, mut sink: &TcpStream, _held: usize) -> io::Result<usize> {
        let sent = sink.write(&self.held[..1])?;
        self.held.drain(..sent);
        Ok(sent)
    }

    fn bytes(&self, held: usize) -> Option<&[u8]> {
        self.held.get(..held)
    }
}

#[test]
fn short_writes_deliver_everything_in_order() {
    let mut rig = Rig::new(10_000, 10_000);
    let message: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    rig.source_peer.write_all(&message).unwrap();
    rig.source_peer.shutdown(Shutdown::Write).unwrap();
    let trickle = Trickle { held: Vec::new() };
    assert!(matches!(pump(&rig.lane(), trickle, None), Flow::Finished));
    assert_eq!(read_all(&mut rig.sink_peer), message);
    assert_eq!(rig.activity.delivered(), 1000);
}

#[test]
fn a_sink_that_stops_reading_is_cut_as_a_stall() {
    let rig = Rig::new(300, 0);
    rig.shrink_sink_buffers();
    let flow = thread::scope(|s| {
        s.spawn(|| flood(&rig.source_peer, 64 << 20));
        rig.pump_with_buffer()
    });
    assert!(
        matches!(
            flow,
            Flow::Stopped(CloseReason::Hang(Hang::StallToward(Side::Server)))
        ),
        "{flow:?}"
    );
    assert!(rig.activity.delivered() > 0, "bytes moved before the stall");
    assert_eq!(rig.activity.snapshot(0).state, State::Done);
}

#[test]
fn a_quiet_pair_is_cut_as_idle_while_blocked_in_read() {
    let rig = Rig::new(0, 200);
    let flow = rig.pump_with_buffer();
    assert!(
        matches!(flow, Flow::Stopped(CloseReason::Hang(Hang::Idle))),
        "{flow:?}"
    );
}

#[test]
fn progress_the_other_way_keeps_a_quiet_direction_alive() {
    let mut rig = Rig::new(0, 300);
    let flow = thread::scope(|s| {
        s.spawn(|| {
            // The other direction moves a byte every 100 ms for a second, then this one ends.
            for _ in 0..10 {
                thread::sleep(Duration::from_millis(100)); // the traffic under test
                rig.clock.progress(rig.clock.now());
            }
            rig.source_peer.shutdown(Shutdown::Write).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Finished), "{flow:?}");
    assert_eq!(read_all(&mut rig.sink_peer), b"");
}

#[test]
fn a_stop_while_blocked_in_read_aborts() {
    let rig = Rig::new(0, 0);
    let flow = thread::scope(|s| {
        s.spawn(|| {
            // Wait until the pump is inside `read`, as its activity says.
            while rig.activity.snapshot(0).state != State::Reading {
                thread::yield_now();
            }
            assert!(rig.ending.record(CloseReason::Shutdown));
            rig.source.shutdown(Shutdown::Both).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Aborted), "{flow:?}");
    assert_eq!(rig.activity.snapshot(0).state, State::Done);
}

#[test]
fn a_stop_while_blocked_in_write_aborts() {
    let rig = Rig::new(0, 0);
    rig.shrink_sink_buffers();
    let flow = thread::scope(|s| {
        s.spawn(|| flood(&rig.source_peer, 64 << 20));
        s.spawn(|| {
            while rig.activity.snapshot(0).state != State::Writing {
                thread::yield_now();
            }
            // Held bytes and a full sink: the pump is (or is about to be) asleep in `write`.
            assert!(rig.ending.record(CloseReason::Shutdown));
            rig.sink.shutdown(Shutdown::Both).unwrap();
            rig.source.shutdown(Shutdown::Both).unwrap();
        });
        rig.pump_with_buffer()
    });
    assert!(matches!(flow, Flow::Aborted), "{flow:?}");
}

#[test]
fn a_source_that_resets_stops_the_pair_naming_it() {
    let mut rig = Rig::new(0, 0);
    let doomed = std::mem::replace(&mut rig.source_peer, connected().1);
    SockRef::from(&doomed)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(doomed); // closing with SO_LINGER 0 sends a reset, not a FIN
    let flow = rig.pump_with_buffer();
    assert!(
        matches!(flow, Flow::Stopped(CloseReason::Reset(Side::Client))),
        "{flow:?}"
    );
}
