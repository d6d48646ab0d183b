//! The lock of a parts directory: readers of a dataset share it, and what removes or replaces
//! parts (compaction, quarantine) holds it alone.
//!
//! Without it a reader could list the directory while a compaction swaps a run of parts for
//! their merged copy, and see neither (the copy not yet renamed in, the parts already gone) or
//! open a part the compaction has just removed. `readdir` gives no snapshot, so the listing
//! and the reads it leads to happen under the shared lock. Pushes only add new parts, which a
//! reader may or may not see (as before), so they do not take it.
//!
//! It is an advisory `flock` on `.edgefeat-parts.lock` in the directory: hidden, so neither
//! our readers nor pyarrow take it for data. It is per open file, so it also orders threads of
//! one process, and it is released when the process dies, so a killed compaction never leaves
//! the dataset locked.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The lock file's name in a parts directory.
pub const LOCK_FILE: &str = ".edgefeat-parts.lock";

/// A held lock, released on drop.
#[derive(Debug)]
pub struct PartsLock {
    _file: File,
    dir: PathBuf,
}

impl PartsLock {
    /// Waits for the shared lock of `dir` (a dataset's parts directory). `None` when there is
    /// no directory (no parts, nothing to change under a reader) or the lock file can neither
    /// be created nor opened (a read-only copy of the data, where nothing compacts either).
    pub fn shared(dir: &Path) -> Option<PartsLock> {
        if !dir.is_dir() {
            return None;
        }
        let path = dir.join(LOCK_FILE);
        let file = open(&path)
            .or_else(|_| File::open(&path))
            .map_err(|e| {
                tracing::debug!("reading {} without its lock: {e}", dir.display());
            })
            .ok()?;
        match file.lock_shared() {
            Ok(()) => Some(PartsLock {
                _file: file,
                dir: dir.to_path_buf(),
            }),
            Err(e) => {
                tracing::warn!("cannot lock {}: {e}", path.display());
                None
            }
        }
    }

    /// Waits for the exclusive lock of `dir`, which must exist.
    pub fn exclusive(dir: &Path) -> Result<PartsLock> {
        let path = dir.join(LOCK_FILE);
        let file = open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(PartsLock {
            _file: file,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory locked.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}
