//! The registry file: edgefeat's own, one JSON document written atomically; or Feast's
//! protobuf `registry.db`, which is read (`super::feast`) and never overwritten.
//!
//! JSON rather than Feast's protobuf for edgefeat's own: the file is small, `registry-dump`
//! and people can read it. The two are told apart by their first byte: a JSON document starts
//! with `{` (after any whitespace), which no Feast registry does (it would be protobuf field 15
//! with the deprecated group wire type, which Feast never writes).

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Registry;
use crate::fsio::write_atomic;

/// The `format` every edgefeat registry file carries.
pub const FORMAT_NAME: &str = "edgefeat-registry";
/// The layout version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Reads the registry of `project`: edgefeat's own, or Feast's `registry.db`; `None` when
/// there is no file yet.
pub fn load_registry(path: &Path, project: &str) -> Result<Option<Registry>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read registry {}", path.display()));
        }
    };
    if !is_json(&bytes) {
        return super::feast::decode_registry(&bytes, project, path).map(Some);
    }
    let head: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("registry {} is damaged", path.display()))?;
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

/// Whether the file is a JSON document (edgefeat's registry) rather than protobuf (Feast's).
fn is_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Whether the registry file at `path` is Feast's protobuf `registry.db`.
pub fn is_feast_registry(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| !b.is_empty() && !is_json(&b))
}

/// Writes the registry atomically (see [`write_atomic`]): a crash leaves either the old or
/// the new registry, never a torn one.
pub fn save_registry(path: &Path, registry: &Registry) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(registry)?;
    bytes.push(b'\n');
    write_atomic(path, |f| Ok(f.write_all(&bytes)?))
        .with_context(|| format!("cannot save registry {}", path.display()))
}

/// Holds the registry's lock: an exclusive advisory lock on `<registry>.lock` beside it, so
/// that an `apply` and a materialization recording its interval, in this or another process,
/// never interleave their read-modify-write of the file. Readers do not take it: they see a
/// whole file either way, thanks to the atomic rename.
pub struct RegistryLock {
    // Dropping the file releases the lock.
    _file: std::fs::File,
}

impl RegistryLock {
    /// Waits for the lock.
    pub fn acquire(registry_path: &Path) -> Result<RegistryLock> {
        let mut name = registry_path.as_os_str().to_owned();
        name.push(".lock");
        let path = std::path::PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(RegistryLock { _file: file })
    }
}

/// Deletes the registry file; a missing file is not an error.
pub fn remove_registry(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove registry {}", path.display())),
    }
}
