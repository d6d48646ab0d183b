//! The registry file: one JSON document, written atomically.
//!
//! JSON rather than Feast's protobuf: the file is small, `registry-dump` and people can read
//! it, and it needs no generated code. `format`/`format_version` say what it is, so a Feast
//! `registry.db` (protobuf) at the same path is recognized and never overwritten.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Registry;

/// The `format` every edgefeat registry file carries.
pub const FORMAT_NAME: &str = "edgefeat-registry";
/// The layout version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Reads the registry; `None` when there is no file yet.
pub fn load_registry(path: &Path) -> Result<Option<Registry>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read registry {}", path.display()));
        }
    };
    let head: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is not an edgefeat registry (a Feast protobuf registry.db, or a damaged file?); point `registry:` in feature_store.yaml at another path, or run `edgefeat teardown` to start over",
            path.display()
        )
    })?;
    if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        bail!(
            "{} is not an edgefeat registry (no `\"format\": \"{FORMAT_NAME}\"`); point `registry:` in feature_store.yaml at another path",
            path.display()
        );
    }
    let version = head.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        bail!(
            "{} has registry format version {}, this edgefeat reads version {FORMAT_VERSION}; use a matching edgefeat release",
            path.display(),
            version.map_or_else(|| "?".to_string(), |v| v.to_string())
        );
    }
    let registry: Registry = serde_json::from_value(head)
        .with_context(|| format!("registry {} is damaged", path.display()))?;
    Ok(Some(registry))
}

/// Writes the registry atomically: a temp file in the same directory, fsynced, renamed over
/// the old one, then the directory fsynced. A crash leaves either the old or the new registry,
/// never a torn one.
pub fn save_registry(path: &Path, registry: &Registry) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut bytes = serde_json::to_vec_pretty(registry)?;
    bytes.push(b'\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(".registry-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write registry {}", path.display()))?;
    // The rename is only durable once the directory entry is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Deletes the registry file; a missing file is not an error.
pub fn remove_registry(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove registry {}", path.display())),
    }
}
