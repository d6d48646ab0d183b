//! The `host-kv` capability that store adapters import: a store of hashes (a key holds
//! fields) on the host's own client, so that a sandboxed adapter gets pooled connections,
//! timeouts and batching without sockets of its own.
//!
//! Every call is one batch: one pipeline to Redis (one per hash slot on a cluster), one
//! transaction on LMDB, however many keys it carries. The calls are synchronous because
//! adapters run inside synchronous wasmtime calls on blocking threads; the Redis backend does
//! its I/O on its own small tokio runtime and waits for it with a timeout.

mod lmdb;
mod redis;
pub mod redis_client;

pub use self::lmdb::LmdbKv;
pub use self::redis::RedisKv;

use crate::repo::config::KvConfig;

/// The fields to read (or delete) from one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRead {
    /// The key.
    pub key: Vec<u8>,
    /// The fields; for a delete, none means the whole key.
    pub fields: Vec<Vec<u8>>,
}

/// Fields to set on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashWrite {
    /// The key.
    pub key: Vec<u8>,
    /// Field names and values.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One page of a key scan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    /// Keys starting with the prefix (possibly repeated across pages).
    pub keys: Vec<Vec<u8>>,
    /// Where the next page starts; `None` when the scan is complete.
    pub cursor: Option<String>,
}

/// Why a key-value call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The store did not answer within the timeout or could not be reached: the request
    /// fails, the server stays up, and the next request tries again.
    #[error("{0}")]
    Unavailable(String),
    /// The store answered with an error, or the call was malformed.
    #[error("{0}")]
    Failed(String),
}

/// The values of each read's fields, in order; `None` where a field or key is missing.
pub type GetResult = Vec<Vec<Option<Vec<u8>>>>;

/// A `host-kv` backend.
pub trait Kv: Send + Sync {
    /// Reads fields of many keys in one round trip.
    fn get(&self, reads: &[HashRead]) -> Result<GetResult, KvError>;
    /// Sets fields of many keys in one round trip; with `ttl_seconds`, every written key
    /// expires that long after this write.
    fn set(&self, writes: &[HashWrite], ttl_seconds: Option<u32>) -> Result<(), KvError>;
    /// Removes fields (or whole keys, for reads with no fields).
    fn delete(&self, deletes: &[HashRead]) -> Result<(), KvError>;
    /// One page of the keys starting with `prefix`.
    fn scan(&self, prefix: &[u8], cursor: Option<&str>) -> Result<ScanPage, KvError>;
    /// Whether the store answers now (for `/health`).
    fn ping(&self) -> Result<(), KvError>;
}

/// Opens the backend `config` names.
pub fn open(config: &KvConfig) -> anyhow::Result<std::sync::Arc<dyn Kv>> {
    Ok(match config {
        KvConfig::Lmdb(c) => std::sync::Arc::new(LmdbKv::open(c)?),
        KvConfig::Redis(c) => std::sync::Arc::new(RedisKv::open(c)?),
    })
}
