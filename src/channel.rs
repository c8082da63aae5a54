//! How a pump holds bytes between its read and its write: a buffer in our memory, or a kernel pipe.
//!
//! The pump's loop (`pump.rs`) is the same either way: take what the source has, then give it all
//! to the sink. Only the moving differs:
//! - [`CopyBuffer`]: `read` into a 256 KiB buffer from the pool (`buffer.rs`), `write` from it:
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

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use nix::unistd::pipe2;

use crate::buffer::{BufferPool, PoolBuffer};

/// Bytes taken from the source at a time. 256 KiB, because fewer, larger calls move more bytes
/// per syscall: with the copy, one stream went from 0.37x to 0.60x (client->server) and 0.37x to
/// 0.52x (server->client) of direct loopback over 64 KiB (`scripts/bench.sh --quick --rounds 3`,
/// medians, same machine). Only pages actually used become resident, so an idle pair pays nothing
/// for the size. A pipe holds 64 KiB by default, so a splice moves at most that much per call.
pub const CHUNK: usize = 256 * 1024;

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
        (&*source).read(&mut self.pages)
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
