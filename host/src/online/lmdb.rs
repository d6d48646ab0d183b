//! The embedded online store: one LMDB environment holding every feature view's rows.
//!
//! Layout: a `rows` database keyed by `table id (u32, big-endian) ++ serialized entity key`
//! (Feast's serialization v3, byte for byte), whose values are encoded rows (event and
//! created timestamps, then the features by name: see [`crate::types::codec`]); and a `meta`
//! database mapping `table/<project>_<view>` to the table id. Ids are never reused, so a view
//! dropped and created again starts empty even if another process still caches the old id.
//!
//! For vector search, `meta` also holds per table a generation (`gen/<id>`, bumped by every
//! write transaction that stores rows) and a change log (`log/<id>/<generation>`: the entity
//! keys that write stored, for the last [`LOG_KEEP`] generations), so that an in-memory index
//! can catch up with the writes of this process and of others (`edgefeat materialize`) by
//! reading only what changed ([`OnlineStore::scan_changes`]).
//!
//! Readers never block writers and see one committed snapshot per call (LMDB MVCC). Writes
//! are serialized in this process by a mutex (LMDB allows one writer at a time anyway), which
//! also makes it safe to switch `NO_SYNC` on around a deferred bulk write.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use heed::types::{Bytes, Str};
use heed::{Database, Env, EnvFlags, EnvOpenOptions, FlagSetMode, MdbError, RoTxn, WithoutTls};

use super::{
    Durability, InfraChange, OnlineStore, ReadRow, RowVisitor, Scan, Table, TableVersion,
    WriteFeature, WriteRow, WriteStats,
};
use crate::registry::FeatureView;
use crate::repo::config::{LmdbConfig, WritePolicy};
use crate::types::{RowRef, Value, decode_row_header, encode_row};

const NEXT_ID_KEY: &str = "next_table_id";
const FORMAT_KEY: &str = "format";
/// The layout version of the environment; bumped if keys or rows change shape.
const FORMAT: &[u8] = b"edgefeat-lmdb-1";
/// How many generations of change log a table keeps: a reader further behind rescans it.
const LOG_KEEP: u64 = 1024;
/// A write storing more rows than this logs "everything changed" instead of its keys: a
/// reader rescans, which costs less than reading that many keys back one by one.
const LOG_MAX_KEYS: usize = 4096;
/// Past this many changed keys over several log entries, a reader rescans too (the same
/// reasoning: many writes of a few keys add up).
const CATCH_UP_MAX_KEYS: usize = 4 * LOG_MAX_KEYS;

fn generation_key(id: u32) -> String {
    format!("gen/{id:08x}")
}

fn log_key(id: u32, generation: u64) -> String {
    format!("log/{id:08x}/{generation:016x}")
}

/// The entity keys of a change-log entry (`u32` LE length, key; repeated); `None` for an
/// entry that logged "everything changed" (empty) or is damaged.
fn logged_keys(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    if bytes.is_empty() {
        return None;
    }
    let mut keys = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        keys.push(bytes.get(4..4 + len)?);
        bytes = &bytes[4 + len..];
    }
    Some(keys)
}

/// The LMDB online store.
pub struct LmdbStore {
    env: Env<WithoutTls>,
    path: PathBuf,
    rows: Database<Bytes, Bytes>,
    meta: Database<Str, Bytes>,
    policy: WritePolicy,
    /// Shared by every transaction, exclusive while the map is resized: LMDB allows resizing
    /// only while this process has no transaction open.
    map: RwLock<()>,
    /// One writer at a time in this process.
    writer: Mutex<()>,
    /// Synced writes waiting for the next group commit.
    queue: Mutex<Vec<Pending>>,
    /// Held by the writer committing a group; the others wait for their result.
    leader: Mutex<()>,
    /// Whether `data.mdb` was there but empty (0 bytes) when the store was opened: LMDB then
    /// starts a new environment in it, and the rows it held are gone (see [`LmdbStore::check`]
    /// in `OnlineStore`).
    found_empty: bool,
}

/// A synced write waiting in the group-commit queue.
struct Pending {
    table: String,
    features: Vec<String>,
    rows: Vec<WriteRow>,
    done: Arc<Slot>,
}

/// Where a queued write's outcome is handed back to its caller.
#[derive(Default)]
struct Slot {
    result: Mutex<Option<Result<WriteStats, String>>>,
    ready: Condvar,
}

/// Turns heed's errors into ones that say what the store was doing.
fn mdb<T>(r: heed::Result<T>, what: &str) -> Result<T> {
    r.map_err(|e| anyhow::anyhow!("online store: {what}: {e}"))
}

fn is(e: &heed::Error, which: MdbError) -> bool {
    matches!(e, heed::Error::Mdb(m) if std::mem::discriminant(m) == std::mem::discriminant(&which))
}

/// LMDB requires map sizes in whole OS pages; 64 KiB is a multiple of every page size in use.
const MAP_ALIGN: u64 = 65_536;

fn page_align(n: u64) -> usize {
    usize::try_from(n.max(1).div_ceil(MAP_ALIGN) * MAP_ALIGN).unwrap_or(usize::MAX)
}

/// An LMDB online store that is refused at open because LMDB would crash on it (see
/// `online::lmdb_file`): `teardown` removes it, as the message advises.
#[derive(Debug, thiserror::Error)]
#[error(
    "the LMDB online store at {} is damaged: {reason}. Restore it from a backup, or run `edgefeat teardown` (it removes the store and the registry), then `edgefeat apply` and materialize again",
    .dir.display()
)]
pub struct DamagedStore {
    /// The environment directory.
    pub dir: PathBuf,
    /// What is wrong with its data file.
    pub reason: String,
}

impl DamagedStore {
    /// Removes the store's directory without opening it: its pages cannot be cleared first
    /// (as a sound store's are), because reading them is what crashes.
    pub fn remove(&self) -> Result<InfraChange> {
        std::fs::remove_dir_all(&self.dir)
            .with_context(|| format!("cannot remove {}", self.dir.display()))?;
        Ok(InfraChange(format!(
            "Removed damaged lmdb online store {}",
            self.dir.display()
        )))
    }
}

impl LmdbStore {
    /// Opens (creating if needed) the environment at `config.path`; refuses with a
    /// [`DamagedStore`] a data file that LMDB would crash on.
    pub fn open(config: &LmdbConfig) -> Result<LmdbStore> {
        std::fs::create_dir_all(&config.path)
            .with_context(|| format!("cannot create {}", config.path.display()))?;
        // Before heed maps the file: a page missing from it is a SIGBUS, not an error.
        if let Some(reason) = super::lmdb_file::check(&config.path)? {
            return Err(DamagedStore {
                dir: config.path.clone(),
                reason,
            }
            .into());
        }
        // LMDB takes an empty data file for a new environment and fills it; when the file was
        // there, its rows were lost (truncated, or replaced by an empty file), which reads would
        // only show as every entity missing. Say so now, and on /health until rows come back.
        let data_file = config.path.join("data.mdb");
        let found_empty = std::fs::metadata(&data_file).is_ok_and(|m| m.is_file() && m.len() == 0);
        if found_empty {
            tracing::error!("{}", empty_data_file(&data_file));
        }
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options
            .map_size(page_align(config.map_size))
            .max_dbs(4)
            .max_readers(1024);
        // SAFETY: heed's contract is that the same environment is not opened twice in one
        // process (it checks) and that the files are not modified by other means.
        let env = unsafe { options.open(&config.path) }.map_err(|e| {
            anyhow::anyhow!(
                "cannot open the LMDB online store at {}: {e}",
                config.path.display()
            )
        })?;
        let mut wtxn = mdb(env.write_txn(), "begin")?;
        let rows = mdb(env.create_database(&mut wtxn, Some("rows")), "create rows")?;
        let meta: Database<Str, Bytes> =
            mdb(env.create_database(&mut wtxn, Some("meta")), "create meta")?;
        match mdb(meta.get(&wtxn, FORMAT_KEY), "read format")? {
            None => mdb(meta.put(&mut wtxn, FORMAT_KEY, FORMAT), "write format")?,
            Some(f) if f == FORMAT => {}
            Some(f) => bail!(
                "{} holds an LMDB store of another layout ({}); run `edgefeat teardown` and materialize again",
                config.path.display(),
                String::from_utf8_lossy(f)
            ),
        }
        mdb(wtxn.commit(), "commit")?;
        Ok(LmdbStore {
            env,
            path: config.path.clone(),
            rows,
            meta,
            policy: config.write_policy,
            map: RwLock::new(()),
            writer: Mutex::new(()),
            queue: Mutex::new(Vec::new()),
            leader: Mutex::new(()),
            found_empty,
        })
    }

    /// Whether the environment holds any table (`apply` creates them, writes too).
    fn has_tables(&self) -> Result<bool> {
        let (_guard, txn) = self.read_txn()?;
        let mut tables = mdb(self.meta.prefix_iter(&txn, "table/"), "list tables")?;
        Ok(tables
            .next()
            .transpose()
            .map_err(|e| anyhow::anyhow!("online store: list tables: {e}"))?
            .is_some())
    }

    /// How many entities a table holds (a full scan of its key range: for tools and tests).
    pub fn count(&self, table: Table<'_>) -> Result<u64> {
        let (_guard, txn) = self.read_txn()?;
        let Some(id) = self.table_id(&txn, &table.name())? else {
            return Ok(0);
        };
        let mut n = 0;
        for entry in mdb(self.rows.prefix_iter(&txn, &id.to_be_bytes()), "scan")? {
            mdb(entry, "scan")?;
            n += 1;
        }
        Ok(n)
    }

    /// Writes rows into one table inside a write transaction, applying the write policy.
    fn apply_rows(
        &self,
        wtxn: &mut heed::RwTxn,
        table: &str,
        features: &[&str],
        rows: &[WriteRow],
    ) -> heed::Result<WriteStats> {
        let (id, _) = self.ensure_table(wtxn, table)?;
        let mut stats = WriteStats::default();
        let mut key = Vec::with_capacity(64);
        let mut value = Vec::with_capacity(256);
        let mut pairs: Vec<(&str, &Value)> = Vec::with_capacity(features.len());
        let mut logged: Vec<u8> = Vec::new();
        for row in rows {
            key.clear();
            key.extend_from_slice(&id.to_be_bytes());
            key.extend_from_slice(&row.entity_key);
            if self.policy == WritePolicy::NewerWins
                && let Some(old) = self.rows.get(wtxn, &key)?
                && let Ok((event, created)) = decode_row_header(old)
                && (row.event_ts_micros, row.created_ts_micros) < (event, created)
            {
                stats.kept_newer += 1;
                continue;
            }
            pairs.clear();
            pairs.extend(features.iter().copied().zip(row.values.iter()));
            value.clear();
            encode_row(
                row.event_ts_micros,
                row.created_ts_micros,
                &pairs,
                &mut value,
            );
            self.rows.put(wtxn, &key, &value)?;
            stats.written += 1;
            if stats.written <= LOG_MAX_KEYS {
                logged.extend_from_slice(&(row.entity_key.len() as u32).to_le_bytes());
                logged.extend_from_slice(&row.entity_key);
            }
        }
        if stats.written > 0 {
            if stats.written > LOG_MAX_KEYS {
                logged.clear();
            }
            self.log_change(wtxn, id, &logged)?;
        }
        Ok(stats)
    }

    /// Bumps the table's generation and logs the keys its write stored (empty: "everything"),
    /// dropping the entry that falls out of the kept window.
    fn log_change(&self, wtxn: &mut heed::RwTxn, id: u32, keys: &[u8]) -> heed::Result<()> {
        let generation = self.generation(wtxn, id)? + 1;
        self.meta
            .put(wtxn, &generation_key(id), &generation.to_be_bytes())?;
        self.meta.put(wtxn, &log_key(id, generation), keys)?;
        if generation > LOG_KEEP {
            self.meta
                .delete(wtxn, &log_key(id, generation - LOG_KEEP))?;
        }
        Ok(())
    }

    fn generation(&self, txn: &RoTxn, id: u32) -> heed::Result<u64> {
        Ok(self
            .meta
            .get(txn, &generation_key(id))?
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Group commit: a synced write joins the queue; whichever writer takes the leader lock
    /// commits everything queued in one transaction with one fsync and hands each write its
    /// own outcome. Under concurrency, durability then costs one fsync per group, not one per
    /// request, and each acknowledged write is on disk.
    fn group_commit(&self, pending: Pending) -> Result<WriteStats> {
        let slot = pending.done.clone();
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pending);
        loop {
            if let Ok(_leading) = self.leader.try_lock() {
                let group =
                    std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
                if !group.is_empty() {
                    self.commit_group(&group);
                }
            }
            let result = slot.result.lock().unwrap_or_else(|p| p.into_inner());
            let (mut result, _) = slot
                .ready
                .wait_timeout_while(result, Duration::from_millis(1), |r| r.is_none())
                .unwrap_or_else(|p| p.into_inner());
            if let Some(outcome) = result.take() {
                return outcome.map_err(anyhow::Error::msg);
            }
        }
    }

    fn commit_group(&self, group: &[Pending]) {
        let outcome = self.with_write(Durability::Sync, |wtxn| {
            group
                .iter()
                .map(|p| {
                    let features: Vec<&str> = p.features.iter().map(String::as_str).collect();
                    self.apply_rows(wtxn, &p.table, &features, &p.rows)
                })
                .collect::<heed::Result<Vec<WriteStats>>>()
        });
        for (i, p) in group.iter().enumerate() {
            let r = match &outcome {
                Ok(stats) => Ok(stats[i]),
                Err(e) => Err(format!("{e:#}")),
            };
            *p.done.result.lock().unwrap_or_else(|x| x.into_inner()) = Some(r);
            p.done.ready.notify_all();
        }
    }

    fn table_id(&self, txn: &RoTxn, name: &str) -> Result<Option<u32>> {
        let key = format!("table/{name}");
        Ok(mdb(self.meta.get(txn, &key), "read table id")?
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes))
    }

    /// The table's id, allocating one when it has none; true when it was created.
    fn ensure_table(&self, wtxn: &mut heed::RwTxn, name: &str) -> heed::Result<(u32, bool)> {
        let key = format!("table/{name}");
        if let Some(id) = self
            .meta
            .get(wtxn, &key)?
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
        {
            return Ok((u32::from_be_bytes(id), false));
        }
        let next = self
            .meta
            .get(wtxn, NEXT_ID_KEY)?
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(1, u32::from_be_bytes);
        self.meta
            .put(wtxn, NEXT_ID_KEY, &(next + 1).to_be_bytes())?;
        self.meta.put(wtxn, &key, &next.to_be_bytes())?;
        Ok((next, true))
    }

    fn drop_table(&self, wtxn: &mut heed::RwTxn, name: &str) -> heed::Result<bool> {
        let key = format!("table/{name}");
        let Some(id) = self
            .meta
            .get(wtxn, &key)?
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
        else {
            return Ok(false);
        };
        let id = u32::from_be_bytes(id);
        let (lo, hi) = (id.to_be_bytes(), (id + 1).to_be_bytes());
        let range = (Bound::Included(&lo[..]), Bound::Excluded(&hi[..]));
        self.rows.delete_range(wtxn, &range)?;
        self.meta.delete(wtxn, &key)?;
        let generation = self.generation(wtxn, id)?;
        for g in generation.saturating_sub(LOG_KEEP - 1).max(1)..=generation {
            self.meta.delete(wtxn, &log_key(id, g))?;
        }
        self.meta.delete(wtxn, &generation_key(id))?;
        Ok(true)
    }

    /// Runs a write transaction, growing the map and retrying when it is full, and adopting
    /// a map another process grew.
    fn with_write<T>(
        &self,
        durability: Durability,
        f: impl Fn(&mut heed::RwTxn) -> heed::Result<T>,
    ) -> Result<T> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // NO_SYNC is per environment: switched under the writer lock, so no other writer of
        // this process commits while it is on.
        let _deferred = DeferredSync::new(&self.env, durability == Durability::Deferred)?;
        loop {
            let outcome = {
                let _shared = self.map.read().unwrap_or_else(|p| p.into_inner());
                self.env.write_txn().and_then(|mut wtxn| {
                    let v = f(&mut wtxn)?;
                    wtxn.commit()?;
                    Ok(v)
                })
            };
            match outcome {
                Err(e) if is(&e, MdbError::MapFull) => self.resize(true)?,
                Err(e) if is(&e, MdbError::MapResized) => self.resize(false)?,
                other => return mdb(other, "write"),
            }
        }
    }

    /// Doubles the map (`grow`), or adopts the size another process set.
    fn resize(&self, grow: bool) -> Result<()> {
        let _exclusive = self.map.write().unwrap_or_else(|p| p.into_inner());
        let new = if grow {
            page_align(self.env.info().map_size as u64 * 2)
        } else {
            0
        };
        // SAFETY: the exclusive lock guarantees this process has no transaction open.
        mdb(unsafe { self.env.resize(new) }, "resize the map")
    }

    fn read_txn(&self) -> Result<(std::sync::RwLockReadGuard<'_, ()>, RoTxn<'_, WithoutTls>)> {
        loop {
            let guard = self.map.read().unwrap_or_else(|p| p.into_inner());
            match self.env.read_txn() {
                Ok(txn) => return Ok((guard, txn)),
                Err(e) if is(&e, MdbError::MapResized) => {
                    drop(guard);
                    self.resize(false)?;
                }
                Err(e) => return mdb(Err(e), "begin read"),
            }
        }
    }
}

/// Why a store whose data file was found empty is not healthy, and what to do.
fn empty_data_file(data_file: &std::path::Path) -> String {
    format!(
        "the LMDB online store's data file {} was empty (0 bytes) when it was opened: the rows it held are gone (the file was truncated or replaced), and LMDB started an empty store in it. /health answers 503 until rows are written again: restore data.mdb from a backup (with the server stopped), or run `edgefeat apply` and materialize again",
        data_file.display()
    )
}

impl OnlineStore for LmdbStore {
    /// Unhealthy while the data file was found empty at open and holds no table since (see
    /// `found_empty`); `apply` or a materialization (from any process) ends it.
    fn check(&self) -> Result<()> {
        if self.found_empty && !self.has_tables()? {
            bail!("{}", empty_data_file(&self.path.join("data.mdb")));
        }
        Ok(())
    }

    fn update(
        &self,
        project: &str,
        keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>> {
        self.with_write(Durability::Sync, |wtxn| {
            let mut changes = Vec::new();
            for v in delete {
                let name = Table {
                    project,
                    view: &v.name,
                }
                .name();
                if self.drop_table(wtxn, &name)? {
                    changes.push(InfraChange(format!("Deleted lmdb table {name}")));
                }
            }
            for v in keep {
                let name = Table {
                    project,
                    view: &v.name,
                }
                .name();
                if self.ensure_table(wtxn, &name)?.1 {
                    changes.push(InfraChange(format!("Created lmdb table {name}")));
                }
            }
            Ok(changes)
        })
    }

    fn teardown(&self, _project: &str, _views: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        // Empty it first, so a process that still has it open sees no stale rows, then remove
        // the files.
        self.with_write(Durability::Sync, |wtxn| {
            self.rows.clear(wtxn)?;
            self.meta.clear(wtxn)?;
            self.meta.put(wtxn, FORMAT_KEY, FORMAT)
        })?;
        std::fs::remove_dir_all(&self.path)
            .with_context(|| format!("cannot remove {}", self.path.display()))?;
        Ok(vec![InfraChange(format!(
            "Removed lmdb online store {}",
            self.path.display()
        ))])
    }

    fn read(
        &self,
        table: Table<'_>,
        entity_keys: &[&[u8]],
        features: &[&str],
    ) -> Result<Vec<Option<ReadRow>>> {
        let (_guard, txn) = self.read_txn()?;
        let Some(id) = self.table_id(&txn, &table.name())? else {
            return Ok(vec![None; entity_keys.len()]);
        };
        let mut key = Vec::with_capacity(64);
        entity_keys
            .iter()
            .map(|ek| {
                key.clear();
                key.extend_from_slice(&id.to_be_bytes());
                key.extend_from_slice(ek);
                let Some(bytes) = mdb(self.rows.get(&txn, &key), "read")? else {
                    return Ok(None);
                };
                let row = RowRef::parse(bytes)
                    .with_context(|| format!("a damaged row in table {}", table.name()))?;
                Ok(Some(ReadRow {
                    event_ts_micros: row.event_ts_micros(),
                    created_ts_micros: row.created_ts_micros(),
                    values: row
                        .features(features)
                        .with_context(|| format!("a damaged row in table {}", table.name()))?,
                }))
            })
            .collect()
    }

    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        durability: Durability,
    ) -> Result<WriteStats> {
        // Rows are stored in edgefeat's self-describing codec: names suffice.
        let features: Vec<&str> = features.iter().map(|f| f.name).collect();
        let features = features.as_slice();
        super::check_row_widths(table, features.len(), rows)?;
        let name = table.name();
        match durability {
            Durability::Deferred => self.with_write(durability, |wtxn| {
                self.apply_rows(wtxn, &name, features, rows)
            }),
            Durability::Sync => self.group_commit(Pending {
                table: name,
                features: features.iter().map(|f| f.to_string()).collect(),
                rows: rows.to_vec(),
                done: Arc::new(Slot::default()),
            }),
        }
    }

    fn sync(&self) -> Result<()> {
        mdb(self.env.force_sync(), "sync")
    }

    fn scan_changes(
        &self,
        table: Table<'_>,
        features: &[&str],
        since: Option<TableVersion>,
        visit: &mut RowVisitor<'_>,
    ) -> Result<Scan> {
        let (_guard, txn) = self.read_txn()?;
        let name = table.name();
        let Some(id) = self.table_id(&txn, &name)? else {
            return Ok(Scan {
                version: TableVersion::default(),
                full: true,
            });
        };
        let version = TableVersion {
            table_id: id,
            generation: mdb(self.generation(&txn, id), "read the table generation")?,
        };
        let decode = |bytes: &[u8]| -> Result<ReadRow> {
            let row =
                RowRef::parse(bytes).with_context(|| format!("a damaged row in table {name}"))?;
            Ok(ReadRow {
                event_ts_micros: row.event_ts_micros(),
                created_ts_micros: row.created_ts_micros(),
                values: row
                    .features(features)
                    .with_context(|| format!("a damaged row in table {name}"))?,
            })
        };
        if let Some(since) = since
            && since.table_id == id
            && since.generation <= version.generation
            && version.generation - since.generation <= LOG_KEEP
        {
            let mut changed: std::collections::BTreeSet<&[u8]> = Default::default();
            let mut complete = true;
            for g in since.generation + 1..=version.generation {
                let entry = mdb(self.meta.get(&txn, &log_key(id, g)), "read the change log")?;
                match entry.and_then(logged_keys) {
                    Some(keys) if changed.len() + keys.len() <= CATCH_UP_MAX_KEYS => {
                        changed.extend(keys)
                    }
                    _ => {
                        complete = false;
                        break;
                    }
                }
            }
            if complete {
                let mut key = Vec::with_capacity(64);
                for entity in changed {
                    key.clear();
                    key.extend_from_slice(&id.to_be_bytes());
                    key.extend_from_slice(entity);
                    let row = match mdb(self.rows.get(&txn, &key), "read")? {
                        Some(bytes) => Some(decode(bytes)?),
                        None => None,
                    };
                    visit(entity, row)?;
                }
                return Ok(Scan {
                    version,
                    full: false,
                });
            }
        }
        for entry in mdb(self.rows.prefix_iter(&txn, &id.to_be_bytes()), "scan")? {
            let (key, bytes) = mdb(entry, "scan")?;
            visit(&key[4..], Some(decode(bytes)?))?;
        }
        Ok(Scan {
            version,
            full: true,
        })
    }
}

/// Switches `NO_SYNC` on for the lifetime of the guard (when asked), so commits skip fsync;
/// the caller syncs once at the end with [`OnlineStore::sync`].
struct DeferredSync<'a> {
    env: Option<&'a Env<WithoutTls>>,
}

impl<'a> DeferredSync<'a> {
    fn new(env: &'a Env<WithoutTls>, on: bool) -> Result<Self> {
        if !on {
            return Ok(DeferredSync { env: None });
        }
        // SAFETY: NO_SYNC may be changed on an open environment (mdb_env_set_flags); the
        // caller holds the writer mutex, so no write of this process is in flight.
        mdb(
            unsafe { env.set_flags(EnvFlags::NO_SYNC, FlagSetMode::Enable) },
            "defer sync",
        )?;
        Ok(DeferredSync { env: Some(env) })
    }
}

impl Drop for DeferredSync<'_> {
    fn drop(&mut self) {
        if let Some(env) = self.env {
            // SAFETY: as in `new`.
            let _ = unsafe { env.set_flags(EnvFlags::NO_SYNC, FlagSetMode::Disable) };
        }
    }
}

#[cfg(test)]
#[path = "lmdb_tests.rs"]
mod tests;
