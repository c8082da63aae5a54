//! The copy's buffers: one big mapping from the kernel, cut into slots, one slot per pump.
//!
//! Why not a `Vec` per pump? It would come from malloc, and glibc keeps freed memory in
//! per-thread arenas: after a burst of a few hundred pairs the proxy would hold their buffers'
//! memory long after the pairs were gone (measured: 10 MiB after 100 concurrent pairs).
//!
//! Why not one `mmap` per pump? Every mapping counts against `vm.max_map_count` (65,530 by
//! default), and each pair already costs 8 for its two threads' stacks and signal stacks. Two
//! more per pair for buffers cut the ceiling from 8,066 pairs to 6,453.
//!
//! So the pool maps the address space for every buffer the proxy may ever need at once — one
//! mapping, reserved without backing memory (`MAP_NORESERVE`) — and hands out slots through a
//! channel of free slot numbers. A slot costs nothing until used: the kernel supplies a page only
//! when a read first writes into it, so an idle pair holds no buffer memory, and a 64-byte
//! request touches one 4 KiB page of its 256 KiB slot. When a pump ends, `madvise(MADV_DONTNEED)`
//! hands the slot's pages back to the kernel before the slot goes back on the free list, so
//! memory falls as soon as pairs end.
//!
//! Nothing here blocks: a pump that finds no free slot (impossible while the pool has two slots
//! per allowed pair) ends its pair with "out of resources" rather than wait.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use nix::sys::mman::{madvise, mmap_anonymous, munmap, MapFlags, MmapAdvise, ProtFlags};

use crate::error::StartupError;

/// Fixed-size buffers carved from one mapping.
pub struct BufferPool {
    start: NonNull<u8>,
    slot_size: usize,
    slots: usize,
    free: Receiver<usize>,
    give_back: Sender<usize>,
}

// SAFETY: the mapping is plain memory; each slot is used by the one `PoolBuffer` that took its
// number from the channel, so no two threads ever touch the same bytes.
unsafe impl Send for BufferPool {}
unsafe impl Sync for BufferPool {}

impl BufferPool {
    /// Reserve `slots` buffers of `slot_size` bytes (a multiple of the page size).
    pub fn new(slots: usize, slot_size: usize) -> Result<Arc<Self>, StartupError> {
        let failed = |source| StartupError::ReserveBuffers {
            slots,
            slot_size,
            source,
        };
        let bytes = slots
            .checked_mul(slot_size)
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| failed(None))?;
        let protection = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        let flags = MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE;
        // SAFETY: a fresh private anonymous mapping aliases nothing; we own it until `drop`.
        let start = unsafe { mmap_anonymous(None, bytes, protection, flags) }
            .map_err(|e| failed(Some(e)))?;
        let (give_back, free) = crossbeam_channel::bounded(slots);
        for slot in 0..slots {
            // Cannot fail: the channel holds exactly `slots` numbers and we own both ends.
            let _ = give_back.try_send(slot);
        }
        Ok(Arc::new(BufferPool {
            start: start.cast(),
            slot_size,
            slots,
            free,
            give_back,
        }))
    }

    /// A free buffer, or `None` if every slot is in use.
    pub fn take(self: &Arc<Self>) -> Option<PoolBuffer> {
        let slot = self.free.try_recv().ok()?;
        Some(PoolBuffer {
            pool: Arc::clone(self),
            slot,
        })
    }

    fn slot_start(&self, slot: usize) -> *mut u8 {
        // SAFETY (for callers): `slot < self.slots`, so this stays inside the mapping.
        debug_assert!(slot < self.slots);
        self.start.as_ptr().wrapping_add(slot * self.slot_size)
    }
}

impl Drop for BufferPool {
    fn drop(&mut self) {
        // SAFETY: every `PoolBuffer` holds an `Arc` to us, so none is alive; unmapping once what
        // `new` mapped. An error would mean wrong arguments, which they cannot be.
        let _ = unsafe { munmap(self.start.cast::<c_void>(), self.slots * self.slot_size) };
    }
}

/// One slot of the pool, returned (and its memory released) on drop.
pub struct PoolBuffer {
    pool: Arc<BufferPool>,
    slot: usize,
}

impl Deref for PoolBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the slot lies inside the live mapping and only this value uses it.
        unsafe { std::slice::from_raw_parts(self.pool.slot_start(self.slot), self.pool.slot_size) }
    }
}

impl DerefMut for PoolBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        let start = self.pool.slot_start(self.slot);
        unsafe { std::slice::from_raw_parts_mut(start, self.pool.slot_size) }
    }
}

impl Drop for PoolBuffer {
    fn drop(&mut self) {
        // Give the pages back to the kernel now: an idle pool should cost no memory. The next
        // user of the slot reads zero-filled pages, supplied again only as it writes into them.
        let start = self.pool.slot_start(self.slot).cast::<c_void>();
        if let Some(start) = NonNull::new(start) {
            // SAFETY: this slot is ours alone, and no slice of it outlives `self`. A failure
            // would leave the pages resident, which costs memory but not correctness.
            let _ = unsafe { madvise(start, self.pool.slot_size, MmapAdvise::MADV_DONTNEED) };
        }
        // Cannot fail: the channel has room for every slot and the pool holds its receiver.
        let _ = self.pool.give_back.try_send(self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_zeroed_writable_sized_and_reused_clean() {
        let pool = BufferPool::new(2, 65536).unwrap();
        let mut first = pool.take().unwrap();
        let mut second = pool.take().unwrap();
        assert!(pool.take().is_none(), "only two slots");
        assert_eq!(first.len(), 65536);
        assert!(first.iter().all(|&b| b == 0));
        first[65535] = 7;
        second[0] = 9;
        assert_eq!((first[65535], second[0], second[65535]), (7, 9, 0));
        drop(first);
        let again = pool.take().unwrap();
        assert!(
            again.iter().all(|&b| b == 0),
            "a returned slot comes back zeroed"
        );
    }

    #[test]
    fn every_slot_can_be_taken_once_and_comes_back() {
        let pool = BufferPool::new(3, 4096).unwrap();
        let taken: Vec<PoolBuffer> = (0..3).map(|_| pool.take().unwrap()).collect();
        let mut starts: Vec<*const u8> = taken.iter().map(|b| b.as_ptr()).collect();
        starts.dedup();
        assert_eq!(starts.len(), 3, "three distinct slots");
        assert!(pool.take().is_none());
        drop(taken);
        assert!((0..3).all(|_| pool.take().is_some()), "all three came back");
    }

    #[test]
    fn an_impossible_size_is_an_error_not_a_panic() {
        let err = BufferPool::new(usize::MAX, 4096).err().unwrap();
        assert!(err.to_string().contains("cannot size a pool"), "{err}");
        assert!(BufferPool::new(0, 4096).is_err());
    }
}
