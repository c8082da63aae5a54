//! [`DumpError`]: `--dump DIR` cannot be used.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The dump directory (or this run's subdirectory of it) cannot be created.
#[derive(Debug)]
pub struct DumpError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot create dump directory {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for DumpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
