//! `/materialize` and `/materialize-incremental`: the core's materialization, run on a small
//! pool of blocking threads so reads keep their latency while it works.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;

use crate::http::auth::{Caller, principal};
use crate::http::error::{ApiError, json_response_body};
use crate::http::models::{
    MaterializeIncrementalRequest, MaterializeRequest, Model, parse_bool_param,
};
use crate::http::respond::{Handled, blocking, json, read_request};
use crate::http::state::{AppState, MAX_QUEUED_MATERIALIZATIONS};
use crate::offline::materialize::Job;
use crate::serving::Window;

fn query_flags(query: Option<&str>) -> Result<(bool, bool), ApiError> {
    let mut params: HashMap<&str, &str> = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k, v); // the last one wins, as in FastAPI
    }
    let flag = |name: &str| parse_bool_param(name, params.get(name).copied());
    match (flag("async"), flag("force")) {
        (Ok(a), Ok(f)) => Ok((a, f)),
        (a, f) => {
            let mut details = a.err().unwrap_or_default();
            details.extend(f.err().unwrap_or_default());
            Err(ApiError::validation(&details))
        }
    }
}

/// Runs the jobs on the materialization pool: sync, answering 200 `null`, or async, answering
/// 202 at once (409 if a view is already materializing, unless `force`).
async fn start(state: Arc<AppState>, jobs: Vec<Job>, asynchronous: bool, force: bool) -> Handled {
    let views: Vec<String> = jobs.iter().map(|j| j.view.clone()).collect();
    if asynchronous {
        use std::sync::atomic::Ordering;
        let queued = state.queued_materializations.clone();
        if queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_MATERIALIZATIONS {
            queued.fetch_sub(1, Ordering::SeqCst);
            let body = serde_json::json!({
                "error": format!(
                    "{MAX_QUEUED_MATERIALIZATIONS} async materializations are already queued or running: retry when one has finished"
                ),
            });
            return Ok(json(429, json_response_body(&body)));
        }
        if let Err(busy) = state.core.claim_jobs(&jobs, force) {
            queued.fetch_sub(1, Ordering::SeqCst);
            let quoted: Vec<&str> = busy.iter().map(String::as_str).collect();
            let body = serde_json::json!({
                "error": format!(
                    "Cannot start async materialization \u{2014} the following feature views are already in MATERIALIZING state: {}. Use ?force=true to override.",
                    crate::serving::coerce::python_str_list(&quoted)
                ),
                "feature_views": busy,
            });
            return Ok(json(409, json_response_body(&body)));
        }
        tokio::spawn(async move {
            let outcome = run_on_pool(&state, &jobs).await;
            state.core.release_jobs(&jobs);
            queued.fetch_sub(1, Ordering::SeqCst);
            if let Err(e) = outcome {
                tracing::error!(
                    "async materialization failed: {}",
                    String::from_utf8_lossy(&e.body)
                );
            }
        });
        let body = serde_json::json!({"status": "accepted", "feature_views": views});
        return Ok(json(202, json_response_body(&body)));
    }
    let _ = state.core.claim_jobs(&jobs, true);
    let outcome = run_on_pool(&state, &jobs).await;
    state.core.release_jobs(&jobs);
    outcome?;
    Ok(json(200, b"null".to_vec()))
}

async fn run_on_pool(state: &AppState, jobs: &[Job]) -> Result<(), ApiError> {
    let _permit = state
        .materialize_pool
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::plain(500, "the server is shutting down"))?;
    let core = state.core.clone();
    let jobs = jobs.to_vec();
    blocking("materialization task", move || Ok(core.run_jobs(&jobs)?)).await
}

/// Both routes' request: the `async`/`force` query flags (checked first, as FastAPI does) and
/// the body.
async fn request<T: Model>(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(T, bool, bool), ApiError> {
    let (asynchronous, force) = query_flags(query)?;
    let req = read_request(headers, body, &state.body).await?;
    Ok((req, asynchronous, force))
}

/// `POST /materialize`.
pub async fn materialize(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let (req, asynchronous, force) =
        request::<MaterializeRequest>(&state, query.as_deref(), &headers, body).await?;
    let window = if req.disable_event_timestamp {
        Window::Everything
    } else {
        Window::Explicit {
            start: req.start_ts.as_deref(),
            end: req.end_ts.as_deref(),
        }
    };
    let jobs =
        state
            .core
            .materialize_jobs(principal(&caller), req.feature_views.as_deref(), window)?;
    start(state, jobs, asynchronous, force).await
}

/// `POST /materialize-incremental`.
pub async fn materialize_incremental(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let (req, asynchronous, force) =
        request::<MaterializeIncrementalRequest>(&state, query.as_deref(), &headers, body).await?;
    let jobs = state.core.incremental_jobs(
        principal(&caller),
        req.feature_views.as_deref(),
        &req.end_ts,
    )?;
    start(state, jobs, asynchronous, force).await
}
