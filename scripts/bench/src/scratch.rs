//! The run's scratch directory: the peers' and servers' configuration files, their pid files and
//! the outside programs' output, all under one temporary directory removed when the run ends.

use std::io;
use std::path::{Path, PathBuf};

/// A scratch directory, removed on drop.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new() -> io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("tcpproxy-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Write `contents` to the file `name` in the directory; its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> io::Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, contents)
            .map_err(|e| io::Error::other(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
