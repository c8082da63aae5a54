//! The test rig: a pump's two sockets, their peers, and the pair state a lane borrows.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use socket2::SockRef;

use crate::relay::accounting::activity::Activity;
use crate::relay::channel::buffer::BufferPool;
use crate::relay::channel::{Channel, CopyBuffer, CHUNK};
use crate::relay::close::Ending;
use crate::relay::direction::Direction;
use crate::relay::hang::{HangClock, HangRule};
use crate::relay::pump::{pump, Flow, Lane};
pub use crate::testing::{connected, PATIENCE};

pub struct Rig {
    pub source: TcpStream,
    pub source_peer: TcpStream,
    pub sink: TcpStream,
    pub sink_peer: TcpStream,
    pub clock: HangClock,
    pub ending: Ending,
    pub activity: Activity,
}

impl Rig {
    /// Sockets armed as a pair's are (`lifecycle.rs`), under a hang rule of `stall_ms`/`idle_ms`
    /// (0 disables).
    pub fn new(stall_ms: u64, idle_ms: u64) -> Rig {
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

    pub fn lane(&self) -> Lane<'_> {
        Lane {
            dir: Direction::ClientToServer,
            source: &self.source,
            sink: &self.sink,
            clock: &self.clock,
            ending: &self.ending,
            activity: &self.activity,
        }
    }

    pub fn pump_with_buffer(&self) -> Flow {
        let pool = BufferPool::new(1, CHUNK).unwrap();
        pump(&self.lane(), CopyBuffer::new(&pool).unwrap(), None)
    }

    /// Make the sink back up quickly: tiny kernel buffers between the pump and a peer that
    /// does not read.
    pub fn shrink_sink_buffers(&self) {
        SockRef::from(&self.sink)
            .set_send_buffer_size(4096)
            .unwrap();
        SockRef::from(&self.sink_peer)
            .set_recv_buffer_size(4096)
            .unwrap();
    }
}

pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Write up to `limit` bytes until the peer stops taking them (or the connection breaks).
pub fn flood(mut stream: &TcpStream, limit: usize) {
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

/// A channel that takes at most 7 bytes a read and gives at most 1 byte a write: every write is
/// a short one.
pub struct Trickle {
    pub held: Vec<u8>,
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
