//! The write routes: `/push` and `/write-to-online-store` (spec §2.1, §2.2, §7).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::http::auth::{Caller, authorize};
use crate::http::error::ApiError;
use crate::http::models::{PushRequest, WriteToOnlineStoreRequest};
use crate::http::routes::serving_error;
use crate::http::routes::{error_response, json, read_request};
use crate::http::state::AppState;
use crate::registry::Action;
use crate::registry::{FeatureView, SourceKind};
use crate::serving::write::{
    Columns, TimestampNames, columns_of, prepare_frame, write_frame, write_rows,
};

/// Runs a write off the async workers: it waits for an fsync.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::plain(500, &format!("the write task failed: {e}"))))
}

/// `POST /push`: rows for every feature view fed by a push source, online, offline or both.
pub async fn push(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ENDPOINT: &str = "/push";
    let started = Instant::now();
    let req: PushRequest = match read_request(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mode = req.to.clone();
    let principal = caller.map(|axum::Extension(p)| p);
    let result = blocking(move || push_blocking(&state, principal.as_deref(), req)).await;
    metrics::counter!("feast_push_request_total", "push_source" => "", "mode" => mode).increment(1);
    crate::http::routes::record(ENDPOINT, result.is_ok(), started, 0, 0);
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error_response(e),
    }
}

fn push_blocking(
    state: &AppState,
    caller: Option<&Principal>,
    req: PushRequest,
) -> Result<(), ApiError> {
    // The actions in Feast's order (`WRITE` is `[WRITE_OFFLINE, WRITE_ONLINE]`), which its
    // denial message lists.
    let (online, offline, actions): (bool, bool, &[Action]) = match req.to.as_str() {
        "online" => (true, false, &[Action::WriteOnline]),
        "offline" => (false, true, &[Action::WriteOffline]),
        "online_and_offline" => (true, true, &[Action::WriteOffline, Action::WriteOnline]),
        other => {
            return Err(ApiError::plain(
                500,
                &format!(
                    "{other} is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline']."
                ),
            ));
        }
    };
    let snapshot = state.snapshot();
    let registry = &snapshot.registry;
    let views: Vec<&FeatureView> = registry
        .feature_views
        .values()
        .map(|v| &v.spec)
        .filter(|v| v.stream_source.as_deref() == Some(req.push_source_name.as_str()))
        .collect();
    if views.is_empty() {
        return Err(ApiError::feast(
            422,
            "PushSourceNotFoundException",
            &format!("Unable to find push source '{}'.", req.push_source_name),
        ));
    }
    let resources: Vec<_> = views
        .iter()
        .filter_map(|v| crate::auth::resources::feature_view(registry, &v.name))
        .collect();
    authorize(state, caller, &snapshot, &resources, actions)?;
    let df = columns_of(&req.df).map_err(serving_error)?;
    // Every check before any write: a push that fails writes nothing, online or offline.
    let prepared = if online {
        views
            .iter()
            .map(|v| prepare_frame(registry, v, &df, TimestampNames::Source))
            .collect::<Result<Vec<_>, _>>()
            .map_err(serving_error)?
    } else {
        Vec::new()
    };
    if offline {
        append_offline(state, registry, &views, &df)?;
    }
    for (view, rows) in views.iter().zip(&prepared) {
        write_rows(registry, state.store.as_ref(), view, rows).map_err(serving_error)?;
    }
    Ok(())
}

/// Appends the rows to each distinct batch source of the views, once per source (two views
/// fed by one push source and one batch source must not store the rows twice).
fn append_offline(
    state: &AppState,
    registry: &crate::registry::Registry,
    views: &[&FeatureView],
    df: &Columns,
) -> Result<(), ApiError> {
    let mut done: Vec<&str> = Vec::new();
    for view in views {
        if done.contains(&view.batch_source.as_str()) {
            continue;
        }
        done.push(&view.batch_source);
        let Some(SourceKind::File { path, .. }) = registry
            .data_sources
            .get(&view.batch_source)
            .map(|s| &s.spec.kind)
        else {
            return Err(ApiError::plain(
                500,
                &format!(
                    "feature view {} has no file batch source to push offline to",
                    view.name
                ),
            ));
        };
        let full = state.config.repo_path.join(path);
        crate::offline::push::append_rows(&full, df)
            .map_err(|e| ApiError::plain(500, &e.to_string()))?;
    }
    Ok(())
}

/// `POST /write-to-online-store`: rows for one feature view, online (200 with body `null`).
pub async fn write_to_online_store(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ENDPOINT: &str = "/write-to-online-store";
    let started = Instant::now();
    let req: WriteToOnlineStoreRequest = match read_request(&headers, body, state.body_limit).await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let principal = caller.map(|axum::Extension(p)| p);
    let result = blocking(move || {
        let snapshot = state.snapshot();
        let registry = &snapshot.registry;
        let name = req.feature_view_name.as_str();
        let resource = crate::auth::resources::feature_view(registry, name)
            .or_else(|| crate::auth::resources::on_demand_view(registry, name));
        if let Some(resource) = resource {
            authorize(&state, principal.as_deref(), &snapshot, &[resource], &[Action::WriteOnline])?;
        }
        let view = match (
            registry.feature_views.get(name),
            registry.on_demand_feature_views.get(name),
        ) {
            (Some(v), _) => v.spec.clone(),
            // Its values are stored: written like a feature view's, outputs as columns.
            (None, Some(o)) if o.spec.write_to_online_store => registry.stored_odfv_view(&o.spec),
            (None, Some(_)) => {
                return Err(ApiError::plain(
                    500,
                    &format!(
                        "on demand feature view {name} is computed at request time (write_to_online_store is false): there is nothing to write"
                    ),
                ));
            }
            (None, None) => {
                return Err(ApiError::feast(
                    404,
                    "FeastObjectNotFoundException",
                    &format!("Can't recognize feast object with a name {name}"),
                ));
            }
        };
        let df = columns_of(&req.df).map_err(serving_error)?;
        write_frame(registry, state.store.as_ref(), &view, &df, TimestampNames::SourceOrSdk)
            .map_err(serving_error)?;
        Ok(())
    })
    .await;
    crate::http::routes::record(ENDPOINT, result.is_ok(), started, 0, 0);
    match result {
        Ok(()) => json(200, b"null".to_vec()),
        Err(e) => error_response(e),
    }
}
