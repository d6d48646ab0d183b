//! Feast's SQLite online store, byte for byte: edgefeat reads what Feast wrote and writes
//! what Feast reads, in the same file (docs/feast-compat.md#the-sqlite-online-store).
//!
//! Layout, as Feast 0.67 makes it: one table per feature view, `<project>_<view>`, with an
//! index `<table>_ek` on `entity_key`, and one row per (entity, feature):
//!
//! | column | what |
//! |---|---|
//! | `entity_key` | the serialized entity key (v3), without the project |
//! | `feature_name` | the feature's name |
//! | `value` | the feature's `feast.types.Value` protobuf ([`crate::types::value_proto`]); a null is the empty blob |
//! | `value_text` | Python's `str()` of a scalar (string, int, float, bool), NULL otherwise |
//! | `vector_value` | NULL (Feast fills it only with `vector_enabled`) |
//! | `event_ts`, `created_ts` | INTEGER epoch seconds, truncated; `created_ts` NULL when unknown |
//!
//! Writes upsert row by row in one transaction per call, so the last write wins whatever the
//! event times (Feast's rule for this store, unlike the LMDB store's default). Reads run one
//! query per call for all the keys, and follow Feast's `online_read`: an entity with no row
//! is not found; otherwise the requested features it holds are returned with the timestamps
//! of the last row read for it.
//!
//! Feast's timestamps are naive: it stores `int(datetime.timestamp())` of the UTC time, which
//! Python reads in the writing process's local time zone. edgefeat assumes, as its docs
//! require, that Feast ran in UTC; then the integer is the UTC epoch second.
//!
//! Concurrency: a small pool of connections, each with its prepared statements cached, serves
//! the server's threads. A database locked by a writer (Feast materializing) is waited for up
//! to the busy timeout rather than failed at once; in SQLite's default journal mode a writer
//! shuts readers out only while it commits, so a read waits milliseconds, and reads stay on
//! the server's async workers like the LMDB store's ([`OnlineStore::blocking`] is false).
//! Nothing persistent about the user's file is changed (its journal mode in particular)
//! unless `journal_mode` is configured.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, params_from_iter};

use super::{
    Durability, InfraChange, OnlineStore, ReadRow, Table, WriteFeature, WriteRow, WriteStats,
};
use crate::pycompat::float_repr::{write_float_repr, write_int};
use crate::registry::FeatureView;
use crate::repo::config::SqliteConfig;
use crate::types::Value;
use crate::types::value_proto;

/// How many idle connections the pool keeps; more are opened under load and closed after.
const POOL_IDLE: usize = 16;
/// Prepared statements cached per connection: a read prepares one per (table, key bucket).
const STATEMENT_CACHE: usize = 64;
/// The most keys one read query binds; more are read in several queries of one transaction.
const READ_CHUNK: usize = 512;
/// Past this many keys, a read finds a row's key by hash rather than by a scan.
const KEY_SCAN_LIMIT: usize = 16;

/// The SQLite online store.
pub struct SqliteStore {
    path: PathBuf,
    busy_timeout: std::time::Duration,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file of `config`, and applies `journal_mode`
    /// if it is set.
    pub fn open(config: &SqliteConfig) -> Result<SqliteStore> {
        if let Some(parent) = config.path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let store = SqliteStore {
            path: config.path.clone(),
            busy_timeout: config.busy_timeout,
            idle: Mutex::new(Vec::new()),
        };
        if let Some(mode) = &config.journal_mode {
            let set: String = store.with_conn(|conn| {
                conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| r.get(0))
                    .with_context(|| store.context("set the journal mode"))
            })?;
            if !set.eq_ignore_ascii_case(mode) {
                bail!(
                    "the SQLite online store at {} stays in journal mode {set}: {mode} could not be set",
                    store.path.display()
                );
            }
        }
        // Read once now, so a file that is not a database fails at start, not at a request.
        store.check()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn context(&self, what: &str) -> String {
        format!(
            "the SQLite online store at {}: cannot {what}",
            self.path.display()
        )
    }

    /// Runs `f` on a connection from the pool (or a new one), then returns the connection to
    /// the pool, unless the pool is full or `f` left it inside a transaction (an error
    /// mid-way), when it is closed instead.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let out = f(&mut conn);
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_IDLE {
                idle.push(conn);
            }
        }
        out
    }

    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .with_context(|| self.context("open the database"))?;
        conn.busy_timeout(self.busy_timeout)
            .with_context(|| self.context("set the busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Whether the database holds the table `name`.
    fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
        conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([name])
    }

    fn read_chunk(
        &self,
        conn: &Connection,
        table: &str,
        keys: &[&[u8]],
        features: &[&str],
        out: &mut [Option<ReadRow>],
    ) -> Result<bool> {
        // The query text depends on how many keys it binds; rounding that up to a power of
        // two (the last key repeated: `IN` is a set) keeps a few statements per table in the
        // cache instead of one per request size.
        let bucket = keys.len().next_power_of_two();
        let sql = read_sql(table, bucket);
        let mut stmt = match conn.prepare_cached(&sql) {
            Ok(stmt) => stmt,
            // A view that was never applied to this file has no rows, as in the LMDB store.
            Err(e) if is_no_such_table(&e) => return Ok(false),
            Err(e) => return Err(e).with_context(|| self.context(&format!("read {table}"))),
        };
        let last = keys.last().copied().unwrap_or_default();
        let params = keys
            .iter()
            .copied()
            .chain(std::iter::repeat(last))
            .take(bucket);
        let mut rows = stmt
            .query(params_from_iter(params))
            .with_context(|| self.context(&format!("read {table}")))?;
        let index: Option<HashMap<&[u8], usize>> = (keys.len() > KEY_SCAN_LIMIT).then(|| {
            let mut index = HashMap::with_capacity(keys.len());
            for (i, k) in keys.iter().enumerate().rev() {
                index.insert(*k, i);
            }
            index
        });
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                // The table was dropped since the statement was cached: SQLite prepares it
                // again at its first step, and finds no table.
                Err(e) if is_no_such_table(&e) => return Ok(false),
                Err(e) => return Err(e).with_context(|| self.context(&format!("read {table}"))),
            };
            let key = blob(row.get_ref(0)?, "entity_key")?;
            let Some(at) = (match &index {
                Some(index) => index.get(key).copied(),
                None => keys.iter().position(|k| *k == key),
            }) else {
                continue;
            };
            let name = match row.get_ref(1)? {
                ValueRef::Text(t) => t,
                ValueRef::Blob(b) => b,
                // A row without a feature name cannot be asked for; its timestamps still
                // count, as in Feast's loop over the entity's rows.
                _ => &[],
            };
            let event =
                seconds(row.get_ref(3)?, "event_ts").with_context(|| format!("table {table}"))?;
            let created =
                seconds(row.get_ref(4)?, "created_ts").with_context(|| format!("table {table}"))?;
            let slot = out[at].get_or_insert_with(|| ReadRow {
                event_ts_micros: 0,
                created_ts_micros: 0,
                values: vec![None; features.len()],
            });
            slot.event_ts_micros = event.saturating_mul(1_000_000);
            slot.created_ts_micros = created.saturating_mul(1_000_000);
            let mut decoded: Option<Value> = None;
            for (i, want) in features.iter().enumerate() {
                if want.as_bytes() != name {
                    continue;
                }
                if decoded.is_none() {
                    let bytes = match row.get_ref(2)? {
                        ValueRef::Blob(b) => b,
                        ValueRef::Null => &[],
                        other => bail!(
                            "table {table}: feature `{want}` holds a {} value, not Feast's Value protobuf (a blob)",
                            other.data_type()
                        ),
                    };
                    decoded = Some(value_proto::decode_value(bytes, None).with_context(|| {
                        format!("table {table}: a damaged value of feature `{want}`")
                    })?);
                }
                slot.values[i] = decoded.clone();
            }
        }
        Ok(true)
    }

    /// Creates the table of `name` as Feast does, unless it exists; true when it was created.
    fn create_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
        if Self::table_exists(conn, name)? {
            // Tables of older Feast releases lack `value_text`; Feast adds it on apply.
            let has_text = conn
                .prepare(&format!("PRAGMA table_info({})", quote_id(name)))?
                .query_map([], |r| r.get::<_, String>(1))?
                .collect::<rusqlite::Result<Vec<String>>>()?
                .iter()
                .any(|c| c == "value_text");
            if !has_text {
                conn.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN value_text TEXT",
                    quote_id(name)
                ))?;
            }
            return Ok(false);
        }
        conn.execute_batch(&create_sql(name))?;
        Ok(true)
    }

    fn write_rows(
        conn: &Connection,
        table: &str,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
    ) -> Result<()> {
        let sql = write_sql(table);
        let mut stmt = match conn.prepare_cached(&sql) {
            Ok(stmt) => stmt,
            Err(e) if is_no_such_table(&e) => {
                // Written before any apply made it (another store type was used then).
                Self::create_table(conn, table)?;
                conn.prepare_cached(&sql)?
            }
            Err(e) => return Err(e.into()),
        };
        let mut value = Vec::with_capacity(64);
        let mut text = Vec::with_capacity(32);
        for row in rows {
            let event = row.event_ts_micros / 1_000_000;
            // Feast writes NULL when the source has no created timestamp.
            let created = (row.created_ts_micros != 0).then_some(row.created_ts_micros / 1_000_000);
            for (feature, v) in features.iter().zip(&row.values) {
                value.clear();
                value_proto::encode_value(v, feature.dtype, &mut value)
                    .with_context(|| format!("table {table}, feature `{}`", feature.name))?;
                text.clear();
                let value_text = value_text(v, &mut text).then(|| String::from_utf8_lossy(&text));
                stmt.execute(rusqlite::params![
                    row.entity_key,
                    feature.name,
                    value,
                    value_text.as_deref(),
                    event,
                    created,
                ])?;
            }
        }
        Ok(())
    }
}

/// Feast's DDL for a view's table and its index, with the text Feast 0.67's `apply` leaves in
/// `sqlite_master` (the blank line is where Feast puts `value_num REAL,` when its
/// OpenAI-compatible option is on).
fn create_sql(name: &str) -> String {
    let t = plain_or_quoted(name);
    let ek = plain_or_quoted(&format!("{name}_ek"));
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (\n                entity_key BLOB,\n                feature_name TEXT,\n                value BLOB,\n                value_text TEXT,\n                \n                vector_value BLOB,\n                event_ts timestamp,\n                created_ts timestamp,\n                PRIMARY KEY(entity_key, feature_name)\n            );\nCREATE INDEX IF NOT EXISTS {ek} ON {t} (entity_key);"
    )
}

/// Feast's read: every row of the keys, grouped by key (it also selects `created_ts`, which
/// Feast's own read leaves out).
fn read_sql(table: &str, keys: usize) -> String {
    let mut sql = format!(
        "SELECT entity_key, feature_name, value, event_ts, created_ts FROM {} WHERE entity_key IN (",
        quote_id(table)
    );
    for i in 0..keys {
        sql.push_str(if i == 0 { "?" } else { ",?" });
    }
    sql.push_str(") ORDER BY entity_key");
    sql
}

/// Feast's upsert, column for column.
fn write_sql(table: &str) -> String {
    format!(
        "INSERT INTO {} (entity_key, feature_name, value, value_text, event_ts, created_ts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, value_text = excluded.value_text, event_ts = excluded.event_ts, created_ts = excluded.created_ts;",
        quote_id(table)
    )
}

/// An SQL identifier in double quotes, as Feast quotes table names in its queries.
fn quote_id(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name as Feast's `apply` writes it in DDL: bare (which is what its `sqlite_master`
/// text holds), quoted only when it could not be bare.
fn plain_or_quoted(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        quote_id(name)
    }
}

fn is_no_such_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("no such table"))
}

fn blob<'a>(v: ValueRef<'a>, column: &str) -> Result<&'a [u8]> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        other => bail!(
            "column {column} holds a {} value, not a blob",
            other.data_type()
        ),
    }
}

/// A timestamp column as Feast writes it (INTEGER epoch seconds); also a REAL, or a text of
/// digits, which Feast's reader takes too. NULL (which Feast writes for an unknown created
/// time) is 0.
fn seconds(v: ValueRef<'_>, column: &str) -> Result<i64> {
    match v {
        ValueRef::Null => Ok(0),
        ValueRef::Integer(i) => Ok(i),
        // Truncated, as Python's `int()` does; `as` saturates out-of-range values.
        ValueRef::Real(f) => Ok(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .with_context(|| {
                format!(
                    "column {column} holds the text {:?}, not epoch seconds",
                    String::from_utf8_lossy(t)
                )
            }),
        ValueRef::Blob(_) => bail!("column {column} holds a blob, not epoch seconds"),
    }
}

/// Appends Feast's `value_text` for `value` to `out` (Python's `str()` of a string, int,
/// float or bool feature; a float32 widened to a Python float first) and says whether there
/// is one: nulls, bytes, timestamps and containers have none.
fn value_text(value: &Value, out: &mut Vec<u8>) -> bool {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int32(v) => write_int(i64::from(*v), out),
        Value::Int64(v) => write_int(*v, out),
        Value::Float(v) => write_float_repr(f64::from(*v), out),
        Value::Double(v) => write_float_repr(*v, out),
        Value::Bool(true) => out.extend_from_slice(b"True"),
        Value::Bool(false) => out.extend_from_slice(b"False"),
        _ => return false,
    }
    true
}

impl OnlineStore for SqliteStore {
    fn update(
        &self,
        project: &str,
        keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>> {
        self.with_conn(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .with_context(|| self.context("begin a transaction"))?;
            let mut changes = Vec::new();
            for v in keep {
                let name = Table {
                    project,
                    view: &v.name,
                }
                .name();
                if Self::create_table(&tx, &name)
                    .with_context(|| self.context(&format!("create table {name}")))?
                {
                    changes.push(InfraChange(format!("Created sqlite table {name}")));
                }
            }
            for v in delete {
                let name = Table {
                    project,
                    view: &v.name,
                }
                .name();
                if Self::table_exists(&tx, &name)? {
                    tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_id(&name)))
                        .with_context(|| self.context(&format!("drop table {name}")))?;
                    changes.push(InfraChange(format!("Deleted sqlite table {name}")));
                }
            }
            tx.commit().with_context(|| self.context("commit"))?;
            Ok(changes)
        })
    }

    /// Drops the project's tables. Feast deletes the whole file instead; the file may hold
    /// other projects' tables, so it stays.
    fn teardown(&self, project: &str, views: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        self.update(project, &[], views)
    }

    fn read(
        &self,
        table: Table<'_>,
        entity_keys: &[&[u8]],
        features: &[&str],
    ) -> Result<Vec<Option<ReadRow>>> {
        let mut out: Vec<Option<ReadRow>> = vec![None; entity_keys.len()];
        if entity_keys.is_empty() {
            return Ok(out);
        }
        let name = table.name();
        self.with_conn(|conn| {
            if entity_keys.len() <= READ_CHUNK {
                self.read_chunk(conn, &name, entity_keys, features, &mut out)?;
                return Ok(());
            }
            // Several queries, one snapshot.
            let tx = conn
                .transaction()
                .with_context(|| self.context("begin a read"))?;
            for (i, keys) in entity_keys.chunks(READ_CHUNK).enumerate() {
                let at = i * READ_CHUNK;
                let slots = &mut out[at..at + keys.len()];
                if !self.read_chunk(&tx, &name, keys, features, slots)? {
                    break;
                }
            }
            tx.commit().with_context(|| self.context("end a read"))
        })?;
        // A key asked for twice: the scan above filled its first place only. (The server
        // asks for each key once; few keys are checked without allocating.)
        if entity_keys.len() <= KEY_SCAN_LIMIT {
            for i in 1..entity_keys.len() {
                if let Some(j) = entity_keys[..i].iter().position(|k| *k == entity_keys[i]) {
                    out[i] = out[j].clone();
                }
            }
        } else {
            let mut first: HashMap<&[u8], usize> = HashMap::with_capacity(entity_keys.len());
            for (i, k) in entity_keys.iter().enumerate() {
                match first.get(k) {
                    Some(&j) => out[i] = out[j].clone(),
                    None => {
                        first.insert(k, i);
                    }
                }
            }
        }
        Ok(out)
    }

    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        _durability: Durability,
    ) -> Result<WriteStats> {
        super::check_row_widths(table, features.len(), rows)?;
        if rows.is_empty() {
            return Ok(WriteStats::default());
        }
        let name = table.name();
        self.with_conn(|conn| {
            // IMMEDIATE takes the write lock at once, so a busy database is waited for here
            // (busy timeout) rather than failing half-way when a read lock cannot be
            // upgraded.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .with_context(|| self.context(&format!("write {name}")))?;
            Self::write_rows(&tx, &name, features, rows)
                .with_context(|| self.context(&format!("write {name}")))?;
            tx.commit()
                .with_context(|| self.context(&format!("commit a write to {name}")))
        })?;
        Ok(WriteStats {
            written: rows.len(),
            kept_newer: 0,
        })
    }

    /// Every commit is already as durable as the database's `synchronous` setting makes it
    /// (FULL unless the file's owner chose otherwise): SQLite has no deferred flush that is
    /// safe in its default journal mode.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn check(&self) -> Result<()> {
        self.with_conn(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .with_context(|| self.context("read its schema"))
        })?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
