//! The compiled-plugin cache file (`<source sha256>-<engine key>.cwasm`): wasmtime's
//! serialized code behind a header that lets the host check it before loading it.
//!
//! wasmtime's `deserialize` trusts its input by contract: it checks the header (version and
//! engine settings) but runs the machine code as it finds it, so one flipped byte in a cached
//! file could crash the server with a bare SIGSEGV. Each file is therefore sealed when it is
//! written and checked when it is read:
//!
//! | offset | length | content |
//! |---|---|---|
//! | 0 | 16 | [`MAGIC`], `edgefeat-cwasm1` and a newline |
//! | 16 | 32 | SHA-256 of `len(key)` (u64 LE), `key` and the artifact |
//! | 48 | rest | the artifact, as `Engine::precompile_component` returned it |
//!
//! `key` is the file's name without `.cwasm` (the source's hash and the engine's key), so an
//! intact file copied under another plugin's name is refused too. The digest is an integrity
//! check against damage (a disk, a copy, an editor), not a signature: whoever can write the
//! cache directory can write a matching digest, which is why the directory must be writable
//! only by the server (docs/plugins.md).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Marks a sealed cache file; the digit is the header's version.
const MAGIC: &[u8; 16] = b"edgefeat-cwasm1\n";
const DIGEST_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + DIGEST_LEN;

fn digest(key: &str, artifact: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(artifact);
    h.finalize().into()
}

/// The bytes of a cache file holding `artifact` under `key`.
pub(super) fn seal(key: &str, artifact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + artifact.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&digest(key, artifact));
    out.extend_from_slice(artifact);
    out
}

/// The artifact of a cache file's bytes, if they are intact and were sealed under `key`;
/// otherwise why not, as a phrase about the file.
pub(super) fn open(key: &str, mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.len() < HEADER_LEN || !bytes.starts_with(MAGIC) {
        return Err(
            "it has no edgefeat checksum header (an older edgefeat, or another tool, wrote it)"
                .into(),
        );
    }
    if bytes[MAGIC.len()..HEADER_LEN] != digest(key, &bytes[HEADER_LEN..]) {
        return Err(
            "its SHA-256 does not match its contents: the file is damaged, or belongs to another plugin"
                .into(),
        );
    }
    bytes.drain(..HEADER_LEN);
    Ok(bytes)
}

/// Reads and checks the cache file at `path`: `Ok(None)` when there is none.
pub(super) fn read(path: &Path, key: &str) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => open(key, bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("it cannot be read: {e}")),
    }
}

/// Writes the cache file atomically (temp file, fsync, rename): a reader sees the old file or
/// the new one, and a crash mid-write leaves no torn file under the real name.
pub(super) fn write(path: &Path, key: &str, artifact: &[u8]) -> anyhow::Result<()> {
    let sealed = seal(key, artifact);
    crate::fsio::write_atomic(path, |f| {
        use std::io::Write;
        f.write_all(&sealed)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abc-wasmtime-48.0.8-0123456789abcdef";

    #[test]
    fn a_sealed_artifact_opens_to_itself() {
        let artifact = b"\x7fELF some machine code".to_vec();
        assert_eq!(open(KEY, seal(KEY, &artifact)), Ok(artifact));
        assert_eq!(open(KEY, seal(KEY, b"")), Ok(Vec::new()));
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let sealed = seal(KEY, &(0..=255u8).collect::<Vec<_>>());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(open(KEY, bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn truncated_foreign_and_misnamed_files_are_refused() {
        let artifact = b"code".to_vec();
        let sealed = seal(KEY, &artifact);
        for cut in 0..sealed.len() {
            assert!(open(KEY, sealed[..cut].to_vec()).is_err(), "cut at {cut}");
        }
        // What an edgefeat without the header wrote: wasmtime's bytes alone.
        let legacy = open(KEY, b"\x7fELF\x02\x01\x01".repeat(20)).unwrap_err();
        assert!(legacy.contains("no edgefeat checksum header"), "{legacy}");
        let misnamed = open("def-wasmtime-48.0.8-0123456789abcdef", sealed).unwrap_err();
        assert!(misnamed.contains("does not match"), "{misnamed}");
    }

    #[test]
    fn read_tells_a_missing_file_from_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.cwasm");
        assert_eq!(read(&path, KEY), Ok(None));
        write(&path, KEY, b"code").unwrap();
        assert_eq!(read(&path, KEY), Ok(Some(b"code".to_vec())));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(read(&path, KEY).is_err());
    }
}
