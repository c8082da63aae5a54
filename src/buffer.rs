//! One direction's buffer: pages straight from the kernel, given back when the pump ends.
//!
//! A `Vec` would come from malloc, and glibc keeps freed memory in per-thread arenas for reuse: after
//! a burst of a few hundred pairs, the proxy would hold their buffers' memory long after the pairs
//! are gone (measured: 10 MiB after 100 concurrent pairs). Mapping the buffer with `mmap` and
//! unmapping it on drop returns every page the moment a pump finishes. It also costs nothing until
//! used: the kernel supplies a page only when the first read writes into it, so an idle pair holds
//! no buffer memory at all. A failed mapping ends only the pair that asked (a failed `Vec`
//! allocation would abort the process).
//!
//! Nothing here blocks.

use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

/// A fixed-size, zero-filled, page-backed byte buffer.
pub struct PageBuffer {
    start: NonNull<u8>,
    len: NonZeroUsize,
}

impl PageBuffer {
    /// Map `len` bytes; `None` if `len` is 0 or the kernel refuses (out of memory or address space).
    pub fn new(len: usize) -> Option<Self> {
        let len = NonZeroUsize::new(len)?;
        let protection = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh private anonymous mapping aliases nothing; we own it until `drop`.
        let start = unsafe { mmap_anonymous(None, len, protection, MapFlags::MAP_PRIVATE) }.ok()?;
        Some(PageBuffer {
            start: start.cast(),
            len,
        })
    }
}

impl Deref for PageBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `start` maps `len` readable bytes (zero-filled by the kernel) for our lifetime.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len.get()) }
    }
}

impl DerefMut for PageBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len.get()) }
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped, once; no slice of it outlives `self`.
        // An error would mean the arguments were wrong, which they cannot be; there is nothing
        // useful to do with it in a destructor.
        let _ = unsafe { munmap(self.start.cast(), self.len.get()) };
    }
}

// SAFETY: the mapping is plain memory owned by this value alone.
unsafe impl Send for PageBuffer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_zeroed_writable_and_sized() {
        let mut buffer = PageBuffer::new(65536).unwrap();
        assert_eq!(buffer.len(), 65536);
        assert!(buffer.iter().all(|&b| b == 0));
        buffer[65535] = 7;
        assert_eq!(buffer[65535], 7);
    }
}
