//! `--dump DIR|-`: the thread that writes the copy of every byte the pairs relay.
//!
//! - `--dump DIR`: two files per pair, `DIR/pair-17-c2s.bin` and `DIR/pair-17-s2c.bin`, each
//!   holding exactly the bytes that went that way.
//! - `--dump -`: an annotated hex dump in the log, like `socat -x`: direction, offset, length and
//!   the time the bytes arrived, then 16 bytes a line with their printable characters.
//!
//! The pumps queue their copies without ever waiting (`relay/channel/tap.rs`); this thread takes them off
//! the queue and writes them, as slowly as the disk or the log lets it, and warns when a
//! direction's dump came out incomplete: "the dump of pair 17 s->c is missing 5.0 MiB".
//!
//! Blocking: only the `dump` thread, in `recv` (waiting for bytes) and in its writes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use log::{debug, info, warn};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{DumpError, StartupError};
use crate::relay::channel::tap::{DumpQueue, Dumper, Record, QUEUE_LIMIT};
use crate::relay::direction::Direction;
use crate::units::Bytes;

/// Where the dump goes.
#[derive(Clone, Debug)]
pub enum Target {
    Files(PathBuf),
    Log,
}

impl Target {
    /// `-` is the log; anything else a directory, created if missing (its parent must exist), in
    /// which this run writes into a subdirectory of its own, named after the moment it started
    /// and its process id: `DIR/20261203T094700Z-4242`. Pair ids start at 1 in every run, so
    /// two runs sharing one directory would write over each other's files, and a service that
    /// restarts (`Restart=on-failure`) must not find its dump directory "already used".
    pub fn prepare(path: &Path) -> Result<Target, DumpError> {
        if path == Path::new("-") {
            return Ok(Target::Log);
        }
        let create = |dir: &Path| {
            std::fs::create_dir(dir).map_err(|source| DumpError {
                path: dir.to_path_buf(),
                source,
            })
        };
        if !path.is_dir() {
            create(path)?;
        }
        let run = path.join(run_name(SystemTime::now(), std::process::id()));
        create(&run)?;
        Ok(Target::Files(run))
    }
}

/// `20261203T094700Z-4242`: sorts by start time, and two runs cannot share it (one process id is
/// never two live processes).
fn run_name(started: SystemTime, pid: u32) -> String {
    let t = OffsetDateTime::from(started);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{pid}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Start the `dump` thread writing to `target`; the pumps queue their copies on what it returns.
pub fn start(target: Target) -> Result<Arc<Dumper>, StartupError> {
    if let Target::Files(run) = &target {
        info!("dump: each pair's bytes go into {}", run.display());
    }
    let (dumper, queue) = Dumper::new();
    let DumpQueue {
        records,
        queued_bytes,
    } = queue;
    let mut writer = Writer {
        target,
        files: HashMap::new(),
        queued_bytes,
    };
    thread::Builder::new()
        .name("dump".into())
        .spawn(move || writer.run(&records))
        .map_err(|source| StartupError::Thread {
            name: "dump",
            source,
        })?;
    Ok(dumper)
}

/// The `dump` thread's state.
struct Writer {
    target: Target,
    /// Open files by pair and direction; `None` after a file could not be written.
    files: HashMap<(u64, Direction), Option<File>>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Writer {
    fn run(&mut self, records: &crossbeam_channel::Receiver<Record>) {
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
    fn each_run_writes_into_its_own_subdirectory() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_755_220);
        assert_eq!(run_name(at, 4242), "20251203T094700Z-4242");
        let base = std::env::temp_dir().join(format!("tcpproxy-dump-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let Target::Files(run) = Target::prepare(&base).unwrap() else {
            panic!("a directory is not the log");
        };
        assert_eq!(run.parent(), Some(base.as_path()));
        assert!(run.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
        let orphan = base.join("no-parent").join("dump");
        let err = Target::prepare(&orphan).err().unwrap().to_string();
        assert!(err.starts_with("cannot create dump directory"), "{err}");
        assert!(matches!(Target::prepare(Path::new("-")), Ok(Target::Log)));
    }

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
