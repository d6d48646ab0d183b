//! The online store: where materialized and pushed rows are kept for serving.
//!
//! [`OnlineStore`] is the seam every backend implements: the embedded LMDB store (`lmdb.rs`),
//! Feast's SQLite and Redis stores in their own layouts (`sqlite.rs`, `redis.rs`), and the
//! WebAssembly store adapters of `type: plugin` (`plugin.rs`). It is synchronous on
//! purpose: a read is a few microseconds of memory-mapped lookups, cheaper than any async
//! machinery around it, and a server calls it from its own threads. A store on the network
//! (Redis) also answers reads as a future ([`OnlineStore::read_tables_async`]), so that the
//! server awaits it without parking a thread.

mod changes;
pub mod kv;
mod lmdb;
mod lmdb_file;
mod plugin;
mod redis;
pub mod redis_layout;
mod sqlite;

pub use changes::{RowVisitor, Scan, TableVersion};
pub use lmdb::{DamagedStore, LmdbStore};
pub use plugin::{PluginStore, StoreUnavailable};
pub use redis::RedisStore;
pub use sqlite::SqliteStore;

use std::future::Future;
use std::pin::Pin;

use anyhow::Result;

use crate::registry::{FeatureView, Field};
use crate::repo::RepoConfig;
use crate::repo::config::OnlineStoreConfig;
use crate::types::{DType, Value};

/// One infrastructure change, printed by `apply` under the registry changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraChange(pub String);

/// The table of one feature view, named as Feast names it: `<project>_<view>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table<'a> {
    /// The project.
    pub project: &'a str,
    /// The feature view.
    pub view: &'a str,
}

impl Table<'_> {
    /// Feast's table name.
    pub fn name(&self) -> String {
        format!("{}_{}", self.project, self.view)
    }
}

/// A feature a write carries: its name, and its declared dtype, which a store keeping Feast's
/// `Value` protobuf needs (an empty list is written with its element type, a map value as a
/// map or a struct).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteFeature<'a> {
    /// The feature's name.
    pub name: &'a str,
    /// Its declared dtype.
    pub dtype: &'a DType,
}

impl<'a> WriteFeature<'a> {
    /// The features of a view's schema, in order.
    pub fn of_fields(fields: &'a [Field]) -> Vec<WriteFeature<'a>> {
        fields
            .iter()
            .map(|f| WriteFeature {
                name: &f.name,
                dtype: &f.dtype,
            })
            .collect()
    }
}

/// A row to write: one entity's features, in the order of the features passed with it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRow {
    /// The entity key, serialized (entity key serialization v3).
    pub entity_key: Vec<u8>,
    /// When the event happened, in microseconds since the epoch.
    pub event_ts_micros: i64,
    /// When the row was created (breaks ties between equal event times); 0 when unknown.
    pub created_ts_micros: i64,
    /// The feature values.
    pub values: Vec<Value>,
}

/// A row read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRow {
    /// When the event happened, in microseconds since the epoch.
    pub event_ts_micros: i64,
    /// When the row was created.
    pub created_ts_micros: i64,
    /// The requested features in the order asked: `None` for a feature the row does not hold
    /// (it was written before the view gained it), `Some(Value::Null)` for a stored null.
    pub values: Vec<Option<Value>>,
}

/// Refuses a write whose rows do not hold one value per feature: every store checks it the
/// same way, before it writes anything.
pub(crate) fn check_row_widths(table: Table<'_>, features: usize, rows: &[WriteRow]) -> Result<()> {
    if let Some(bad) = rows.iter().find(|r| r.values.len() != features) {
        anyhow::bail!(
            "a row for table {} holds {} values for {features} features",
            table.name(),
            bad.values.len()
        );
    }
    Ok(())
}

/// One table's part of a read of several: the keys (serialized) and the features to read.
#[derive(Debug, Clone, Copy)]
pub struct TableRead<'a> {
    /// The table.
    pub table: Table<'a>,
    /// The entity keys, serialized (entity key serialization v3).
    pub entity_keys: &'a [Vec<u8>],
    /// The features to read, in the order their values come back.
    pub features: &'a [String],
}

/// One table's rows of a read: one per key asked, `None` where the entity has no row.
pub type TableRows = Vec<Option<ReadRow>>;

/// A read in flight, as [`OnlineStore::read_tables_async`] answers it.
pub type ReadFuture = Pin<Box<dyn Future<Output = Result<Vec<TableRows>>> + Send + 'static>>;

/// How a write must reach the disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Durable when the call returns (an acknowledged push).
    Sync,
    /// Atomic, but flushed later by [`OnlineStore::sync`]: for bulk loads that can be redone
    /// from the offline store, at about ten times the speed.
    Deferred,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Rows stored.
    pub written: usize,
    /// Rows not stored because the store held a newer row for the entity.
    pub kept_newer: usize,
}

/// An online store backend.
pub trait OnlineStore: Send + Sync {
    /// Makes room for the views to keep and drops the data of the views to delete. Called by
    /// `apply` before the registry is written, so a failure leaves the old registry in force.
    fn update(
        &self,
        project: &str,
        keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>>;

    /// Removes everything the store holds for `project`, whose views are `views`.
    fn teardown(&self, project: &str, views: &[&FeatureView]) -> Result<Vec<InfraChange>>;

    /// Reads the rows of `entity_keys` (serialized) from one table, all in one consistent
    /// snapshot: one result per key, `None` where the entity has no row.
    fn read(
        &self,
        table: Table<'_>,
        entity_keys: &[&[u8]],
        features: &[&str],
    ) -> Result<Vec<Option<ReadRow>>>;

    /// Reads several tables for one request: one [`TableRows`] per read, in order. Stores
    /// that can serve them in one round trip do (Redis); the default reads one table after
    /// the other.
    fn read_tables(&self, reads: &[TableRead<'_>]) -> Result<Vec<TableRows>> {
        reads
            .iter()
            .map(|r| {
                let keys: Vec<&[u8]> = r.entity_keys.iter().map(Vec::as_slice).collect();
                let features: Vec<&str> = r.features.iter().map(String::as_str).collect();
                self.read(r.table, &keys, &features)
            })
            .collect()
    }

    /// The same read as a future that waits on the network without holding a thread, for
    /// stores on the network; `None` (the default) for stores that answer from memory or
    /// disk, which [`OnlineStore::read_tables`] serves faster than any future would. The
    /// commands are built before this returns, so the future borrows nothing; it must be
    /// polled on a tokio runtime.
    fn read_tables_async(&self, reads: &[TableRead<'_>]) -> Option<ReadFuture> {
        let _ = reads;
        None
    }

    /// Writes rows atomically (all or none), each holding a value per feature of `features`.
    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        durability: Durability,
    ) -> Result<WriteStats>;

    /// Makes every [`Durability::Deferred`] write durable.
    fn sync(&self) -> Result<()>;

    /// Whether read values already have their features' dtypes. A store adapter's values
    /// come back in the plugin types (a map as JSON text), and the reader casts them.
    fn typed(&self) -> bool {
        true
    }

    /// Whether calls may wait on the network, so that the server must make them from its
    /// blocking pool rather than from an async worker.
    fn blocking(&self) -> bool {
        false
    }

    /// Whether the store answers now (for `/health`): an error says why not.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// The file holding the store's code (a store adapter), which the server watches.
    fn plugin_file(&self) -> Option<&std::path::Path> {
        None
    }

    /// Loads the store's code again if its file changed, swapping it in only once it has
    /// loaded and opened; calls in flight finish on the old code. True when it swapped.
    fn reload(&self) -> Result<bool> {
        Ok(false)
    }

    /// For vector search (see [`crate::vector::index`]): visits, in one consistent snapshot,
    /// the rows of `table` written since `since` (each entity once, with `features` read), or
    /// every row when `since` is `None`, names another incarnation of the table, or is too old
    /// for the store to know what changed since. Visits nothing when nothing changed, which
    /// must be cheap: it runs before every search. Stores without the support answer an error
    /// (the default), which a search reports.
    fn scan_changes(
        &self,
        table: Table<'_>,
        features: &[&str],
        since: Option<TableVersion>,
        visit: &mut RowVisitor<'_>,
    ) -> Result<Scan> {
        let _ = (features, since, visit);
        anyhow::bail!(
            "vector search is not supported by this online store (table {}): it needs the lmdb online store",
            table.name()
        )
    }
}

/// Whether the configured store holds anything yet (so `teardown` need not create it to
/// remove it).
pub fn exists(config: &RepoConfig) -> bool {
    match &config.online_store {
        OnlineStoreConfig::Lmdb(lmdb) => lmdb.path.exists(),
        OnlineStoreConfig::Sqlite(sqlite) => sqlite.path.exists(),
        OnlineStoreConfig::Redis(_) | OnlineStoreConfig::Plugin(_) => true,
    }
}

/// Opens the store the config names, creating it if needed.
pub fn open(config: &RepoConfig) -> Result<Box<dyn OnlineStore>> {
    match &config.online_store {
        OnlineStoreConfig::Lmdb(lmdb) => Ok(Box::new(LmdbStore::open(lmdb)?)),
        OnlineStoreConfig::Sqlite(sqlite) => Ok(Box::new(SqliteStore::open(sqlite)?)),
        OnlineStoreConfig::Redis(redis) => Ok(Box::new(RedisStore::open(redis)?)),
        OnlineStoreConfig::Plugin(plugin) => Ok(Box::new(PluginStore::open(config, plugin)?)),
    }
}
