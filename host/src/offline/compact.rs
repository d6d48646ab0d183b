//! Compaction: runs of offline-push parts merged into one part, so a source's file count stays
//! bounded however many pushes it takes.
//!
//! Every offline push adds a part (`offline::push`), and materialization opens every file of
//! the source: 2,000 pushes made it 89× slower than the source alone, nearly all of it spent
//! opening small files. Once a source holds [`COMPACT_AT`] pushed parts, the server merges the
//! consecutive ones into a single *compacted* part, in the background of the push that crossed
//! the line; once it holds [`COMPACT_AT`] compacted parts, they are merged with the rest. So a
//! directory holds fewer than `2 × COMPACT_AT` parts, and a pushed row is rewritten about once
//! per `COMPACT_AT` pushes and once more per `COMPACT_AT²`.
//!
//! * **What merges**: only files named as edgefeat's parts (`parts::is_part_name`), only
//!   consecutive ones in the order readers read (the sorted listing), and only with the same
//!   Arrow schema. A file the user put in the source, a part that cannot be read (left for
//!   materialization to quarantine) or one with another schema ends a run. Rows keep their
//!   order, so "the last row read wins a tie" means the same before and after.
//! * **What it is called**: the last merged part's name with `-c` before `.parquet`
//!   (`part-<stamp>-<hex>-c.parquet`), so it sorts where the run was; merging a run that ends
//!   with a compacted part replaces that file in place.
//! * **Crash safety**: the merged part is written with `fsio::write_atomic`, and records the
//!   names it replaces in its Parquet key-value metadata ([`REPLACES_KEY`]) before the
//!   originals are removed. A crash between the two leaves rows twice, which materialization
//!   reads as one (a duplicate row ties with itself); the next compaction, and `serve` at
//!   start, first remove the originals a compacted part lists ([`recover`]).
//! * **Readers**: compaction holds the directory's exclusive lock (`offline::parts_lock`), so a
//!   materialization never lists a run half swapped. Pushes only add files and do not wait.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::parts::{is_compacted_name, is_part_name};
use super::parts_lock::PartsLock;
use crate::fsio::{sync_dir, write_atomic};
use crate::repo::source_schema::parquet_files;

/// Pushed parts (or compacted parts) that make a source due for compaction.
pub const COMPACT_AT: usize = 64;

/// The key-value metadata entry of a compacted part: the file names it replaced, one per line.
pub const REPLACES_KEY: &str = "edgefeat.compacted_from";

/// What one compaction did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Compaction {
    /// The compacted parts written.
    pub written: Vec<PathBuf>,
    /// How many parts they replaced.
    pub replaced: usize,
    /// Originals a crashed compaction had left, removed first.
    pub recovered: usize,
}

/// Whether the parts directory `dir` is due for compaction: cheap (one listing), so a push can
/// ask every time.
pub fn due(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let (mut pushed, mut compacted) = (0, 0);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_compacted_name(&name) {
            compacted += 1;
        } else if is_part_name(&name) {
            pushed += 1;
        }
    }
    pushed >= COMPACT_AT || compacted >= COMPACT_AT
}

/// Compacts the source at `source_path` (a parquet file or a directory) in a background
/// thread when its parts are [`due`], unless a compaction of it is already running in this
/// process. Failures are logged: the parts stay as they were, and readable.
pub fn in_background_if_due(source_path: &Path) {
    static RUNNING: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let dir = super::parts::parts_dir(source_path);
    if !due(&dir) {
        return;
    }
    let running = RUNNING.get_or_init(Default::default);
    if !running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(dir.clone())
    {
        return;
    }
    let source = source_path.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("compact-parts".into())
        .spawn(move || {
            match compact(&source) {
                Ok(c) if !c.written.is_empty() => tracing::info!(
                    "compacted {} offline parts of {} into {}",
                    c.replaced,
                    source.display(),
                    c.written.len()
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(
                    "cannot compact the offline parts of {}: {e:#}; they stay as they are",
                    source.display()
                ),
            }
            running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&super::parts::parts_dir(&source));
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start compaction of {}: {e}", source_path.display());
        running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&dir);
    }
}

/// Compacts the parts of the source at `source_path` if they are [`due`] (see the module
/// doc), under the parts directory's exclusive lock.
pub fn compact(source_path: &Path) -> Result<Compaction> {
    let dir = super::parts::parts_dir(source_path);
    if !dir.is_dir() {
        return Ok(Compaction::default());
    }
    let lock = PartsLock::exclusive(&dir)?;
    let mut out = Compaction {
        recovered: recover_locked(&lock)?,
        ..Compaction::default()
    };
    let files = parquet_files(source_path)
        .with_context(|| format!("cannot list {}", source_path.display()))?;
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let ours = |p: &Path| p.parent() == Some(dir.as_path()) && is_part_name(&name_of(p));
    let compacted = files
        .iter()
        .filter(|p| ours(p) && is_compacted_name(&name_of(p)))
        .count();
    let pushed = files.iter().filter(|p| ours(p)).count() - compacted;
    // Compacted parts join a run only when they too are many: otherwise they are the large
    // files, and rewriting them every `COMPACT_AT` pushes would cost the whole history.
    let with_compacted = compacted >= COMPACT_AT;
    if pushed < COMPACT_AT && !with_compacted {
        return Ok(out);
    }
    let mut runs: Vec<Vec<PathBuf>> = Vec::new();
    let mut run: Vec<PathBuf> = Vec::new();
    let mut run_schema: Option<SchemaRef> = None;
    for file in files {
        let mergeable = ours(&file) && (with_compacted || !is_compacted_name(&name_of(&file)));
        let schema = if mergeable { schema_of(&file) } else { None };
        let continues = match (&schema, &run_schema) {
            (Some(s), Some(r)) => s == r,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !continues {
            runs.push(std::mem::take(&mut run));
            run_schema = None;
        }
        if let Some(s) = schema {
            run_schema.get_or_insert(s);
            run.push(file);
        }
    }
    runs.push(run);
    for run in runs.into_iter().filter(|r| r.len() >= 2) {
        out.replaced += run.len();
        out.written.push(merge(&dir, &run)?);
    }
    Ok(out)
}

/// Removes the parts a compacted part of `dir` lists as replaced but that are still there (a
/// compaction was killed after writing it): see the module doc. Returns how many.
pub fn recover(dir: &Path) -> Result<usize> {
    if !dir.is_dir() {
        return Ok(0);
    }
    recover_locked(&PartsLock::exclusive(dir)?)
}

fn recover_locked(lock: &PartsLock) -> Result<usize> {
    let dir = lock.dir();
    let mut removed = 0;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_compacted_name(&name) {
            continue;
        }
        for old in replaced_by(&entry.path()) {
            // Only a part name, only in this directory, never the compacted part itself.
            if old == name || !is_part_name(&old) || old.contains('/') {
                continue;
            }
            let path = dir.join(&old);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
        tracing::warn!(
            "removed {removed} offline parts of {} that an interrupted compaction had already merged",
            dir.display()
        );
    }
    Ok(removed)
}

/// The names a compacted part lists as replaced; none when its footer cannot be read.
fn replaced_by(path: &Path) -> Vec<String> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(builder) = ParquetRecordBatchReaderBuilder::try_new(file) else {
        return Vec::new();
    };
    builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter(|kv| kv.key == REPLACES_KEY)
        .filter_map(|kv| kv.value.as_deref())
        .flat_map(|v| v.lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// A part's Arrow schema, or `None` when its footer cannot be read.
fn schema_of(path: &Path) -> Option<SchemaRef> {
    let file = File::open(path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    Some(builder.schema().clone())
}

/// Writes the rows of `run` (parts of `dir` with one schema, in order) as one compacted part,
/// then removes the originals. Returns the compacted part's path.
fn merge(dir: &Path, run: &[PathBuf]) -> Result<PathBuf> {
    let Some(last) = run.last() else {
        anyhow::bail!("no parts to merge");
    };
    let last_name = last
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if is_compacted_name(&last_name) {
        last_name
    } else {
        format!("{}-c.parquet", last_name.trim_end_matches(".parquet"))
    };
    let target = dir.join(&name);
    let replaces: Vec<String> = run
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| *n != name)
        .collect();
    let schema = schema_of(&run[0]).with_context(|| format!("cannot read {}", run[0].display()))?;
    write_atomic(&target, |out| {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                REPLACES_KEY.to_string(),
                replaces.join("\n"),
            )]))
            .build();
        let mut writer = ArrowWriter::try_new(out, schema, Some(props))
            .context("creating the Parquet writer")?;
        for part in run {
            let file =
                File::open(part).with_context(|| format!("cannot open {}", part.display()))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .with_context(|| format!("cannot read {}", part.display()))?;
            for batch in reader {
                let batch = batch.with_context(|| format!("cannot read {}", part.display()))?;
                writer.write(&batch).context("writing the merged rows")?;
            }
        }
        writer.close().context("finishing the Parquet file")?;
        Ok(())
    })?;
    for old in &replaces {
        let path = dir.join(old);
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    sync_dir(dir)?;
    Ok(target)
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
