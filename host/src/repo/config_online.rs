//! The `online_store` section of `feature_store.yaml`: which store serves the features, in
//! the shapes the stores are opened from (LMDB, Feast's SQLite and Redis layouts, a WASM store
//! adapter and its `host-kv` backend), and each store's keys checked and resolved against the
//! repo. The `online` layer opens its stores from these types; `super::config` reads the rest
//! of the file and re-exports them.

use std::path::{Path, PathBuf};

use super::config_raw::{RawKv, RawOnlineStore, RawSize, parse_size};
use crate::repo::redis_url::redis_urls;
use anyhow::{Result, bail};

/// The online store types this build can serve from.
pub const ONLINE_STORE_TYPES: [&str; 4] = ["lmdb", "sqlite", "redis", "plugin"];
/// The class path Feast also accepts for `type: sqlite`.
pub(super) const FEAST_SQLITE_CLASS: &str = "feast.infra.online_stores.sqlite.SqliteOnlineStore";
/// The class path Feast also accepts for `type: redis`.
pub(super) const FEAST_REDIS_CLASS: &str = "feast.infra.online_stores.redis.RedisOnlineStore";
const KV_TYPES: [&str; 2] = ["lmdb", "redis"];

/// The `online_store` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineStoreConfig {
    /// The embedded LMDB store.
    Lmdb(LmdbConfig),
    /// Feast's SQLite store, in Feast's layout (`type: sqlite`).
    Sqlite(SqliteConfig),
    /// Feast's Redis store, in Feast's layout (`type: redis`).
    Redis(RedisStoreConfig),
    /// A WebAssembly store adapter (`type: plugin`).
    Plugin(PluginStoreConfig),
}

impl OnlineStoreConfig {
    /// The `type` that selects it in `feature_store.yaml`, as Feast's messages name stores.
    pub fn type_name(&self) -> &'static str {
        match self {
            OnlineStoreConfig::Lmdb(_) => "lmdb",
            OnlineStoreConfig::Plugin(_) => "plugin",
            OnlineStoreConfig::Sqlite(_) => "sqlite",
            OnlineStoreConfig::Redis(_) => "redis",
        }
    }
}

/// `online_store` with `type: plugin`: every read and write goes through a store adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStoreConfig {
    /// The adapter: `<plugins.path>/<plugin>.wasm`.
    pub plugin: String,
    /// `config`: handed to the adapter's `open`, values as strings, sorted by key.
    pub config: Vec<(String, String)>,
    /// `kv`: the backend of the `host-kv` capability; `None` when the adapter brings its own
    /// client (then it cannot import `host-kv`).
    pub kv: Option<KvConfig>,
    /// `allow_connect`: the only addresses the adapter may open sockets to.
    pub allow_connect: Vec<std::net::SocketAddr>,
}

/// `online_store.kv`: what backs the `host-kv` capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvConfig {
    /// `type: lmdb`: a local LMDB file.
    Lmdb(KvLmdbConfig),
    /// `type: redis`: Redis, Valkey or a Redis Cluster.
    Redis(RedisConfig),
}

/// `online_store.kv` with `type: lmdb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvLmdbConfig {
    /// The LMDB environment directory, absolute (default `data/kv.lmdb`).
    pub path: PathBuf,
    /// The size of the memory map in bytes.
    pub map_size: u64,
}

/// `online_store.kv` with `type: redis`, in the shape of Feast's Redis store config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// One `redis://` URL per node given (one for a single server).
    pub urls: Vec<String>,
    /// `redis_type: redis_cluster`.
    pub cluster: bool,
    /// The longest one batch may take before the request fails (`timeout_ms`, default 500).
    pub timeout: std::time::Duration,
    /// The nodes as written, without credentials: for messages.
    pub display: String,
}

/// `online_store` with `type: redis`: Feast's `RedisOnlineStoreConfig`, plus two keys of
/// edgefeat's own (`timeout_ms`, `missing_entities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// The servers (`connection_string`, `redis_type`) and the timeout of one batch.
    pub client: RedisConfig,
    /// `key_ttl_seconds`: every write sets the entity's whole hash to expire this long after
    /// it; `None` (or 0) keeps keys forever.
    pub key_ttl_seconds: Option<u64>,
    /// `full_scan_for_deletion` (default true): `apply` removing a view scans for its keys
    /// and deletes its fields.
    pub full_scan_for_deletion: bool,
    /// `skip_dedup` (default false): write every row, without comparing timestamps.
    pub skip_dedup: bool,
    /// What a read answers for an entity the store holds nothing for.
    pub missing_entities: MissingEntities,
}

/// How the Redis store answers an entity it holds no fields of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingEntities {
    /// As Feast's Redis store does: every feature `PRESENT`, null, at the epoch. The default,
    /// so that clients see exactly what `feast serve` over the same Redis answers.
    Present,
    /// `NOT_FOUND`, as Feast's SQLite store and edgefeat's other stores answer.
    NotFound,
}

/// `online_store` with `type: lmdb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmdbConfig {
    /// The LMDB environment directory, absolute.
    pub path: PathBuf,
    /// The initial size of the memory map in bytes. It only reserves address space, and it is
    /// doubled automatically when full.
    pub map_size: u64,
    /// Which of two rows for the same entity is kept.
    pub write_policy: WritePolicy,
}

/// `online_store` with `type: sqlite`: Feast's `SqliteOnlineStoreConfig`, plus two keys of
/// edgefeat's own for sharing the file with a running Feast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file, absolute: `path` resolved against the repo (Feast's default
    /// `data/online.db`); an absolute `path` is used as it is.
    pub path: PathBuf,
    /// How long a call waits for a database another process holds locked (`busy_timeout_ms`,
    /// default 5000: Python's `sqlite3` default, which Feast uses) before it fails.
    pub busy_timeout: std::time::Duration,
    /// `journal_mode`: set on the file when the store opens (it persists for `wal`); `None`
    /// leaves the file's mode alone.
    pub journal_mode: Option<String>,
}

/// The journal modes `online_store.journal_mode` may set (SQLite's, except `off`, which
/// gives up atomic writes).
const JOURNAL_MODES: [&str; 5] = ["delete", "truncate", "persist", "memory", "wal"];

/// How a write treats the row already stored for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// The stored row is replaced only by a row with a newer or equal event timestamp (then
    /// created timestamp), so a late or replayed write never rolls a value back. The default.
    NewerWins,
    /// Every write replaces the stored row, whatever its timestamps (Feast's SQLite store).
    LastWriteWins,
}

/// The default `map_size`: 1 GiB of address space (not of disk).
pub const DEFAULT_MAP_SIZE: u64 = 1 << 30;

/// A `map_size` as written, or [`DEFAULT_MAP_SIZE`] when it is not.
pub(super) fn size_or_default(raw: Option<&RawSize>) -> Result<u64> {
    Ok(match raw {
        None => DEFAULT_MAP_SIZE,
        Some(RawSize::Bytes(n)) => *n,
        Some(RawSize::Text(t)) => parse_size(t).map_err(|e| anyhow::anyhow!(e))?,
    })
}

/// `online_store` with `type: sqlite`, and warnings for the Feast options whose columns
/// edgefeat's writes leave NULL. Errors and warnings start with the key they are about.
pub(super) fn sqlite_store_config(
    repo_path: &Path,
    raw: RawOnlineStore,
) -> Result<(SqliteConfig, Vec<String>)> {
    let path = repo_path.join(raw.path.as_deref().unwrap_or("data/online.db"));
    let busy_timeout = std::time::Duration::from_millis(raw.busy_timeout_ms.unwrap_or(5000));
    let journal_mode = match raw.journal_mode {
        None => None,
        Some(mode) => {
            let lower = mode.to_ascii_lowercase();
            if !JOURNAL_MODES.contains(&lower.as_str()) {
                bail!(
                    "journal_mode `{mode}` is not supported; supported: {}",
                    JOURNAL_MODES.join(", ")
                );
            }
            Some(lower)
        }
    };
    let mut notes = Vec::new();
    if raw.vector_enabled == Some(true) {
        notes.push(
            "vector_enabled: rows edgefeat writes leave `vector_value` NULL, so Feast's vector search does not see them"
                .to_string(),
        );
    }
    if raw.enable_openai_compatible_store == Some(true) {
        notes.push(
            "enable_openai_compatible_store: rows edgefeat writes leave `value_num` NULL, so Feast's numeric filters do not match them"
                .to_string(),
        );
    }
    Ok((
        SqliteConfig {
            path,
            busy_timeout,
            journal_mode,
        },
        notes,
    ))
}

/// `online_store` with `type: redis`. Errors start with the key they are about.
pub(super) fn redis_store_config(raw: RawOnlineStore) -> Result<RedisStoreConfig> {
    // `client: glide` picks Feast's other Python client for the same servers and layout.
    if let Some(c) = raw.client.as_deref()
        && !matches!(c, "redis" | "glide")
    {
        bail!("client `{c}` is not supported; supported: redis, glide");
    }
    let client = redis_client_config(
        "",
        raw.redis_type.as_deref(),
        raw.connection_string.as_deref(),
        raw.timeout_ms,
    )?;
    let key_ttl_seconds = match raw.key_ttl_seconds {
        None | Some(0) => None,
        Some(n) if n < 0 => bail!("key_ttl_seconds must not be negative (got {n})"),
        Some(n) => Some(n as u64),
    };
    let missing_entities = match raw.missing_entities.as_deref() {
        None | Some("present") => MissingEntities::Present,
        Some("not_found") => MissingEntities::NotFound,
        Some(other) => {
            bail!("missing_entities `{other}` is not supported; supported: present, not_found")
        }
    };
    Ok(RedisStoreConfig {
        client,
        key_ttl_seconds,
        full_scan_for_deletion: raw.full_scan_for_deletion.unwrap_or(true),
        skip_dedup: raw.skip_dedup.unwrap_or(false),
        missing_entities,
    })
}

/// `online_store` with `type: plugin`. Errors start with the key they are about.
pub(super) fn plugin_store_config(
    repo_path: &Path,
    raw: RawOnlineStore,
) -> Result<PluginStoreConfig> {
    let plugin = raw.plugin.filter(|p| !p.trim().is_empty()).ok_or_else(|| {
        anyhow::anyhow!(
            "plugin: missing: name the store adapter (`plugin: NAME` loads plugins/NAME.wasm)"
        )
    })?;
    if plugin.contains(['/', '\\']) || plugin.ends_with(".wasm") {
        bail!(
            "plugin: `{plugin}` must be a plugin name, not a path: `plugin: NAME` loads <plugins.path>/NAME.wasm"
        );
    }
    let config = raw
        .config
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_text()))
        .collect();
    let kv = raw.kv.map(|kv| kv_config(repo_path, kv)).transpose()?;
    let allow_connect = raw
        .allow_connect
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            a.parse::<std::net::SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "allow_connect: `{a}` is not an IP address and port (like 10.0.0.5:6379)"
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PluginStoreConfig {
        plugin,
        config,
        kv,
        allow_connect,
    })
}

fn kv_config(repo_path: &Path, raw: RawKv) -> Result<KvConfig> {
    let kind = raw.kind.unwrap_or_else(|| "redis".to_string());
    if !KV_TYPES.contains(&kind.as_str()) {
        bail!(
            "kv.type `{kind}` is not supported; supported: {}",
            KV_TYPES.join(", ")
        );
    }
    if kind == "lmdb" {
        return Ok(KvConfig::Lmdb(KvLmdbConfig {
            path: repo_path.join(raw.path.unwrap_or_else(|| "data/kv.lmdb".to_string())),
            map_size: size_or_default(raw.map_size.as_ref())
                .map_err(|e| anyhow::anyhow!("kv.map_size: {e}"))?,
        }));
    }
    Ok(KvConfig::Redis(redis_client_config(
        "kv.",
        raw.redis_type.as_deref(),
        raw.connection_string.as_deref(),
        raw.timeout_ms,
    )?))
}

/// Feast's `redis_type` and `connection_string`, and edgefeat's `timeout_ms`, as the Redis
/// client takes them; errors name the keys under `prefix`.
fn redis_client_config(
    prefix: &str,
    redis_type: Option<&str>,
    connection_string: Option<&str>,
    timeout_ms: Option<u64>,
) -> Result<RedisConfig> {
    let cluster = match redis_type {
        None | Some("redis") => false,
        Some("redis_cluster") => true,
        Some("redis_sentinel") => bail!(
            "{prefix}redis_type `redis_sentinel` is not supported yet; supported: redis, redis_cluster (point connection_string at the current primary, or at a proxy that follows it)"
        ),
        Some(other) => {
            bail!("{prefix}redis_type `{other}` is not supported; supported: redis, redis_cluster")
        }
    };
    let (urls, display) = redis_urls(connection_string.unwrap_or("localhost:6379"))
        .map_err(|e| anyhow::anyhow!("{prefix}connection_string: {e}"))?;
    let timeout_ms = timeout_ms.unwrap_or(500);
    if timeout_ms == 0 {
        bail!("{prefix}timeout_ms must be at least 1");
    }
    Ok(RedisConfig {
        urls,
        cluster,
        timeout: std::time::Duration::from_millis(timeout_ms),
        display,
    })
}
