//! How a pump holds bytes between its read and its write: a buffer in our memory, or a kernel pipe.
//!
//! The pump's loop (`relay/pump/`) is the same either way: take what the source has, then give it all
//! to the sink. Only the moving differs:
//! - [`CopyBuffer`]: `read` into a 256 KiB buffer from the pool ([`buffer`]), `write` from it:
//!   every byte crosses into this process and back out.
//! - [`SplicePipe`] (Linux): `splice(2)` from the source socket into a pipe, then from the pipe to
//!   the sink socket. The bytes stay in the kernel (pages move, nothing is copied to us), and the
//!   calls block and time out exactly like `read` and `write` (they honour the sockets'
//!   `SO_RCVTIMEO`/`SO_SNDTIMEO`), so the hang rule works unchanged.
//!
//! A pipe costs two descriptors, and the open-file limit is shared with the pairs' sockets: the
//! default `--max-connections` already spends it all on sockets. So pipes come from a
//! [`PipeBudget`]: what the limit leaves after every allowed pair has its two sockets. With the
//! budget spent (or no descriptor to be had), a pump falls back to the copy; splice never costs a
//! pair its place.
//!
//! [`tap`] is the pump's side of `--dump`: a copy of what was read, queued for the dump thread.
//! A student may skip this whole room: [`Channel`] is all the pump knows of it.

pub mod buffer;
pub mod tap;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use nix::unistd::pipe2;

use crate::relay::channel::buffer::{BufferPool, PoolBuffer};
use crate::relay::channel::tap::Dumper;

/// Bytes taken from the source at a time. 256 KiB, because fewer, larger calls move more bytes
/// per syscall: with the copy, one stream went from 0.37x to 0.60x (client->server) and 0.37x to
/// 0.52x (server->client) of direct loopback over 64 KiB (`scripts/bench.sh --quick --rounds 3`,
/// medians, same machine). Only pages actually used become resident, so an idle pair pays nothing
/// for the size. A pipe holds 64 KiB by default, so a splice moves at most that much per call.
pub const CHUNK: usize = 256 * 1024;

/// How the pumps move bytes (`--copy-mode`, `--dump`): the same for every pair.
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

/// Where a pump keeps the bytes it has read and not yet written.
pub trait Channel {
    /// Take up to `CHUNK` bytes from `source`; `Ok(0)` is its EOF. Only called when empty.
    fn fill(&mut self, source: &TcpStream) -> io::Result<usize>;
    /// Give up to `held` of the bytes held to `sink`, oldest first; how many went.
    fn drain(&mut self, sink: &TcpStream, held: usize) -> io::Result<usize>;
    /// The `held` bytes just filled, if they are in our memory (for `--dump`); a pipe's are not.
    fn bytes(&self, held: usize) -> Option<&[u8]>;
}

/// The plain copy: a buffer in our memory.
pub struct CopyBuffer {
    pages: PoolBuffer,
    /// Start of the bytes not yet given to the sink.
    start: usize,
}

impl CopyBuffer {
    /// `None` when the pool has no free slot.
    pub fn new(pool: &Arc<BufferPool>) -> Option<Self> {
        Some(CopyBuffer {
            pages: pool.take()?,
            start: 0,
        })
    }
}

impl Channel for CopyBuffer {
    fn fill(&mut self, source: &TcpStream) -> io::Result<usize> {
        self.start = 0;
        self.pages.fill_with(|buffer| (&*source).read(buffer))
    }

    fn drain(&mut self, sink: &TcpStream, held: usize) -> io::Result<usize> {
        let sent = (&*sink).write(&self.pages[self.start..self.start + held])?;
        self.start += sent;
        Ok(sent)
    }

    fn bytes(&self, held: usize) -> Option<&[u8]> {
        self.pages.get(self.start..self.start + held)
    }
}

/// How many pipes may exist at once, shared by all pumps.
#[derive(Debug)]
pub struct PipeBudget {
    left: AtomicUsize,
}

impl PipeBudget {
    pub fn new(pipes: usize) -> Arc<Self> {
        Arc::new(PipeBudget {
            left: AtomicUsize::new(pipes),
        })
    }

    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give_back(&self) {
        self.left.fetch_add(1, Ordering::AcqRel);
    }
}

/// The zero-copy path: a pipe between the two sockets.
pub struct SplicePipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    budget: Arc<PipeBudget>,
}

impl SplicePipe {
    /// `None` if the budget is spent or the process cannot make a pipe.
    pub fn new(budget: &Arc<PipeBudget>) -> Option<Self> {
        if !budget.take() {
            return None;
        }
        match pipe2(OFlag::O_CLOEXEC) {
            Ok((read_end, write_end)) => Some(SplicePipe {
                read_end,
                write_end,
                budget: Arc::clone(budget),
            }),
            Err(_) => {
                budget.give_back();
                None
            }
        }
    }
}

impl Drop for SplicePipe {
    fn drop(&mut self) {
        self.budget.give_back(); // the descriptors themselves close as the fields drop
    }
}

impl Channel for SplicePipe {
    fn fill(&mut self, source: &TcpStream) -> io::Result<usize> {
        // SPLICE_F_MOVE: move pages rather than copy where the kernel can.
        splice(
            source,
            None,
            &self.write_end,
            None,
            CHUNK,
            SpliceFFlags::SPLICE_F_MOVE,
        )
        .map_err(io::Error::from)
    }

    fn drain(&mut self, sink: &TcpStream, held: usize) -> io::Result<usize> {
        splice(
            &self.read_end,
            None,
            sink,
            None,
            held,
            SpliceFFlags::SPLICE_F_MOVE,
        )
        .map_err(io::Error::from)
    }

    fn bytes(&self, _held: usize) -> Option<&[u8]> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Shutdown;

    use crate::testing::connected;

    /// Move `message` from one connection to another through `channel`, at most `step` bytes a
    /// write; what the far end received.
    fn carry(mut channel: impl Channel, message: &[u8], step: usize, in_memory: bool) -> Vec<u8> {
        let (mut writer, source) = connected();
        let (sink, mut reader) = connected();
        writer.write_all(message).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
        loop {
            let mut held = channel.fill(&source).unwrap();
            if held == 0 {
                break;
            }
            assert_eq!(channel.bytes(held).is_some(), in_memory);
            while held > 0 {
                held -= channel.drain(&sink, held.min(step)).unwrap();
            }
        }
        drop(sink);
        let mut received = Vec::new();
        reader.read_to_end(&mut received).unwrap();
        received
    }

    #[test]
    fn a_copy_buffer_carries_bytes_in_order_through_short_writes() {
        let pool = BufferPool::new(1, CHUNK).unwrap();
        let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let buffer = CopyBuffer::new(&pool).unwrap();
        assert_eq!(carry(buffer, &message, 777, true), message);
        assert!(CopyBuffer::new(&pool).is_some(), "the slot went back");
    }

    #[test]
    fn a_copy_buffer_shows_exactly_the_bytes_held() {
        let pool = BufferPool::new(1, CHUNK).unwrap();
        let mut buffer = CopyBuffer::new(&pool).unwrap();
        let (mut writer, source) = connected();
        let (sink, _reader) = connected();
        writer.write_all(b"abcdef").unwrap();
        let held = buffer.fill(&source).unwrap();
        assert_eq!(buffer.bytes(held), Some(&b"abcdef"[..held]));
        let sent = buffer.drain(&sink, 2).unwrap();
        assert_eq!(buffer.bytes(held - sent), Some(&b"cdef"[..held - sent]));
    }

    #[test]
    fn a_splice_pipe_carries_bytes_without_showing_them() {
        let budget = PipeBudget::new(1);
        let message = vec![7u8; 200_000];
        let pipe = SplicePipe::new(&budget).unwrap();
        assert!(
            SplicePipe::new(&budget).is_none(),
            "the budget was one pipe"
        );
        assert_eq!(carry(pipe, &message, usize::MAX, false), message);
        assert!(
            SplicePipe::new(&budget).is_some(),
            "the pipe went back to the budget"
        );
    }

    #[test]
    fn a_budget_gives_out_what_it_has_and_takes_it_back() {
        let budget = PipeBudget::new(2);
        assert!(budget.take() && budget.take());
        assert!(!budget.take());
        budget.give_back();
        assert!(budget.take());
        assert!(!budget.take());
    }
}
