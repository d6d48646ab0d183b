//! `host-kv` on a local LMDB file: for an adapter's layout on one node, and for measuring an
//! adapter's own cost against the built-in store with the same storage underneath.
//!
//! Two databases: `keys` maps a key to its expiry (milliseconds since the epoch, big-endian;
//! 0 for none), which makes scans and whole-key deletes cheap; `fields` maps
//! `len(key) as u32 BE ++ key ++ field` to the value, so a key's fields are one contiguous
//! range. Expired keys read as missing; their space is reclaimed when they are deleted or
//! written again.

use std::ops::Bound;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, WithoutTls};

use super::{GetResult, HashRead, HashWrite, Kv, KvError, ScanPage};
use crate::repo::config::KvLmdbConfig;

/// Keys per scan page.
const SCAN_PAGE: usize = 1000;

/// The LMDB `host-kv` backend.
pub struct LmdbKv {
    env: Env<WithoutTls>,
    keys: Database<Bytes, Bytes>,
    fields: Database<Bytes, Bytes>,
}

fn failed(what: &str, e: heed::Error) -> KvError {
    KvError::Failed(format!("kv store (lmdb): {what}: {e}"))
}

fn field_key(key: &[u8], field: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.len() + field.len());
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(field);
    k
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn live(expiry: &[u8], now: u64) -> bool {
    let at = expiry
        .try_into()
        .map(u64::from_be_bytes)
        .unwrap_or_default();
    at == 0 || at > now
}

impl LmdbKv {
    /// Opens (creating if needed) the environment at `config.path`.
    pub fn open(config: &KvLmdbConfig) -> anyhow::Result<LmdbKv> {
        std::fs::create_dir_all(&config.path).map_err(|e| {
            anyhow::anyhow!("cannot create the kv store {}: {e}", config.path.display())
        })?;
        // Before heed maps the file: a page missing from it is a SIGBUS, not an error.
        if let Some(reason) = crate::online::lmdb_file::check(&config.path)? {
            anyhow::bail!(
                "the kv store at {} is damaged: {reason}. Restore it from a backup, or remove the directory and write its data again",
                config.path.display()
            );
        }
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options
            .map_size(
                usize::try_from(config.map_size.div_ceil(65_536) * 65_536).unwrap_or(usize::MAX),
            )
            .max_dbs(2)
            .max_readers(1024);
        // SAFETY: as for the online store: opened once per process (heed checks), and the
        // files are changed only through LMDB.
        let env = unsafe { options.open(&config.path) }.map_err(|e| {
            anyhow::anyhow!("cannot open the kv store at {}: {e}", config.path.display())
        })?;
        let mut wtxn = env.write_txn()?;
        let keys = env.create_database(&mut wtxn, Some("keys"))?;
        let fields = env.create_database(&mut wtxn, Some("fields"))?;
        wtxn.commit()?;
        Ok(LmdbKv { env, keys, fields })
    }

    fn is_live(&self, txn: &RoTxn<'_, WithoutTls>, key: &[u8], now: u64) -> Result<bool, KvError> {
        Ok(self
            .keys
            .get(txn, key)
            .map_err(|e| failed("read", e))?
            .is_some_and(|expiry| live(expiry, now)))
    }
}

impl Kv for LmdbKv {
    fn get(&self, reads: &[HashRead]) -> Result<GetResult, KvError> {
        let txn = self.env.read_txn().map_err(|e| failed("begin", e))?;
        let now = now_ms();
        let mut out = Vec::with_capacity(reads.len());
        for read in reads {
            if !self.is_live(&txn, &read.key, now)? {
                out.push(vec![None; read.fields.len()]);
                continue;
            }
            let mut values = Vec::with_capacity(read.fields.len());
            for field in &read.fields {
                let v = self
                    .fields
                    .get(&txn, &field_key(&read.key, field))
                    .map_err(|e| failed("read", e))?;
                values.push(v.map(<[u8]>::to_vec));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn set(&self, writes: &[HashWrite], ttl_seconds: Option<u32>) -> Result<(), KvError> {
        let expiry = ttl_seconds.map_or(0, |s| now_ms() + u64::from(s) * 1000);
        let mut txn = self.env.write_txn().map_err(|e| failed("begin", e))?;
        for write in writes {
            self.keys
                .put(&mut txn, &write.key, &expiry.to_be_bytes())
                .map_err(|e| failed("write", e))?;
            for (field, value) in &write.fields {
                self.fields
                    .put(&mut txn, &field_key(&write.key, field), value)
                    .map_err(|e| failed("write", e))?;
            }
        }
        txn.commit().map_err(|e| failed("commit", e))
    }

    fn delete(&self, deletes: &[HashRead]) -> Result<(), KvError> {
        let mut txn = self.env.write_txn().map_err(|e| failed("begin", e))?;
        for d in deletes {
            if d.fields.is_empty() {
                self.keys
                    .delete(&mut txn, &d.key)
                    .map_err(|e| failed("delete", e))?;
                let prefix = field_key(&d.key, b"");
                let mut iter = self
                    .fields
                    .prefix_iter_mut(&mut txn, &prefix)
                    .map_err(|e| failed("delete", e))?;
                while iter
                    .next()
                    .transpose()
                    .map_err(|e| failed("delete", e))?
                    .is_some()
                {
                    // SAFETY: nothing borrowed from the database is kept across the deletion.
                    unsafe { iter.del_current() }.map_err(|e| failed("delete", e))?;
                }
            } else {
                for field in &d.fields {
                    self.fields
                        .delete(&mut txn, &field_key(&d.key, field))
                        .map_err(|e| failed("delete", e))?;
                }
            }
        }
        txn.commit().map_err(|e| failed("commit", e))
    }

    fn scan(&self, prefix: &[u8], cursor: Option<&str>) -> Result<ScanPage, KvError> {
        let after = match cursor {
            None => None,
            Some(c) => Some(
                hex_decode(c)
                    .ok_or_else(|| KvError::Failed(format!("invalid scan cursor `{c}`")))?,
            ),
        };
        let txn = self.env.read_txn().map_err(|e| failed("begin", e))?;
        let now = now_ms();
        let lower = match &after {
            Some(a) => Bound::Excluded(a.as_slice()),
            None => Bound::Included(prefix),
        };
        let range = (lower, Bound::Unbounded);
        let mut page = ScanPage::default();
        for entry in self
            .keys
            .range(&txn, &range)
            .map_err(|e| failed("scan", e))?
        {
            let (key, expiry) = entry.map_err(|e| failed("scan", e))?;
            if !key.starts_with(prefix) {
                return Ok(page);
            }
            if page.keys.len() == SCAN_PAGE {
                page.cursor = page.keys.last().map(|k| hex_encode(k));
                return Ok(page);
            }
            if live(expiry, now) {
                page.keys.push(key.to_vec());
            }
        }
        Ok(page)
    }

    fn ping(&self) -> Result<(), KvError> {
        self.env
            .read_txn()
            .map(drop)
            .map_err(|e| failed("begin", e))
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv() -> (tempfile::TempDir, LmdbKv) {
        let dir = tempfile::tempdir().unwrap();
        let kv = LmdbKv::open(&KvLmdbConfig {
            path: dir.path().join("kv"),
            map_size: 1 << 24,
        })
        .unwrap();
        (dir, kv)
    }

    fn read(key: &[u8], fields: &[&[u8]]) -> HashRead {
        HashRead {
            key: key.to_vec(),
            fields: fields.iter().map(|f| f.to_vec()).collect(),
        }
    }

    #[test]
    fn fields_are_set_read_and_deleted_per_key() {
        let (_d, kv) = kv();
        kv.set(
            &[
                HashWrite {
                    key: b"a".to_vec(),
                    fields: vec![
                        (b"x".to_vec(), b"1".to_vec()),
                        (b"y".to_vec(), b"2".to_vec()),
                    ],
                },
                HashWrite {
                    // A key that is a prefix of another must not see its fields.
                    key: b"ab".to_vec(),
                    fields: vec![(b"x".to_vec(), b"3".to_vec())],
                },
            ],
            None,
        )
        .unwrap();
        let got = kv
            .get(&[
                read(b"a", &[b"y", b"x", b"z"]),
                read(b"ab", &[b"x"]),
                read(b"b", &[b"x"]),
            ])
            .unwrap();
        assert_eq!(
            got,
            vec![
                vec![Some(b"2".to_vec()), Some(b"1".to_vec()), None],
                vec![Some(b"3".to_vec())],
                vec![None]
            ]
        );
        kv.delete(&[read(b"a", &[b"x"])]).unwrap();
        assert_eq!(
            kv.get(&[read(b"a", &[b"x", b"y"])]).unwrap(),
            vec![vec![None, Some(b"2".to_vec())]]
        );
        kv.delete(&[read(b"a", &[])]).unwrap();
        assert_eq!(kv.get(&[read(b"a", &[b"y"])]).unwrap(), vec![vec![None]]);
        assert_eq!(
            kv.get(&[read(b"ab", &[b"x"])]).unwrap(),
            vec![vec![Some(b"3".to_vec())]]
        );
    }

    #[test]
    fn scan_pages_through_a_prefix_only() {
        let (_d, kv) = kv();
        let writes: Vec<HashWrite> = (0..2500u32)
            .map(|i| HashWrite {
                key: format!("p:{i:05}").into_bytes(),
                fields: vec![(b"f".to_vec(), b"v".to_vec())],
            })
            .chain([HashWrite {
                key: b"q:1".to_vec(),
                fields: vec![(b"f".to_vec(), b"v".to_vec())],
            }])
            .collect();
        kv.set(&writes, None).unwrap();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = kv.scan(b"p:", cursor.as_deref()).unwrap();
            seen.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 2500);
        assert!(seen.iter().all(|k| k.starts_with(b"p:")));
        assert!(kv.scan(b"p:", Some("zz")).is_err());
    }

    #[test]
    fn a_truncated_store_is_refused_before_it_is_mapped() {
        let (dir, kv) = kv();
        let writes: Vec<HashWrite> = (0..2000u32)
            .map(|i| HashWrite {
                key: format!("k{i:05}").into_bytes(),
                fields: vec![(b"f".to_vec(), vec![7; 100])],
            })
            .collect();
        kv.set(&writes, None).unwrap();
        drop(kv);
        crate::online::lmdb_file::cut_in_half(&dir.path().join("kv"));
        let config = KvLmdbConfig {
            path: dir.path().join("kv"),
            map_size: 1 << 24,
        };
        let Err(e) = LmdbKv::open(&config) else {
            panic!("a kv store cut in half opened");
        };
        let message = e.to_string();
        assert!(message.contains("is damaged: data.mdb is"), "{message}");
        assert!(message.contains("the file has been cut short"), "{message}");
    }

    #[test]
    fn expired_keys_read_as_missing() {
        let (_d, kv) = kv();
        kv.set(
            &[HashWrite {
                key: b"k".to_vec(),
                fields: vec![(b"f".to_vec(), b"v".to_vec())],
            }],
            Some(0),
        )
        .unwrap();
        assert_eq!(kv.get(&[read(b"k", &[b"f"])]).unwrap(), vec![vec![None]]);
        assert!(kv.scan(b"k", None).unwrap().keys.is_empty());
    }
}
