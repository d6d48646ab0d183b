//! What the HTTP front shares between requests: the serving core, and the front's own
//! admission limits (body size and time, and the permits that bound searches and materializations).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::online::OnlineStore;
use crate::repo::RepoConfig;
use crate::serving::FeatureServer;

/// The request body limit when feature_store.yaml sets none: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 << 20;
/// How long a request body may take to arrive when `serve --body-timeout` does not say.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a request body may be: its size and the time it takes to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest accepted body, in bytes.
    pub bytes: usize,
    /// Longest a body may take to arrive in full.
    pub timeout: Duration,
}

/// How many times its size limit a body's decoded JSON may take in memory
/// ([`BodyLimits::decoded_budget`]). Ordinary data decodes into 3× (long strings) to about 30×
/// (four-digit ids) its text, one-digit numbers into 70× (`types::json_cost`), nested
/// containers into up to 150×. At 16×, a body of the largest size is refused only when its
/// values are tiny or deeply nested, and one body's tree never takes more than 256 MiB under
/// the default limit.
pub const DECODED_PER_BODY_BYTE: usize = 16;

impl BodyLimits {
    /// The most memory one body's decoded JSON may take: [`DECODED_PER_BODY_BYTE`] times the
    /// size limit, the same for every body, so that small bodies may nest as they need to.
    pub fn decoded_budget(&self) -> usize {
        self.bytes.saturating_mul(DECODED_PER_BODY_BYTE)
    }
}

/// The HTTP front's shared state.
pub struct AppState {
    /// The serving core.
    pub core: Arc<FeatureServer>,
    /// Request body limits.
    pub body: BodyLimits,
    /// Bounds the materializations running at once.
    pub materialize_pool: Arc<tokio::sync::Semaphore>,
    /// Async materialization requests accepted and not finished: past
    /// [`MAX_QUEUED_MATERIALIZATIONS`] a new one is refused (429) rather than queued without
    /// bound.
    pub queued_materializations: Arc<std::sync::atomic::AtomicUsize>,
    /// Four searches per core at most, each on a blocking thread: a burst of requests cannot
    /// grow the blocking pool without bound. Not one per core: scans that overlap on a core
    /// share the vectors they stream through its caches, and measured on 2 cores at c=8 (see
    /// BENCHMARKS.md), 8 scans at once served 172 req/s where 2 at a time served 131.
    pub search_permits: Arc<tokio::sync::Semaphore>,
}

/// Async materialization requests that may wait or run at once.
pub const MAX_QUEUED_MATERIALIZATIONS: usize = 16;

/// Reads `feature_server.max_request_body_bytes` (default [`DEFAULT_BODY_LIMIT`]).
pub fn body_limit(config: &RepoConfig) -> usize {
    config
        .feature_server_usize("max_request_body_bytes")
        .unwrap_or(DEFAULT_BODY_LIMIT)
}

impl AppState {
    /// The front over `core`.
    pub fn new(core: Arc<FeatureServer>) -> AppState {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AppState {
            body: BodyLimits {
                bytes: body_limit(&core.config),
                timeout: DEFAULT_BODY_TIMEOUT,
            },
            core,
            materialize_pool: Arc::new(tokio::sync::Semaphore::new(
                crate::serving::jobs::max_workers(),
            )),
            queued_materializations: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            search_permits: Arc::new(tokio::sync::Semaphore::new(cores * 4)),
        }
    }

    /// Builds the core over `store` (see [`FeatureServer::new`]) and the front over it.
    pub fn open(config: RepoConfig, store: Arc<dyn OnlineStore>) -> Result<AppState> {
        Ok(AppState::new(Arc::new(FeatureServer::new(config, store)?)))
    }
}
