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
//! mapping, reserved without backing memory (`MAP_NORESERVE`) — and hands out slot numbers. A slot
//! costs nothing until used: the kernel supplies a page only when a read first writes into it, so
//! an idle pair holds no buffer memory, and a 64-byte request touches one 4 KiB page of its
//! 256 KiB slot.
//!
//! Giving memory back has a price. `madvise(MADV_DONTNEED)` is a system call, it makes the kernel
//! flush the slot's pages from the TLB of every CPU running one of our threads (an interrupt to
//! each), and the next user of the slot page-faults to get a zeroed page again. Done for every
//! slot at every pump's end, that was two calls, two faults and the shootdowns per short
//! connection. So freed slots are kept *warm*, last in, first out:
//!
//! - a slot that comes back goes on top of the warm list and is the next one handed out, its first
//!   [`WARM_BYTES`] still resident: a short connection reuses it with no system call and no fault;
//! - pages beyond `WARM_BYTES` (a bulk transfer's) are released when the slot comes back, a call
//!   that transfer can afford;
//! - only [`WARM_SLOTS`] slots stay warm: the one pushed out at the bottom is released whole and
//!   joins the cold list.
//!
//! So memory still falls as pairs end: an idle proxy holds at most `WARM_SLOTS × WARM_BYTES`
//! (512 KiB) of buffer pages, however many pairs it once had. Nor is a slot zeroed on reuse any
//! more: a pump only ever reads back bytes it has just read into the slot.
//!
//! Nothing here blocks for long (a short lock on the free lists): a pump that finds no free slot
//! (impossible while the pool has two slots per allowed pair) ends its pair with "out of
//! resources" rather than wait.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::io;
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nix::sys::mman::{madvise, mmap_anonymous, munmap, MapFlags, MmapAdvise, ProtFlags};

use crate::error::StartupError;

/// Freed slots kept warm, ready with their pages: enough for the pairs a burst of short
/// connections has in flight at once on a small machine, with room to spare.
pub const WARM_SLOTS: usize = 32;

/// The part of a warm slot whose pages are kept: a short request or answer fits (a multiple of
/// the page size).
pub const WARM_BYTES: usize = 16 * 1024;

/// Fixed-size buffers carved from one mapping.
pub struct BufferPool {
    start: NonNull<u8>,
    slot_size: usize,
    slots: usize,
    free: Mutex<FreeSlots>,
}

/// The slots no pump holds.
struct FreeSlots {
    /// Up to `WARM_SLOTS` slots with at most `WARM_BYTES` resident each, the latest at the back.
    warm: VecDeque<usize>,
    /// Slots with no page resident.
    cold: Vec<usize>,
}

// SAFETY: the mapping is plain memory; each slot is used by the one `PoolBuffer` that took its
// number from the free lists, so no two threads ever touch the same bytes.
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
        let free = FreeSlots {
            warm: VecDeque::with_capacity(WARM_SLOTS + 1),
            cold: (0..slots).rev().collect(), // slot 0 on top: handed out first
        };
        Ok(Arc::new(BufferPool {
            start: start.cast(),
            slot_size,
            slots,
            free: Mutex::new(free),
        }))
    }

    /// A free buffer, the most recently freed first; `None` if every slot is in use.
    pub fn take(self: &Arc<Self>) -> Option<PoolBuffer> {
        let mut free = self.free_slots();
        let slot = free.warm.pop_back().or_else(|| free.cold.pop())?;
        Some(PoolBuffer {
            pool: Arc::clone(self),
            slot,
            touched: 0,
        })
    }

    /// The free lists. A panic while they were locked cannot have left them half-changed (each
    /// change is one push or pop), so a poisoned lock is used as it is.
    fn free_slots(&self) -> MutexGuard<'_, FreeSlots> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Put `slot` back on top of the warm list, its pages beyond the first `WARM_BYTES` already
    /// released; release the slot that falls off the bottom.
    fn give_back(&self, slot: usize) {
        let pushed_out = {
            let mut free = self.free_slots();
            free.warm.push_back(slot);
            (free.warm.len() > WARM_SLOTS)
                .then(|| free.warm.pop_front())
                .flatten()
        };
        if let Some(cold) = pushed_out {
            // Off every list while released, so nobody can take it before its pages are gone.
            self.release(cold, 0, self.warm_bytes());
            self.free_slots().cold.push(cold);
        }
    }

    /// Hand the pages of `slot` from byte `from` to `to` back to the kernel: the next read of
    /// them finds zeros, supplied again only as they are written.
    fn release(&self, slot: usize, from: usize, to: usize) {
        let start = self.slot_start(slot).wrapping_add(from).cast::<c_void>();
        if let (Some(start), true) = (NonNull::new(start), to > from) {
            // SAFETY: the range lies inside this slot, which no `PoolBuffer` holds. A failure
            // would leave the pages resident, which costs memory but not correctness.
            let _ = unsafe { madvise(start, to - from, MmapAdvise::MADV_DONTNEED) };
        }
    }

    fn warm_bytes(&self) -> usize {
        WARM_BYTES.min(self.slot_size)
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

/// One slot of the pool, returned to it on drop.
pub struct PoolBuffer {
    pool: Arc<BufferPool>,
    slot: usize,
    /// How far into the slot this user may have written: what may be resident beyond the warm part.
    touched: usize,
}

impl PoolBuffer {
    /// Let `fill` write into the slot and say how many bytes it wrote (as `read` does); only
    /// those count as touched, so a small read keeps the slot cheap to keep warm.
    pub fn fill_with(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let start = self.pool.slot_start(self.slot);
        // SAFETY: as in `deref_mut`.
        let slot = unsafe { std::slice::from_raw_parts_mut(start, self.pool.slot_size) };
        let n = fill(slot)?;
        self.touched = self.touched.max(n.min(self.pool.slot_size));
        Ok(n)
    }
}

impl Deref for PoolBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the slot lies inside the live mapping and only this value uses it.
        unsafe { std::slice::from_raw_parts(self.pool.slot_start(self.slot), self.pool.slot_size) }
    }
}

impl DerefMut for PoolBuffer {
    /// The whole slot, counted as touched: use [`PoolBuffer::fill_with`] to touch less.
    fn deref_mut(&mut self) -> &mut [u8] {
        self.touched = self.pool.slot_size;
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        let start = self.pool.slot_start(self.slot);
        unsafe { std::slice::from_raw_parts_mut(start, self.pool.slot_size) }
    }
}

impl Drop for PoolBuffer {
    fn drop(&mut self) {
        // Only the warm part may stay resident: a bulk transfer's pages go back now.
        let warm = self.pool.warm_bytes();
        if self.touched > warm {
            self.pool.release(self.slot, warm, self.touched);
        }
        self.pool.give_back(self.slot);
    }
}

#[cfg(test)]
mod tests;
