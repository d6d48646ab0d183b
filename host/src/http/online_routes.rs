//! `POST /get-online-features`: parse, authorize, plan, serve on the right thread, render.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;

use crate::http::auth::{Caller, principal};
use crate::http::error::ApiError;
use crate::http::metrics::RequestTimer;
use crate::http::models::GetOnlineFeaturesRequest;
use crate::http::respond::{Handled, json, read_request};
use crate::http::state::AppState;
use crate::serving::render::render_online_response;
use crate::serving::{OnlineRequest, ServingError};

/// The request, as the serving core takes it.
fn online_request(req: &GetOnlineFeaturesRequest) -> OnlineRequest<'_> {
    OnlineRequest {
        entities: &req.entities,
        feature_service: req.feature_service.as_deref(),
        features: &req.features,
        full_feature_names: req.full_feature_names,
    }
}

/// The handler. Plain reads run on the async worker that received them (a read is a few
/// microseconds of LMDB); a store on the network that can be awaited (Redis) is awaited
/// there too; transforms, and stores that block on the network (store adapters), move to
/// the blocking pool under a permit.
pub async fn get_online_features(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let mut timer = RequestTimer::start("/get-online-features");
    let req: GetOnlineFeaturesRequest = read_request(&headers, body, state.body_limit).await?;
    // Feast labels latency by how many features and views were asked for.
    let view_count = {
        let mut views: Vec<&str> = req
            .features
            .iter()
            .filter_map(|f| f.split_once(':').map(|p| p.0))
            .collect();
        views.sort_unstable();
        views.dedup();
        views.len()
    };
    timer.labels(req.features.len(), view_count);
    let core = &state.core;
    let snapshot = core.snapshot();
    // Feast resolves what the request reads (404 for unknown names) before checking
    // permissions, and skips both when there is no security manager.
    core.authorize_online_read(
        principal(&caller),
        &snapshot,
        req.feature_service.as_deref(),
        &req.features,
    )?;
    let now = crate::types::clock::now().timestamp_micros();
    let read_started = Instant::now();
    let plan = snapshot.plan(
        req.feature_service.as_deref(),
        &req.features,
        req.full_feature_names,
    )?;
    let transforms = plan.has_transforms();
    let result = if !transforms && !core.store.blocking() {
        core.get_online_features(&plan, &snapshot, &online_request(&req), now)
    } else {
        let prepared = core.prepare_online(&plan, &online_request(&req))?;
        // A store on the network (Redis) is awaited here, holding no thread.
        let got = match core.read_online_async(&plan, &snapshot, &prepared) {
            Some(read) => Some(read.await?),
            None => None,
        };
        match got {
            Some(got) if !transforms => {
                core.finish_online(&plan, &snapshot, &online_request(&req), prepared, got, now)
            }
            // Plugins run on the blocking pool, bounded: a plugin spinning until its deadline
            // then holds a blocking thread, never one of the few async workers plain reads
            // need. A store adapter reads there too: it may wait on Redis up to its timeout.
            got => {
                let permit = state.transform_pool.clone().acquire_owned().await;
                let core = core.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let got = match got {
                        Some(got) => got,
                        None => core.read_online(&plan, &snapshot, &prepared)?,
                    };
                    core.finish_online(&plan, &snapshot, &online_request(&req), prepared, got, now)
                })
                .await
                .unwrap_or_else(|e| Err(ServingError::other(format!("request task failed: {e}"))))
            }
        }
    };
    metrics::histogram!("feast_feature_server_online_store_read_duration_seconds")
        .record(read_started.elapsed().as_secs_f64());
    let resp = result?;
    let rows = resp.columns.first().map_or(0, |c| c.values.len());
    metrics::counter!("feast_online_features_request_total").increment(1);
    metrics::histogram!("feast_online_features_entity_count").record(rows as f64);
    let mut out = Vec::with_capacity(256 + rows * resp.columns.len() * 48);
    render_online_response(&resp, &mut out).map_err(|e| ApiError::plain(500, &e.to_string()))?;
    Ok(timer.succeeded(json(200, out)))
}
