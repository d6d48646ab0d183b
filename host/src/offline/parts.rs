//! The part-file naming contract of offline pushes (see `crate::offline::push`): where the
//! parts of a source go, the time-ordered, collision-free name of each new part, and how a
//! part edgefeat wrote is told from other files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};

use crate::fsio::sync_dir;

/// Where pushed parts of a source go (see module doc): the source itself if it is a
/// directory, otherwise `<path>.parts` beside the file.
pub fn parts_dir(source_path: &Path) -> PathBuf {
    if source_path.is_dir() {
        return source_path.to_path_buf();
    }
    // `with_file_name` rather than appending to the raw string, so a trailing `/` cannot turn
    // this into a hidden `.parts` entry inside the path.
    match source_path.file_name() {
        Some(name) => {
            let mut name = name.to_os_string();
            name.push(".parts");
            source_path.with_file_name(name)
        }
        None => {
            let mut path = source_path.as_os_str().to_os_string();
            path.push(".parts");
            PathBuf::from(path)
        }
    }
}

/// Creates the parts directory if needed, and makes its creation durable: fsyncing the files
/// inside a new directory does not persist the directory's own entry in its parent.
pub(crate) fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The last part timestamp this process used, in microseconds, so the next is later.
static LAST_PART_MICROS: AtomicI64 = AtomicI64::new(i64::MIN);
/// Feeds the name suffix, so two names from this process never hash alike.
static PART_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh part path in `dir` (see module doc for the name).
pub(crate) fn new_part_path(dir: &Path) -> anyhow::Result<PathBuf> {
    // `write_atomic` replaces an existing file; a name collision would lose a part, so a name
    // that exists (only possible if another process hit the same microsecond and suffix) is
    // not used.
    for _ in 0..16 {
        let micros = next_micros();
        let time = DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| anyhow!("the system clock is out of range"))?;
        let name = format!(
            "part-{}-{:08x}.parquet",
            time.format("%Y%m%dT%H%M%S%.6fZ"),
            suffix()
        );
        let path = dir.join(name);
        if !path.exists() {
            return Ok(path);
        }
    }
    Err(anyhow!(
        "cannot find an unused part name in {}",
        dir.display()
    ))
}

/// The length of a part name's timestamp, `yyyymmddThhmmss.ffffffZ`.
const STAMP_LEN: usize = 23;

/// Whether `name` is a part this code wrote: a pushed part
/// (`part-<stamp>-<8 hex>.parquet`) or a compacted one (`part-<stamp>-<8 hex>-c.parquet`,
/// see `crate::offline::compact`). Other parquet files in a source's directory (the user's,
/// Spark's `part-00000-….parquet`) are data edgefeat did not write, and it never moves,
/// merges or removes them.
pub fn is_part_name(name: &str) -> bool {
    part_stamp(name).is_some()
}

/// Whether `name` is a compacted part.
pub fn is_compacted_name(name: &str) -> bool {
    is_part_name(name) && name.ends_with("-c.parquet")
}

/// The timestamp of a part name (see [`is_part_name`]), or `None` for any other name.
fn part_stamp(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let rest = rest.strip_suffix("-c").unwrap_or(rest);
    let stamp = rest.get(..STAMP_LEN)?;
    let hex = rest.get(STAMP_LEN..)?.strip_prefix('-')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let stamp_ok = stamp.len() == STAMP_LEN
        && digits(&stamp[..8])
        && &stamp[8..9] == "T"
        && digits(&stamp[9..15])
        && &stamp[15..16] == "."
        && digits(&stamp[16..22])
        && &stamp[22..] == "Z";
    let hex_ok = hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    (stamp_ok && hex_ok).then_some(stamp)
}

/// Now, in microseconds, strictly after the previous value this process used.
fn next_micros() -> i64 {
    let now = Utc::now().timestamp_micros();
    let mut last = LAST_PART_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST_PART_MICROS.compare_exchange_weak(
            last,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// 32 bits that differ between processes (randomly keyed hasher, process id) and between
/// calls (counter).
fn suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(PART_COUNTER.fetch_add(1, Ordering::Relaxed));
    // Truncation is the point: 8 hex digits.
    h.finish() as u32
}

/// How old a temp file must be before [`remove_stale_temp_files`] takes it for a leftover: a
/// part is written and renamed in milliseconds, so one this old belongs to a writer that died.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes the temp files (`.<name>.<random>.tmp`, see `fsio::write_atomic`) that a writer
/// killed mid-write left in a parts directory, when older than `older_than`; returns how many.
/// Readers already skip them; this only gives the space back. A missing directory has none.
pub fn remove_stale_temp_files(dir: &Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= older_than);
        if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
    removed
}
