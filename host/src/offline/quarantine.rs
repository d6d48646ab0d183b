//! Quarantine: a part file that cannot be read, or holds a value its feature's dtype cannot
//! take, is moved out of the dataset instead of failing every materialization after it.
//!
//! Before, one such part (a torn file, or a Json feature holding text that is not JSON, pushed
//! by an older release) failed `/materialize` and the CLI on every run, and
//! `materialize-incremental` never advanced. Now the part is moved, under its own name, to
//! the sibling folder `<parts dir>.quarantine/` (`data/driver_stats.parquet.parts.quarantine/`,
//! or `<dir>.quarantine/` beside a directory source), with `<name>.reason.txt` saying what was
//! wrong; the job goes on with the other files, and the window is recorded. Nothing is deleted,
//! the folder and a metric (`edgefeat_offline_parts_quarantined_total{source}`) make the
//! problem visible, an error is logged, and later jobs do not read the file again.
//!
//! Only parts edgefeat wrote are moved (names checked by `parts::is_part_name`): a bad file
//! the user put in a source is their data, and fails the job with a message naming it, as
//! before. The folder sits beside the dataset rather than inside it, so no reader of the
//! directory (ours, pyarrow's) ever takes it for data.
//!
//! To bring rows back, repair the file, move it back into the parts directory, and materialize
//! its window again (`edgefeat materialize START END`): the incremental watermark has moved on.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use super::parts::ensure_dir;
use super::parts_lock::PartsLock;
use crate::fsio::{sync_dir, write_atomic};

/// A part moved to quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Where it was.
    pub from: PathBuf,
    /// Where it is now, or `None` when it could not be moved (then it was only skipped).
    pub to: Option<PathBuf>,
    /// What was wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Quarantined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.to {
            Some(to) => write!(
                f,
                "offline part {} cannot be materialized; it was skipped and moved to {}: {}",
                self.from.display(),
                to.display(),
                self.reason
            ),
            None => write!(
                f,
                "offline part {} cannot be materialized; it was skipped (it could not be moved to quarantine): {}",
                self.from.display(),
                self.reason
            ),
        }
    }
}

/// The quarantine folder of a parts directory: its sibling `<dir>.quarantine`.
pub fn quarantine_dir(parts_dir: &Path) -> PathBuf {
    let mut name = parts_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".quarantine");
    parts_dir.with_file_name(name)
}

/// Moves the part `file` of the parts directory `lock.dir()` (whose exclusive lock the caller
/// holds) to quarantine, and reports it: an error log line, the metric, the reason file. A
/// part that cannot be moved is reported as skipped; one already gone (another process moved
/// it) is reported as moved by it. `source` is the data source's name, for the metric.
pub fn quarantine_locked(lock: &PartsLock, source: &str, file: &Path, reason: &str) -> Quarantined {
    let to = match move_to_quarantine(lock.dir(), file, reason) {
        Ok(to) => Some(to),
        Err(e) => {
            tracing::error!(
                "offline part {} cannot be materialized and is skipped, but could not be moved to quarantine: {e:#}; reason: {reason}",
                file.display()
            );
            None
        }
    };
    if let Some(to) = &to {
        tracing::error!(
            "offline part {} cannot be materialized and was moved to {}: {reason}",
            file.display(),
            to.display()
        );
        metrics::counter!("edgefeat_offline_parts_quarantined_total", "source" => source.to_string())
            .increment(1);
    }
    Quarantined {
        from: file.to_path_buf(),
        to,
        reason: reason.to_string(),
    }
}

/// [`quarantine_locked`] for a caller that does not hold the lock: takes it first.
pub fn quarantine(parts_dir: &Path, source: &str, file: &Path, reason: &str) -> Quarantined {
    match PartsLock::exclusive(parts_dir) {
        Ok(lock) => quarantine_locked(&lock, source, file, reason),
        Err(e) => {
            tracing::error!(
                "offline part {} cannot be materialized and is skipped, but could not be moved to quarantine: {e:#}; reason: {reason}",
                file.display()
            );
            Quarantined {
                from: file.to_path_buf(),
                to: None,
                reason: reason.to_string(),
            }
        }
    }
}

fn move_to_quarantine(parts_dir: &Path, file: &Path, reason: &str) -> Result<PathBuf> {
    let name = file
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", file.display()))?;
    let dir = quarantine_dir(parts_dir);
    ensure_dir(&dir)?;
    let mut to = dir.join(name);
    // A part of the same name quarantined before (restored, and bad again): keep both.
    let mut n = 1;
    while to.exists() {
        to = dir.join(format!("{}.{n}", name.to_string_lossy()));
        n += 1;
    }
    std::fs::rename(file, &to)
        .with_context(|| format!("cannot move {} to {}", file.display(), to.display()))?;
    sync_dir(&dir)?;
    sync_dir(parts_dir)?;
    let mut note = to.as_os_str().to_os_string();
    note.push(".reason.txt");
    let text = format!(
        "{} was moved here by edgefeat at {} because it could not be materialized:\n{reason}\n\nTo bring its rows back, repair it, move it back to {} and materialize its window again.\n",
        file.display(),
        chrono::Utc::now().to_rfc3339(),
        parts_dir.display()
    );
    // The move is what matters; a missing note only loses the explanation, which the log has.
    if let Err(e) = write_atomic(Path::new(&note), |f| {
        use std::io::Write as _;
        Ok(f.write_all(text.as_bytes())?)
    }) {
        tracing::warn!("cannot write {}: {e:#}", Path::new(&note).display());
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_a_sibling_of_the_parts_directory() {
        assert_eq!(
            quarantine_dir(Path::new("/r/data/s.parquet.parts")),
            Path::new("/r/data/s.parquet.parts.quarantine")
        );
        assert_eq!(
            quarantine_dir(Path::new("/r/data/stats")),
            Path::new("/r/data/stats.quarantine")
        );
    }

    #[test]
    fn a_part_is_moved_with_its_reason_and_a_second_of_the_same_name_kept_too() {
        let tmp = tempfile::tempdir().unwrap();
        let parts = tmp.path().join("s.parquet.parts");
        std::fs::create_dir_all(&parts).unwrap();
        let lock = PartsLock::exclusive(&parts).unwrap();
        for round in 0..2 {
            let file = parts.join("part-x.parquet");
            std::fs::write(&file, format!("torn {round}")).unwrap();
            let q = quarantine_locked(&lock, "s", &file, "not parquet");
            assert!(!file.exists());
            let to = q.to.clone().unwrap();
            assert_eq!(
                std::fs::read_to_string(&to).unwrap(),
                format!("torn {round}")
            );
            let mut note = to.into_os_string();
            note.push(".reason.txt");
            assert!(
                std::fs::read_to_string(note)
                    .unwrap()
                    .contains("not parquet")
            );
        }
        let names: Vec<_> = std::fs::read_dir(quarantine_dir(&parts))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
    }
}
