//! [`FeatureServer`]: everything a front (HTTP, gRPC) serves from, and nothing of any
//! transport.
//!
//! It owns the registry snapshot and its reload, the online store, the transform plugins and
//! the check that wires them to the registry, the authenticator and the authorizer, the vector
//! indexes, and the set of views being materialized. A front parses a request, calls one method
//! here and renders what comes back; admission (body limits, connection caps) is the front's
//! business. Which thread a read runs on is decided here, once for every front
//! ([`dispatch`](super::dispatch)).
//!
//! The request entry points live beside their concern, each an `impl FeatureServer` block:
//! [`access`](super::access) (authorization), [`ingest`](super::ingest) (push and
//! write-to-online-store), [`jobs`](super::jobs) (materialization) and the reads below.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use arc_swap::ArcSwap;

use crate::auth::{Authenticator, Authorizer};
use crate::online::OnlineStore;
use crate::online::TableRows;
use crate::plugins::{PluginEngine, PluginHost, PluginInfo};
use crate::registry::{
    FORMAT_NAME, FORMAT_VERSION, Meta, Project, Registry, Stored, load_registry,
};
use crate::repo::{AuthConfig, RepoConfig};
use crate::serving::error::ServingError;
use crate::serving::online::{Prepared, finish, prepare, read_error};
use crate::serving::response::OnlineResponse;
use crate::serving::running::Running;
use crate::serving::search::{SearchRequest, search};
use crate::serving::{OnlineRequest, Plan, ServingOptions, Snapshot, serve_plan};
use crate::vector::index::Indexes;

/// The serving core shared by every front and every request.
pub struct FeatureServer {
    snapshot: ArcSwap<Snapshot>,
    /// The online store.
    pub store: Arc<dyn OnlineStore>,
    /// The repo configuration.
    pub config: RepoConfig,
    /// Serving settings.
    pub options: ServingOptions,
    /// Why the last registry load failed, if it did (reported by [`FeatureServer::health_problem`]).
    registry_error: Mutex<Option<String>>,
    /// Views being materialized by this server (for the async 409).
    pub(crate) running: Running,
    /// The transform plugins (`None` when the plugin engine could not start).
    pub plugins: Option<Arc<PluginHost>>,
    /// Verifies bearer tokens; `None` with `auth.type: no_auth`, when nothing is checked.
    pub authenticator: Option<Arc<Authenticator>>,
    /// The permissions of the registry being served, rebuilt when it changes.
    authorizer: ArcSwap<Authorizer>,
    /// The in-memory vectors of `/search`, per view, built on first use.
    pub(crate) indexes: Indexes,
    /// Bounds the reads running plugins (or waiting on a blocking store) at once, on the
    /// blocking pool, for every front together: four per core.
    pub(crate) plugin_permits: Arc<tokio::sync::Semaphore>,
    /// The most entity rows one read may ask for (`feature_server.max_entity_rows`).
    pub(crate) max_entity_rows: usize,
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
        not_served: Default::default(),
    }
}

/// Reads `feature_server.enforce_ttl` (bool, default false).
pub fn serving_options(config: &RepoConfig) -> ServingOptions {
    let enforce_ttl = config
        .feature_server
        .as_ref()
        .and_then(|f| f.get("enforce_ttl"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    ServingOptions { enforce_ttl }
}

impl FeatureServer {
    /// Loads the registry (an empty one when there is no file yet; a damaged file fails
    /// startup, as in Feast) and builds the core.
    pub fn new(config: RepoConfig, store: Arc<dyn OnlineStore>) -> Result<FeatureServer> {
        let registry = load_registry(&config.registry_path, &config.project)?
            .unwrap_or_else(|| empty_registry(&config));
        let options = serving_options(&config);
        let max_entity_rows = super::dispatch::max_entity_rows(&config);
        let plugins = match PluginEngine::new(config.plugins.limits) {
            Ok(engine) => Some(Arc::new(crate::plugins::transform_host(engine, &config))),
            // Plugins without deadlines are worse than no server: fail the start.
            Err(e) if e.is::<crate::plugins::NoDeadlines>() => return Err(e),
            Err(e) => {
                tracing::error!("on demand feature views are unavailable: {e:#}");
                None
            }
        };
        let registry = Arc::new(registry);
        let authenticator = match &config.auth {
            AuthConfig::NoAuth => None,
            AuthConfig::Oidc(oidc) => Some(Arc::new(Authenticator::new(oidc))),
        };
        Ok(FeatureServer {
            authorizer: ArcSwap::from_pointee(Authorizer::new(registry.clone())),
            authenticator,
            snapshot: ArcSwap::from_pointee(Snapshot::new(registry, options)),
            store,
            config,
            options,
            registry_error: Mutex::new(None),
            running: Running::default(),
            plugins,
            indexes: Indexes::new(),
            plugin_permits: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()) * 4,
            )),
            max_entity_rows,
        })
    }

    /// Wires the plugin host to this core: new plugin versions are checked against the
    /// current registry's on-demand views before they are published; then loads the plugins.
    pub fn start_plugins(self: &Arc<Self>) {
        let Some(host) = &self.plugins else { return };
        let weak = Arc::downgrade(self);
        host.set_validator(Arc::new(move |name: &str, info: &PluginInfo| {
            let Some(core) = weak.upgrade() else {
                return Ok(());
            };
            let problems =
                crate::plugins::check::registry_problems(&core.snapshot().registry, name, info);
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
    /// reported by [`FeatureServer::health_problem`].
    pub fn reload(&self) -> bool {
        let loaded = load_registry(&self.config.registry_path, &self.config.project);
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
                let message = format!("{e:#}");
                // A torn file is read again a few times in a row: say so once, not each time.
                if error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(
                        "registry reload failed, still serving the previous one: {message}"
                    );
                }
                *error = Some(message);
                false
            }
        }
    }

    /// Whether the last registry load failed.
    fn registry_failed(&self) -> bool {
        self.registry_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Why the server is not healthy, if it is not: the registry cannot be read, or the store
    /// cannot begin a read. May wait on the store's network (see [`OnlineStore::blocking`]).
    pub fn health_problem(&self) -> Option<String> {
        if let Some(e) = self
            .registry_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Some(e);
        }
        // Served as an empty registry meanwhile (every read a 404): not ready, whatever the
        // store says, so a balancer does not send it traffic.
        if !self.config.registry_path.exists() {
            return Some(format!(
                "no registry at {}: nothing to serve until `edgefeat apply` writes one",
                self.config.registry_path.display()
            ));
        }
        if let Some(problem) = self.empty_offline_source() {
            return Some(problem);
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

    /// The first file source of the registry whose path is a file of 0 bytes, and what to do.
    /// Such a file has lost its rows (truncated, or replaced by an empty one): a
    /// materialization or an offline push would fail on it. A missing file is not reported:
    /// a server may serve from its online store with no offline data beside it.
    pub fn empty_offline_source(&self) -> Option<String> {
        let snapshot = self.snapshot();
        snapshot.registry.data_sources.values().find_map(|source| {
            let crate::registry::SourceKind::File { path, .. } = &source.spec.kind else {
                return None;
            };
            let full = self.config.repo_path.join(path);
            let empty = std::fs::metadata(&full).is_ok_and(|m| m.is_file() && m.len() == 0);
            empty.then(|| {
                format!(
                    "the file of data source `{}`, {}, is empty (0 bytes): its rows are gone (the file was truncated or replaced), and it can be neither materialized nor pushed to. Restore it from a backup, or write the source's data again",
                    source.spec.name,
                    full.display()
                )
            })
        })
    }

    /// Serves a planned `get-online-features` request from `snapshot` (the one it was planned
    /// on), as of `now` (microseconds, for ttl checks). Runs plugins and may wait on the
    /// store: the caller picks the thread ([`Plan::has_transforms`], [`OnlineStore::blocking`]).
    pub fn get_online_features(
        &self,
        plan: &Plan,
        snapshot: &Snapshot,
        request: &OnlineRequest<'_>,
        now: i64,
    ) -> Result<OnlineResponse, ServingError> {
        serve_plan(
            plan,
            snapshot,
            self.store.as_ref(),
            self.plugins.as_deref(),
            request,
            now,
        )
    }

    /// The first half of [`FeatureServer::get_online_features`] for a front that awaits the
    /// store: the request's keys, ready to read. Cheap; runs on any thread.
    pub fn prepare_online(
        &self,
        plan: &Plan,
        request: &OnlineRequest<'_>,
    ) -> Result<Prepared, ServingError> {
        prepare(plan, request)
    }

    /// The store read of a prepared request as a future that waits on the network without
    /// holding a thread, when the store is on the network (Redis); `None` when it reads from
    /// memory or disk, and [`FeatureServer::get_online_features`] is the call to make.
    pub fn read_online_async(
        &self,
        plan: &Plan,
        snapshot: &Snapshot,
        prepared: &Prepared,
    ) -> Option<
        impl std::future::Future<Output = Result<Vec<TableRows>, ServingError>> + Send + 'static,
    > {
        let read = self
            .store
            .read_tables_async(&prepared.reads(plan, snapshot))?;
        Some(async move { read.await.map_err(read_error) })
    }

    /// The store read of a prepared request, waiting for it on this thread (the blocking
    /// counterpart of [`FeatureServer::read_online_async`]).
    pub fn read_online(
        &self,
        plan: &Plan,
        snapshot: &Snapshot,
        prepared: &Prepared,
    ) -> Result<Vec<TableRows>, ServingError> {
        self.store
            .read_tables(&prepared.reads(plan, snapshot))
            .map_err(read_error)
    }

    /// The second half: runs the transforms over what the store answered and assembles the
    /// response. Runs plugins when the plan has transforms, so the caller picks the thread.
    pub fn finish_online(
        &self,
        plan: &Plan,
        snapshot: &Snapshot,
        request: &OnlineRequest<'_>,
        prepared: Prepared,
        got: Vec<TableRows>,
        now: i64,
    ) -> Result<OnlineResponse, ServingError> {
        finish(
            plan,
            snapshot,
            self.store.as_ref(),
            self.plugins.as_deref(),
            request,
            prepared,
            got,
            now,
        )
    }

    /// Runs a document search over `snapshot`'s registry (the one the request was authorized
    /// on). Scores every vector of the view: milliseconds of CPU, so the caller keeps it off
    /// its async workers.
    pub fn search(
        &self,
        snapshot: &Snapshot,
        request: &SearchRequest<'_>,
    ) -> Result<OnlineResponse, ServingError> {
        search(
            &snapshot.registry,
            self.store.as_ref(),
            &self.indexes,
            request,
        )
        .map_err(ServingError::from)
    }

    /// Loads the vectors of every view with a vector field on a background thread, so the first
    /// search does not pay for it (about 0.7 s for 100,000 × 384 here). A search that comes
    /// first waits for the load under the view's lock instead of loading it a second time.
    pub fn warm_up_vectors(self: &Arc<Self>) {
        let core = self.clone();
        let spawned = std::thread::Builder::new()
            .name("vector-warm-up".into())
            .spawn(move || {
                let snapshot = core.snapshot();
                let registry = &snapshot.registry;
                for view in registry.feature_views.values().map(|v| &v.spec) {
                    let Some((field, spec)) = crate::vector::vector_field(view) else {
                        continue;
                    };
                    let table = crate::online::Table {
                        project: &registry.project.spec.name,
                        view: &view.name,
                    };
                    if let Err(e) =
                        core.indexes
                            .current(core.store.as_ref(), table, &field.name, spec)
                    {
                        tracing::warn!("cannot load the vectors of {}: {e:#}", view.name);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("vectors will load on first search: {e}");
        }
    }

    /// Every plugin of the plugins directory, loaded or failed: name, version, content hash,
    /// when it was loaded, what it reads and returns, and its last load error.
    pub fn plugin_report(&self) -> serde_json::Value {
        use serde_json::{Value as J, json};
        let Some(host) = &self.plugins else {
            return json!({"plugins": []});
        };
        let loaded = host.loaded();
        let statuses = host.statuses();
        let mut names: Vec<&String> = loaded.keys().chain(statuses.keys()).collect();
        names.sort();
        names.dedup();
        let fields = |fs: &[crate::plugins::PluginField]| -> J {
            fs.iter()
                .map(|f| json!({"name": f.name, "type": f.ty.name()}))
                .collect()
        };
        let millis = |t: &chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let list: Vec<J> = names
            .into_iter()
            .map(|name| {
                let p = loaded.get(name);
                let s = statuses.get(name);
                json!({
                    "name": name,
                    "loaded": p.is_some(),
                    "version": p.map(|p| p.info().version.clone()),
                    "sha256": p.map(|p| p.hash.clone()),
                    "loaded_at": p.map(|p| millis(&p.loaded_at)),
                    "file": p.map(|p| p.file.display().to_string()),
                    "inputs": p.map(|p| fields(&p.info().inputs)),
                    "outputs": p.map(|p| fields(&p.info().outputs)),
                    "breaker": p.map(|p| {
                        let b = p.breaker();
                        json!({
                            "state": b.state,
                            "recent_deadline_hits": b.recent_deadline_hits,
                            "retry_in_seconds": b.retry_in.map(|d| d.as_secs_f64()),
                            "trips": b.trips,
                            "refused_calls": b.refused,
                        })
                    }),
                    "last_error": s.and_then(|s| s.last_error.clone()),
                    "last_error_at": s.and_then(|s| s.last_error_at.as_ref().map(millis)),
                })
            })
            .collect();
        json!({"directory": host.dir().display().to_string(), "plugins": list})
    }
}

/// How often, and how far apart, a registry that failed to load on a change is read again.
const TORN_RETRIES: u32 = 20;
const TORN_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Watches the registry file and re-reads it when it changes, with a poll every `ttl` as a
/// fallback for filesystems without change events (`None`: events only). Runs on its own
/// thread, never on the request path; stops when the last other owner drops the core.
pub fn watch_registry(
    core: Arc<FeatureServer>,
    ttl: Option<Duration>,
) -> crate::watch::FileWatcher {
    let path = core.config.registry_path.clone();
    crate::watch::watch_files(&[path], ttl, move || {
        if Arc::strong_count(&core) == 1 {
            return false;
        }
        core.reload();
        // Feast rewrites its registry in place, so a change event can catch the file empty or
        // half written: the reload then failed and kept the old snapshot. Read again shortly,
        // rather than serving the old one until the next poll.
        for _ in 0..TORN_RETRIES {
            if !core.registry_failed() {
                break;
            }
            std::thread::sleep(TORN_RETRY_PAUSE);
            core.reload();
        }
        true
    })
}
