//! Serving a read on the right thread, the same for every front: plain reads on the async
//! worker that received them (a read is a few microseconds of LMDB); a store on the network
//! that can be awaited (Redis) awaited there too; transforms, and stores that block on the
//! network (store adapters), on the blocking pool under a permit.

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Principal;
use crate::serving::error::ServingError;
use crate::serving::response::OnlineResponse;
use crate::serving::server::FeatureServer;
use crate::serving::{OnlineRequest, Snapshot};

/// A read request that owns its parts, so that it can move to the blocking pool with the work.
#[derive(Debug, Clone, Default)]
pub struct OwnedOnlineRequest {
    /// Join key (or request-data) name to its column of values, in request order.
    pub entities: Vec<(String, Vec<serde_json::Value>)>,
    /// A feature service to read instead of `features`.
    pub feature_service: Option<String>,
    /// Feature references `view:feature`.
    pub features: Vec<String>,
    /// Name output columns `view__feature`.
    pub full_feature_names: bool,
}

impl OwnedOnlineRequest {
    /// The request, as the serving functions take it.
    pub fn borrowed(&self) -> OnlineRequest<'_> {
        OnlineRequest {
            entities: &self.entities,
            feature_service: self.feature_service.as_deref(),
            features: &self.features,
            full_feature_names: self.full_feature_names,
        }
    }

    /// How many distinct views the feature refs name (Feast labels latency by it).
    pub fn view_count(&self) -> usize {
        let mut views: Vec<&str> = self
            .features
            .iter()
            .filter_map(|f| f.split_once(':').map(|p| p.0))
            .collect();
        views.sort_unstable();
        views.dedup();
        views.len()
    }
}

/// Entity rows one read may ask for unless `feature_server.max_entity_rows` says otherwise.
/// A response grows with rows × features, and its JSON with it: 700,000 rows of three features
/// made a 297 MB answer and a 1.6 GB peak. Ten thousand rows is more than an online model asks
/// for at once, and keeps the worst response to a few megabytes.
pub(crate) const DEFAULT_MAX_ENTITY_ROWS: usize = 10_000;

/// Reads `feature_server.max_entity_rows` (default [`DEFAULT_MAX_ENTITY_ROWS`]).
pub(crate) fn max_entity_rows(config: &crate::repo::RepoConfig) -> usize {
    config
        .feature_server_usize("max_entity_rows")
        .unwrap_or(DEFAULT_MAX_ENTITY_ROWS)
}

impl FeatureServer {
    /// Feast's `get_online_features` for an authenticated caller, from the current snapshot:
    /// names resolved (404 for an unknown one), then permissions checked, as Feast orders them;
    /// then planned, read and assembled, each on the thread it should run on.
    pub async fn serve_online(
        self: &Arc<Self>,
        caller: Option<&Principal>,
        req: OwnedOnlineRequest,
    ) -> Result<OnlineResponse, ServingError> {
        let snapshot = self.snapshot();
        self.authorize_online_read(
            caller,
            &snapshot,
            req.feature_service.as_deref(),
            &req.features,
        )?;
        let rows = req.entities.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        if rows > self.max_entity_rows {
            return Err(ServingError::detail(
                400,
                format!(
                    "The request asks for {rows} entity rows; at most {} are served per request (feature_server.max_entity_rows): split it into smaller requests",
                    self.max_entity_rows
                ),
            ));
        }
        let now = crate::types::clock::now().timestamp_micros();
        let started = Instant::now();
        let result = self.read_planned(snapshot, req, now).await;
        metrics::histogram!("feast_feature_server_online_store_read_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let resp = result?;
        let rows = resp.columns.first().map_or(0, |c| c.values.len());
        metrics::counter!("feast_online_features_request_total").increment(1);
        metrics::histogram!("feast_online_features_entity_count").record(rows as f64);
        Ok(resp)
    }

    async fn read_planned(
        self: &Arc<Self>,
        snapshot: Arc<Snapshot>,
        req: OwnedOnlineRequest,
        now: i64,
    ) -> Result<OnlineResponse, ServingError> {
        let plan = snapshot.plan(
            req.feature_service.as_deref(),
            &req.features,
            req.full_feature_names,
        )?;
        let transforms = plan.has_transforms();
        if !transforms && !self.store.blocking() {
            return self.get_online_features(&plan, &snapshot, &req.borrowed(), now);
        }
        let prepared = self.prepare_online(&plan, &req.borrowed())?;
        // A store on the network (Redis) is awaited here, holding no thread.
        let got = match self.read_online_async(&plan, &snapshot, &prepared) {
            Some(read) => Some(read.await?),
            None => None,
        };
        match got {
            Some(got) if !transforms => {
                self.finish_online(&plan, &snapshot, &req.borrowed(), prepared, got, now)
            }
            // Plugins run on the blocking pool, bounded: a plugin spinning until its deadline
            // then holds a blocking thread, never one of the few async workers plain reads
            // need. A store adapter reads there too: it may wait on Redis up to its timeout.
            got => {
                let permit = self.plugin_permits.clone().acquire_owned().await;
                let core = self.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let got = match got {
                        Some(got) => got,
                        None => core.read_online(&plan, &snapshot, &prepared)?,
                    };
                    core.finish_online(&plan, &snapshot, &req.borrowed(), prepared, got, now)
                })
                .await
                .unwrap_or_else(|e| Err(ServingError::other(format!("request task failed: {e}"))))
            }
        }
    }
}

impl FeatureServer {
    /// Why the server cannot serve, if it cannot ([`FeatureServer::health_problem`]), checked
    /// on the blocking pool when the store may wait on the network.
    pub async fn health(self: &Arc<Self>) -> Option<String> {
        if !self.store.blocking() {
            return self.health_problem();
        }
        let core = self.clone();
        tokio::task::spawn_blocking(move || core.health_problem())
            .await
            .unwrap_or_else(|e| Some(format!("health check task failed: {e}")))
    }
}
