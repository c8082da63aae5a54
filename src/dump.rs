//! `--dump DIR|-`: a copy of every byte each pair relays, for debugging a protocol.
//!
//! - `--dump DIR`: two files per pair, `DIR/pair-17-c2s.bin` and `DIR/pair-17-s2c.bin`, each
//!   holding exactly the bytes that went that way.
//! - `--dump -`: an annotated hex dump in the log, like `socat -x`: direction, offset, length and
//!   the time the bytes arrived, then 16 bytes a line with their printable characters.
//!
//! The rule: the dump may never stall the relay more than a slow peer could. A pump only copies
//! what it read into a queue and goes on; one `dump` thread writes the files or the log, as slowly
//! as they let it. The queue is bounded by bytes ([`QUEUE_LIMIT`]): when the writer falls that far
//! behind, new bytes are dropped (not waited for), counted per direction, and the dump thread warns
//! when that direction ends: "the dump of pair 17 s->c is missing 5.0 MiB". Pumps never log about
//! the dump themselves — a stuck log would stall them as surely as a stuck file.
//!
//! Blocking: only the `dump` thread, in `recv` (waiting for bytes) and in its writes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{unbounded, Receiver, Sender};
use log::{debug, info, warn};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::direction::Direction;
use crate::report::Bytes;

/// Bytes that may wait for the dump thread, all pairs together. Past this the dump drops rather
/// than let memory grow or a pump wait.
pub const QUEUE_LIMIT: usize = 16 * 1024 * 1024;

/// Where the dump goes.
#[derive(Clone, Debug)]
pub enum Target {
    Files(PathBuf),
    Log,
}

impl Target {
    /// `-` is the log; anything else a directory, which must not hold an earlier dump (pair ids
    /// start at 1 in every run, so its files would be overwritten).
    pub fn prepare(path: &Path) -> Result<Target, String> {
        if path == Path::new("-") {
            return Ok(Target::Log);
        }
        std::fs::create_dir_all(path)
            .map_err(|e| format!("cannot create dump directory {}: {e}", path.display()))?;
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read dump directory {}: {e}", path.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("pair-") {
                return Err(format!(
                    "dump directory {} already holds a dump ({}); give an empty or new directory",
                    path.display(),
                    name.to_string_lossy()
                ));
            }
        }
        Ok(Target::Files(path.to_path_buf()))
    }
}

/// What the pumps send to the dump thread.
enum Record {
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

/// The pumps' end of the dump.
pub struct Dumper {
    queue: Sender<Record>,
    queued_bytes: Arc<AtomicUsize>,
    dropped_bytes: AtomicU64,
}

impl Dumper {
    /// Start the `dump` thread writing to `target`.
    pub fn start(target: Target) -> Result<Arc<Dumper>, String> {
        let (queue, records) = unbounded();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let mut writer = Writer {
            target,
            files: HashMap::new(),
            queued_bytes: Arc::clone(&queued_bytes),
        };
        thread::Builder::new()
            .name("dump".into())
            .spawn(move || writer.run(&records))
            .map_err(|e| format!("cannot start the dump thread: {e}"))?;
        Ok(Arc::new(Dumper {
            queue,
            queued_bytes,
            dropped_bytes: AtomicU64::new(0),
        }))
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

/// The `dump` thread's state.
struct Writer {
    target: Target,
    /// Open files by pair and direction; `None` after a file could not be written.
    files: HashMap<(u64, Direction), Option<File>>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Writer {
    fn run(&mut self, records: &Receiver<Record>) {
        for record in records {
            match record {
                Record::Bytes {
                    pair,
                    dir,
                    offset,
                    at,
                    bytes,
                } => {
                    self.write(pair, dir, offset, at, &bytes);
                    self.queued_bytes.fetch_sub(bytes.len(), Ordering::AcqRel);
                }
                Record::End {
                    pair,
                    dir,
                    total,
                    dropped,
                } => self.end(pair, dir, total, dropped),
                Record::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn write(&mut self, pair: u64, dir: Direction, offset: u64, at: SystemTime, bytes: &[u8]) {
        let Target::Files(directory) = &self.target else {
            info!("{}", hex_dump(pair, dir, offset, at, bytes));
            return;
        };
        let path = file_name(directory, pair, dir);
        let file = self.files.entry((pair, dir)).or_insert_with(|| {
            OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)
                .map_err(|e| warn!("dump: cannot create {}: {e}", path.display()))
                .ok()
        });
        if let Some(open) = file {
            if let Err(e) = open.write_all(bytes) {
                warn!(
                    "dump: cannot write {}: {e}; the rest of it is lost",
                    path.display()
                );
                *file = None;
            }
        }
    }

    fn end(&mut self, pair: u64, dir: Direction, total: u64, dropped: u64) {
        if let Target::Files(directory) = &self.target {
            let path = file_name(directory, pair, dir);
            if !self.files.contains_key(&(pair, dir)) {
                // Nothing went this way: an empty file says so, rather than no file.
                self.write(pair, dir, 0, SystemTime::now(), &[]);
            }
            self.files.remove(&(pair, dir)); // closes the file
            debug!(
                "dump: pair {pair} {}: {total} bytes, in {}",
                dir.arrow(),
                path.display()
            );
        }
        if dropped > 0 {
            warn!(
                "the dump of pair {pair} {} is missing {} of {} (the dump fell {} behind)",
                dir.arrow(),
                Bytes(dropped),
                Bytes(total),
                Bytes(QUEUE_LIMIT as u64)
            );
        }
    }
}

fn file_name(directory: &Path, pair: u64, dir: Direction) -> PathBuf {
    let way = match dir {
        Direction::ClientToServer => "c2s",
        Direction::ServerToClient => "s2c",
    };
    directory.join(format!("pair-{pair}-{way}.bin"))
}

/// socat -x style: a header line, then offset, 16 bytes in hex, and their printable characters.
fn hex_dump(pair: u64, dir: Direction, offset: u64, at: SystemTime, bytes: &[u8]) -> String {
    let when = OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "?".into());
    let last = (offset + bytes.len() as u64).saturating_sub(1);
    let mut out = format!(
        "dump: pair {pair} {} > {when} length={} from={offset} to={last}",
        dir.arrow(),
        bytes.len()
    );
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "\n  {:08x} ", offset as usize + row * 16);
        for (i, byte) in chunk.iter().enumerate() {
            let gap = if i == 8 { "  " } else { " " };
            let _ = write!(out, "{gap}{byte:02x}");
        }
        let pad = (16 - chunk.len()) * 3 + usize::from(chunk.len() <= 8);
        out.push_str(&" ".repeat(pad + 2));
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_reads_like_socat() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        let text = hex_dump(
            7,
            Direction::ClientToServer,
            16,
            at,
            b"GET /~rtm/BIG\r\n and more",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "dump: pair 7 c->s > 1970-01-01T00:00:01.5Z length=24 from=16 to=39"
        );
        assert_eq!(
            lines[1],
            "  00000010  47 45 54 20 2f 7e 72 74  6d 2f 42 49 47 0d 0a 20  GET /~rtm/BIG.. "
        );
        assert_eq!(
            lines[2],
            "  00000020  61 6e 64 20 6d 6f 72 65                           and more"
        );
    }
}
