//! The online store of `type: plugin`: every read and write goes through a WebAssembly store
//! adapter ([`crate::plugins::adapter`]), which keeps rows in its own layout, usually on the
//! host's `host-kv` capability (Redis or a local LMDB file).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::{
    Durability, InfraChange, OnlineStore, ReadRow, Table, WriteFeature, WriteRow, WriteStats,
};
use crate::plugins::PluginEngine;
use crate::plugins::adapter::{self, AdapterError, StoreAdapter};
use crate::registry::FeatureView;
use crate::repo::RepoConfig;
use crate::repo::config::PluginStoreConfig;

/// An error of the store that says the backing store is unreachable (the server answers 500
/// and `/health` 503 until it is back).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreUnavailable(pub String);

/// The plugin online store.
pub struct PluginStore {
    /// The adapter in service; a reload swaps it while calls in flight finish on the old one.
    adapter: ArcSwap<StoreAdapter>,
    engine: PluginEngine,
    file: PathBuf,
    config: PluginStoreConfig,
    kv: Option<Arc<dyn super::kv::Kv>>,
    /// The content hash of the adapter in service, so that an event for an unchanged file
    /// does not reopen it.
    hash: Mutex<[u8; 32]>,
}

fn wit_table<'a>(table: Table<'a>) -> adapter::Table {
    adapter::Table {
        project: table.project.to_string(),
        view: table.view.to_string(),
    }
}

fn to_anyhow(e: AdapterError) -> anyhow::Error {
    match e {
        AdapterError::Unavailable(m) => StoreUnavailable(m).into(),
        AdapterError::Failed(m) => anyhow::anyhow!(m),
    }
}

impl PluginStore {
    /// Loads the adapter `<plugins.path>/<plugin>.wasm`, connects its key-value backend (lazily,
    /// for Redis) and opens it once.
    pub fn open(config: &RepoConfig, store: &PluginStoreConfig) -> Result<PluginStore> {
        let file = config.plugins.path.join(format!("{}.wasm", store.plugin));
        let engine = PluginEngine::new(config.plugins.limits)?;
        let kv = store.kv.as_ref().map(super::kv::open).transpose()?;
        let (adapter, hash) = load(&engine, &file, store, kv.clone())?;
        Ok(PluginStore {
            adapter: ArcSwap::from_pointee(adapter),
            engine,
            file,
            config: store.clone(),
            kv,
            hash: Mutex::new(hash),
        })
    }

    fn adapter(&self) -> Arc<StoreAdapter> {
        self.adapter.load_full()
    }

    fn delete(&self, project: &str, views: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        let mut changes = Vec::new();
        for view in views {
            let features: Vec<String> = view.features.iter().map(|f| f.name.clone()).collect();
            let table = Table {
                project,
                view: &view.name,
            };
            self.adapter()
                .delete_table(&wit_table(table), &features)
                .map_err(to_anyhow)?;
            changes.push(InfraChange(format!(
                "Deleted table {} from store adapter {}",
                table.name(),
                self.config.plugin
            )));
        }
        Ok(changes)
    }
}

impl OnlineStore for PluginStore {
    fn update(
        &self,
        project: &str,
        _keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>> {
        // Tables are created on first write by the adapter's layout; only removals act.
        self.delete(project, delete)
    }

    fn teardown(&self, project: &str, views: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        self.delete(project, views)
    }

    fn read(
        &self,
        table: Table<'_>,
        entity_keys: &[&[u8]],
        features: &[&str],
    ) -> Result<Vec<Option<ReadRow>>> {
        if entity_keys.is_empty() {
            return Ok(Vec::new());
        }
        let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
        let keys: Vec<Vec<u8>> = entity_keys.iter().map(|k| k.to_vec()).collect();
        let adapter = self.adapter();
        let rows = adapter
            .read(&wit_table(table), &features, &keys)
            .map_err(to_anyhow)?;
        rows.into_iter()
            .map(|row| {
                let Some(row) = row else { return Ok(None) };
                if row.values.len() != features.len() {
                    anyhow::bail!(
                        "store adapter `{}` returned {} values for {} features",
                        adapter.name(),
                        row.values.len(),
                        features.len()
                    );
                }
                Ok(Some(ReadRow {
                    event_ts_micros: row.event_ts_us,
                    created_ts_micros: row.created_ts_us,
                    values: row
                        .values
                        .into_iter()
                        .map(|v| v.map(adapter::from_wit_value))
                        .collect(),
                }))
            })
            .collect()
    }

    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        _durability: Durability,
    ) -> Result<WriteStats> {
        if rows.is_empty() {
            return Ok(WriteStats::default());
        }
        let features: Vec<String> = features.iter().map(|f| f.name.to_string()).collect();
        // Bounded batches: one call carries at most this many rows, so a bulk
        // materialization neither builds one huge guest allocation nor one huge pipeline.
        const BATCH: usize = 1000;
        let adapter = self.adapter();
        let mut stats = WriteStats::default();
        for chunk in rows.chunks(BATCH) {
            let wit_rows: Vec<adapter::WriteRow> = chunk
                .iter()
                .map(|r| adapter::WriteRow {
                    key: r.entity_key.clone(),
                    event_ts_us: r.event_ts_micros,
                    created_ts_us: r.created_ts_micros,
                    values: r.values.iter().map(adapter::to_wit_value).collect(),
                })
                .collect();
            let s = adapter
                .write(&wit_table(table), &features, &wit_rows)
                .map_err(to_anyhow)?;
            stats.written += s.written as usize;
            stats.kept_newer += s.kept_newer as usize;
        }
        Ok(stats)
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn typed(&self) -> bool {
        false
    }

    fn blocking(&self) -> bool {
        true
    }

    fn check(&self) -> Result<()> {
        match &self.kv {
            Some(kv) => kv
                .ping()
                .map_err(|e| StoreUnavailable(e.to_string()).into()),
            None => Ok(()),
        }
    }

    fn plugin_file(&self) -> Option<&Path> {
        Some(&self.file)
    }

    fn reload(&self) -> Result<bool> {
        let mut hash = self.hash.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = read_adapter(&self.file)?;
        let new_hash: [u8; 32] = Sha256::digest(&bytes).into();
        if new_hash == *hash {
            return Ok(false);
        }
        let adapter = build(
            &self.engine,
            &self.file,
            &bytes,
            &self.config,
            self.kv.clone(),
        )?;
        self.adapter.store(Arc::new(adapter));
        *hash = new_hash;
        Ok(true)
    }
}

fn read_adapter(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| {
        anyhow::anyhow!(
            "online_store: cannot read the store adapter {}: {e}",
            file.display()
        )
    })
}

fn load(
    engine: &PluginEngine,
    file: &Path,
    store: &PluginStoreConfig,
    kv: Option<Arc<dyn super::kv::Kv>>,
) -> Result<(StoreAdapter, [u8; 32])> {
    let bytes = read_adapter(file)?;
    let adapter = build(engine, file, &bytes, store, kv)?;
    Ok((adapter, Sha256::digest(&bytes).into()))
}

/// Compiles and opens an adapter: what a reload must pass before it replaces the one in
/// service.
fn build(
    engine: &PluginEngine,
    file: &Path,
    bytes: &[u8],
    store: &PluginStoreConfig,
    kv: Option<Arc<dyn super::kv::Kv>>,
) -> Result<StoreAdapter> {
    let component = engine
        .compile(bytes)
        .map_err(|e| anyhow::anyhow!("online_store: {}: {e}", file.display()))?;
    StoreAdapter::new(
        &store.plugin,
        engine,
        &component,
        store.config.clone(),
        kv,
        store.allow_connect.clone(),
    )
}
