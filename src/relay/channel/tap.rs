//! The pump's side of `--dump`: a copy of every byte read, queued for the dump thread.
//!
//! The rule: the dump may never stall the relay more than a slow peer could. A pump only copies
//! what it read into a queue and goes on; one `dump` thread (`operator/dump.rs`) writes the files
//! or the log, as slowly as they let it. The queue is bounded by bytes ([`QUEUE_LIMIT`]): when the
//! writer falls that far behind, new bytes are dropped (not waited for), counted per direction,
//! and the dump thread warns when that direction ends. Pumps never log about the dump themselves:
//! a stuck log would stall them as surely as a stuck file.
//!
//! Nothing here blocks: the queue is unbounded in messages and bounded by the byte count.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{unbounded, Receiver, Sender};
use log::warn;

use crate::relay::direction::Direction;
use crate::units::Bytes;

/// Bytes that may wait for the dump thread, all pairs together. Past this the dump drops rather
/// than let memory grow or a pump wait.
pub const QUEUE_LIMIT: usize = 16 * 1024 * 1024;

/// What the pumps send to the dump thread.
pub enum Record {
    Bytes {
        pair: u64,
        dir: Direction,
        offset: u64,
        at: SystemTime,
        bytes: Vec<u8>,
    },
    /// The direction has ended; `dropped` bytes of it never made it into the queue.
    End {
        pair: u64,
        dir: Direction,
        total: u64,
        dropped: u64,
    },
    /// Everything before this is written: say so.
    Flush(Sender<()>),
}

/// The pumps' end of the dump queue.
pub struct Dumper {
    queue: Sender<Record>,
    queued_bytes: Arc<AtomicUsize>,
    dropped_bytes: AtomicU64,
}

/// The dump thread's end: the records, and the count to lower as it writes them.
pub struct DumpQueue {
    pub records: Receiver<Record>,
    pub queued_bytes: Arc<AtomicUsize>,
}

impl Dumper {
    /// A queue for the pumps, and its other end for the thread that writes the dump.
    pub fn new() -> (Arc<Dumper>, DumpQueue) {
        let (queue, records) = unbounded();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let dumper = Dumper {
            queue,
            queued_bytes: Arc::clone(&queued_bytes),
            dropped_bytes: AtomicU64::new(0),
        };
        let writer_end = DumpQueue {
            records,
            queued_bytes,
        };
        (Arc::new(dumper), writer_end)
    }

    /// Queue a copy of `bytes`, read at `offset` of pair `pair`'s direction `dir`. Never blocks:
    /// `false` means the queue was full and the bytes were dropped (the caller counts them).
    pub fn record(&self, pair: u64, dir: Direction, offset: u64, bytes: &[u8]) -> bool {
        let before = self.queued_bytes.fetch_add(bytes.len(), Ordering::AcqRel);
        if before + bytes.len() > QUEUE_LIMIT {
            self.queued_bytes.fetch_sub(bytes.len(), Ordering::AcqRel);
            self.dropped_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            return false;
        }
        let record = Record::Bytes {
            pair,
            dir,
            offset,
            at: SystemTime::now(),
            bytes: bytes.to_vec(),
        };
        // The dump thread only ends with the process; if it is gone, there is nobody to tell.
        let _ = self.queue.send(record);
        true
    }

    /// `dir` of `pair` is over: `total` bytes went that way, `dropped` of them are not in the dump.
    pub fn end(&self, pair: u64, dir: Direction, total: u64, dropped: u64) {
        let _ = self.queue.send(Record::End {
            pair,
            dir,
            total,
            dropped,
        });
    }

    /// At shutdown: wait until everything queued is written, or until `deadline`.
    pub fn flush(&self, deadline: Instant) {
        let (done, finished) = crossbeam_channel::bounded(1);
        if self.queue.send(Record::Flush(done)).is_err()
            || finished.recv_deadline(deadline).is_err()
        {
            warn!(
                "dump: {} still queued at exit are not written",
                Bytes(self.queued_bytes.load(Ordering::Acquire) as u64)
            );
        }
    }

    /// Bytes dropped so far, all pairs together.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes.load(Ordering::Relaxed)
    }
}

/// One direction's view of the dump: counts offsets and drops, and says when the direction ends.
pub struct Tap<'a> {
    dumper: &'a Dumper,
    pair: u64,
    dir: Direction,
    offset: u64,
    dropped: u64,
}

impl<'a> Tap<'a> {
    pub fn new(dumper: &'a Dumper, pair: u64, dir: Direction) -> Self {
        Tap {
            dumper,
            pair,
            dir,
            offset: 0,
            dropped: 0,
        }
    }

    /// The pump read `bytes`: queue a copy (or count it dropped). Never blocks.
    pub fn copy(&mut self, bytes: &[u8]) {
        if !self.dumper.record(self.pair, self.dir, self.offset, bytes) {
            self.dropped += bytes.len() as u64;
        }
        self.offset += bytes.len() as u64;
    }
}

impl Drop for Tap<'_> {
    /// However the pump ends, the dump thread hears that this direction is complete.
    fn drop(&mut self) {
        self.dumper
            .end(self.pair, self.dir, self.offset, self.dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_queues_copies_with_offsets_and_says_when_it_ends() {
        let (dumper, queue) = Dumper::new();
        {
            let mut tap = Tap::new(&dumper, 3, Direction::ServerToClient);
            tap.copy(b"abc");
            tap.copy(b"de");
        }
        let offsets: Vec<(u64, Vec<u8>)> = queue
            .records
            .try_iter()
            .filter_map(|r| match r {
                Record::Bytes { offset, bytes, .. } => Some((offset, bytes)),
                Record::End { total, dropped, .. } => {
                    assert_eq!((total, dropped), (5, 0));
                    None
                }
                Record::Flush(_) => None,
            })
            .collect();
        assert_eq!(offsets, vec![(0, b"abc".to_vec()), (3, b"de".to_vec())]);
        assert_eq!(queue.queued_bytes.load(Ordering::Acquire), 5);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (dumper, queue) = Dumper::new();
        let big = vec![0u8; QUEUE_LIMIT];
        assert!(dumper.record(1, Direction::ClientToServer, 0, &big));
        assert!(!dumper.record(1, Direction::ClientToServer, 0, b"x"));
        assert_eq!(dumper.dropped_bytes(), 1);
        assert_eq!(queue.queued_bytes.load(Ordering::Acquire), QUEUE_LIMIT);
    }
}
