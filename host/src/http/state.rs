//! What the server shares between requests: the current registry snapshot (swapped whole when
//! the registry file changes), the online store, and the settings.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use arc_swap::ArcSwap;

use crate::auth::{Authenticator, Authorizer};
use crate::online::OnlineStore;
use crate::plugins::{PluginEngine, PluginHost, PluginInfo};
use crate::registry::{
    FORMAT_NAME, FORMAT_VERSION, Meta, Project, Registry, Stored, load_registry,
};
use crate::repo::{AuthConfig, RepoConfig};
use crate::serving::{ServingOptions, Snapshot};

/// The request body limit when feature_store.yaml sets none: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 << 20;

/// The server's shared state.
pub struct AppState {
    snapshot: ArcSwap<Snapshot>,
    /// The online store.
    pub store: Arc<dyn OnlineStore>,
    /// The repo configuration.
    pub config: RepoConfig,
    /// Serving settings.
    pub options: ServingOptions,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Why the last registry load failed, if it did (reported by `/health`).
    registry_error: Mutex<Option<String>>,
    /// Views being materialized by this server (for the async 409).
    pub running: crate::http::materialize_routes::Running,
    /// Bounds the materializations running at once.
    pub materialize_pool: Arc<tokio::sync::Semaphore>,
    /// The transform plugins (`None` when the plugin engine could not start).
    pub plugins: Option<Arc<PluginHost>>,
    /// Bounds the requests running plugins at once, on the blocking pool.
    pub transform_pool: Arc<tokio::sync::Semaphore>,
    /// Verifies bearer tokens; `None` with `auth.type: no_auth`, when nothing is checked.
    pub authenticator: Option<Arc<Authenticator>>,
    /// The permissions of the registry being served, rebuilt when it changes.
    authorizer: ArcSwap<Authorizer>,
    /// The vector indexes and search permits of `/search` (see `search_routes`).
    pub search: crate::http::search_routes::SearchState,
}

/// An empty registry of the configured project: what a server without a registry file serves
/// (as Feast creates an empty one), until `apply` writes one.
fn empty_registry(config: &RepoConfig) -> Registry {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    Registry {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        serial: 0,
        last_updated: epoch,
        project: Stored {
            spec: Project {
                name: config.project.clone(),
                description: config.project_description.clone().unwrap_or_default(),
                tags: Default::default(),
                owner: String::new(),
            },
            meta: Meta {
                created_timestamp: epoch,
                last_updated_timestamp: epoch,
                materialization_intervals: Vec::new(),
            },
        },
        entities: Default::default(),
        data_sources: Default::default(),
        feature_views: Default::default(),
        on_demand_feature_views: Default::default(),
        feature_services: Default::default(),
        permissions: Default::default(),
    }
}

/// Reads `feature_server` settings: `enforce_ttl` (bool) and `max_request_body_bytes`.
pub fn serving_settings(config: &RepoConfig) -> (ServingOptions, usize) {
    let fs = config.feature_server.as_ref();
    let enforce_ttl = fs
        .and_then(|f| f.get("enforce_ttl"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let limit = fs
        .and_then(|f| f.get("max_request_body_bytes"))
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_BODY_LIMIT);
    (ServingOptions { enforce_ttl }, limit)
}

impl AppState {
    /// Loads the registry (an empty one when there is no file yet; a damaged file fails
    /// startup, as in Feast) and builds the state.
    pub fn new(config: RepoConfig, store: Arc<dyn OnlineStore>) -> Result<AppState> {
        let registry =
            load_registry(&config.registry_path)?.unwrap_or_else(|| empty_registry(&config));
        let (options, body_limit) = serving_settings(&config);
        let plugins = match PluginEngine::new(config.plugins.limits) {
            Ok(engine) => Some(Arc::new(crate::plugins::transform_host(engine, &config))),
            Err(e) => {
                tracing::error!("on demand feature views are unavailable: {e:#}");
                None
            }
        };
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let registry = Arc::new(registry);
        let authenticator = match &config.auth {
            AuthConfig::NoAuth => None,
            AuthConfig::Oidc(oidc) => Some(Arc::new(Authenticator::new(oidc))),
        };
        Ok(AppState {
            authorizer: ArcSwap::from_pointee(Authorizer::new(registry.clone())),
            authenticator,
            snapshot: ArcSwap::from_pointee(Snapshot::new(registry, options)),
            store,
            config,
            options,
            body_limit,
            registry_error: Mutex::new(None),
            running: Default::default(),
            materialize_pool: Arc::new(tokio::sync::Semaphore::new(
                crate::http::materialize_routes::max_workers(),
            )),
            plugins,
            transform_pool: Arc::new(tokio::sync::Semaphore::new(workers * 4)),
            search: Default::default(),
        })
    }

    /// Wires the plugin host to this state: new plugin versions are checked against the
    /// current registry's on-demand views before they are published; then loads the plugins.
    pub fn start_plugins(self: &Arc<Self>) {
        let Some(host) = &self.plugins else { return };
        let weak = Arc::downgrade(self);
        host.set_validator(Arc::new(move |name: &str, info: &PluginInfo| {
            let Some(state) = weak.upgrade() else {
                return Ok(());
            };
            let problems =
                crate::plugins::check::registry_problems(&state.snapshot().registry, name, info);
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            }
        }));
        if let Err(e) = std::fs::create_dir_all(host.dir()) {
            tracing::warn!("cannot create {}: {e}", host.dir().display());
        }
        host.rescan();
    }

    /// The snapshot requests are served from now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The permissions of `snapshot`'s registry. The authorizer is keyed by the registry it
    /// was built from, so a request always checks against the registry it is served from; a
    /// new registry gets a new authorizer (and an empty decision cache) on first use.
    pub fn authorizer(&self, snapshot: &Snapshot) -> Arc<Authorizer> {
        let current = self.authorizer.load_full();
        if Arc::ptr_eq(current.registry(), &snapshot.registry) {
            return current;
        }
        let fresh = Arc::new(Authorizer::new(snapshot.registry.clone()));
        self.authorizer.store(fresh.clone());
        fresh
    }

    /// Re-reads the registry and swaps in a new snapshot if it changed. Requests in flight
    /// finish on the snapshot they started with. A failed read keeps the old snapshot and is
    /// reported by `/health`.
    pub fn reload(&self) -> bool {
        let loaded = load_registry(&self.config.registry_path);
        let mut error = self
            .registry_error
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match loaded {
            Ok(registry) => {
                *error = None;
                let registry = registry.unwrap_or_else(|| empty_registry(&self.config));
                let current = self.snapshot.load();
                if current.registry.serial == registry.serial
                    && current.registry.last_updated == registry.last_updated
                {
                    return false;
                }
                self.snapshot
                    .store(Arc::new(Snapshot::new(Arc::new(registry), self.options)));
                tracing::info!("registry reloaded");
                drop(error);
                if let Some(host) = &self.plugins {
                    // A plugin refused for not fitting the old definitions may fit the new.
                    host.retry_failed();
                }
                true
            }
            Err(e) => {
                tracing::warn!("registry reload failed, still serving the previous one: {e:#}");
                *error = Some(format!("{e:#}"));
                false
            }
        }
    }

    /// Why the server is not healthy, if it is not: the registry cannot be read, or the store
    /// cannot begin a read.
    pub fn health_problem(&self) -> Option<String> {
        if let Some(e) = self
            .registry_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Some(e);
        }
        let table = crate::online::Table {
            project: &self.config.project,
            view: "",
        };
        self.store
            .read(table, &[], &[])
            .and_then(|_| self.store.check())
            .err()
            .map(|e| format!("{e:#}"))
    }
}

/// Watches the registry file and re-reads it when it changes, with a poll every `ttl` as a
/// fallback for filesystems without change events (`None`: events only). Runs on its own
/// thread, never on the request path; stops when the server drops its state.
pub fn watch_registry(state: Arc<AppState>, ttl: Option<Duration>) -> crate::watch::FileWatcher {
    let path = state.config.registry_path.clone();
    crate::watch::watch_files(&[path], ttl, move || {
        if Arc::strong_count(&state) == 1 {
            return false;
        }
        state.reload();
        true
    })
}
