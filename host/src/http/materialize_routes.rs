//! `/materialize` and `/materialize-incremental` (spec §2.3, §2.4): the CLI's materialization,
//! run on a small blocking pool so reads keep their latency while it works.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::http::auth::{Caller, authorize, principal};
use crate::http::error::ApiError;
use crate::http::models::{MaterializeIncrementalRequest, MaterializeRequest, parse_bool_param};
use crate::http::routes::{error_response, json, read_request};
use crate::http::state::AppState;
use crate::offline::materialize::{
    Job, NoProgress, incremental_start, record_interval, run_job, select_views,
};
use crate::registry::Action;
use crate::types::clock;
use crate::types::time::{format_python, parse_timestamp};

/// How many materializations run at once (Feast's `FEAST_MATERIALIZE_MAX_WORKERS`, default 2,
/// at least 1). Each holds a blocking thread; the limit keeps the cores for reads.
pub fn max_workers() -> usize {
    std::env::var("FEAST_MATERIALIZE_MAX_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2)
        .max(1)
}

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

fn timestamp(text: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_timestamp(text).map_err(|e| ApiError::plain(500, &e))
}

/// The views named (checked as Feast does: unknown is 404), or every eligible view.
fn resolve(state: &AppState, names: Option<&[String]>) -> Result<Vec<String>, ApiError> {
    let snapshot = state.snapshot();
    let registry = &snapshot.registry;
    let project = &registry.project.spec.name;
    let names = names.unwrap_or(&[]);
    for name in names {
        if !registry.feature_views.contains_key(name)
            && !registry.on_demand_feature_views.contains_key(name)
        {
            return Err(ApiError::feast(
                404,
                "FeatureViewNotFoundException",
                &format!("Feature view {name} does not exist in project {project}"),
            ));
        }
    }
    select_views(registry, names)
        .map(|views| views.iter().map(|v| v.spec.name.clone()).collect())
        .map_err(|e| ApiError::plain(500, &e.to_string()))
}

/// Feast's `_authorize_materialize_views`: WRITE_ONLINE on each view to be materialized.
fn authorize_views(state: &AppState, caller: &Caller, names: &[String]) -> Result<(), ApiError> {
    let snapshot = state.snapshot();
    let resources: Vec<_> = names
        .iter()
        .filter_map(|n| crate::auth::resources::feature_view(&snapshot.registry, n))
        .collect();
    authorize(
        state,
        principal(caller),
        &snapshot,
        &resources,
        &[Action::WriteOnline],
    )
}

/// The views currently being materialized by this server.
#[derive(Default)]
pub struct Running {
    views: std::sync::Mutex<BTreeSet<String>>,
}

impl Running {
    /// Marks `views` as materializing; with `force`, even those already marked.
    fn claim(&self, views: &[String], force: bool) -> Result<(), Vec<String>> {
        let mut running = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let busy: Vec<String> = views
            .iter()
            .filter(|v| running.contains(*v))
            .cloned()
            .collect();
        if !busy.is_empty() && !force {
            return Err(busy);
        }
        running.extend(views.iter().cloned());
        Ok(())
    }

    fn release(&self, views: &[String]) {
        let mut running = self.views.lock().unwrap_or_else(|p| p.into_inner());
        for v in views {
            running.remove(v);
        }
    }
}

/// Runs the jobs on the materialization pool: sync, answering 200 `null`, or async, answering
/// 202 at once (409 if a view is already materializing, unless `force`).
async fn start(state: Arc<AppState>, jobs: Vec<Job>, asynchronous: bool, force: bool) -> Response {
    let views: Vec<String> = jobs.iter().map(|j| j.view.clone()).collect();
    if asynchronous {
        if let Err(busy) = state.running.claim(&views, force) {
            let quoted: Vec<&str> = busy.iter().map(String::as_str).collect();
            let body = serde_json::json!({
                "error": format!(
                    "Cannot start async materialization \u{2014} the following feature views are already in MATERIALIZING state: {}. Use ?force=true to override.",
                    crate::serving::coerce::python_str_list(&quoted)
                ),
                "feature_views": busy,
            });
            return json(409, crate::http::error::json_response_body(&body));
        }
        let task_state = state.clone();
        let task_views = views.clone();
        tokio::spawn(async move {
            let outcome = run_on_pool(task_state.clone(), jobs).await;
            task_state.running.release(&task_views);
            if let Err(e) = outcome {
                tracing::error!(
                    "async materialization failed: {}",
                    String::from_utf8_lossy(&e.body)
                );
            }
        });
        let body = serde_json::json!({"status": "accepted", "feature_views": views});
        return json(202, crate::http::error::json_response_body(&body));
    }
    let _ = state.running.claim(&views, true);
    let outcome = run_on_pool(state.clone(), jobs).await;
    state.running.release(&views);
    match outcome {
        Ok(()) => json(200, b"null".to_vec()),
        Err(e) => error_response(e),
    }
}

async fn run_on_pool(state: Arc<AppState>, jobs: Vec<Job>) -> Result<(), ApiError> {
    let _permit = state
        .materialize_pool
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::plain(500, "the server is shutting down"))?;
    tokio::task::spawn_blocking(move || {
        let snapshot = state.snapshot();
        for job in &jobs {
            let Some(view) = snapshot.registry.feature_views.get(&job.view) else {
                continue;
            };
            run_job(
                &state.config.repo_path,
                &snapshot.registry,
                state.store.as_ref(),
                job,
                &mut NoProgress,
            )
            .map_err(|e| ApiError::plain(500, &format!("{e:#}")))?;
            record_interval(&state.config.registry_path, &view.spec, job)
                .map_err(|e| ApiError::plain(500, &format!("{e:#}")))?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| {
        Err(ApiError::plain(
            500,
            &format!("materialization task failed: {e}"),
        ))
    })
}

/// Both routes' request: the `async`/`force` query flags (checked first, as FastAPI does) and
/// the body.
async fn request<T: crate::http::models::Model>(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(T, bool, bool), Response> {
    let (asynchronous, force) = query_flags(query).map_err(error_response)?;
    let req = read_request(headers, body, state.body_limit).await?;
    Ok((req, asynchronous, force))
}

/// `POST /materialize`.
pub async fn materialize(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (req, asynchronous, force) =
        match request::<MaterializeRequest>(&state, query.as_deref(), &headers, body).await {
            Ok(parsed) => parsed,
            Err(r) => return r,
        };
    let jobs = (|| {
        let views = resolve(&state, req.feature_views.as_deref())?;
        authorize_views(&state, &caller, &views)?;
        let (start, end) = if req.disable_event_timestamp {
            (DateTime::UNIX_EPOCH, clock::now())
        } else {
            match (&req.start_ts, &req.end_ts) {
                (Some(s), Some(e)) => (timestamp(s)?, timestamp(e)?),
                _ => {
                    return Err(ApiError::plain(
                        500,
                        "start_ts and end_ts are required unless disable_event_timestamp is true",
                    ));
                }
            }
        };
        if start >= end {
            return Err(ApiError::plain(
                500,
                &format!(
                    "start_ts ({}) must be before end_ts ({})",
                    format_python(start),
                    format_python(end)
                ),
            ));
        }
        Ok(views
            .into_iter()
            .map(|view| Job { view, start, end })
            .collect::<Vec<_>>())
    })();
    match jobs {
        Ok(jobs) => start(state, jobs, asynchronous, force).await,
        Err(e) => error_response(e),
    }
}

/// `POST /materialize-incremental`.
pub async fn materialize_incremental(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (req, asynchronous, force) =
        match request::<MaterializeIncrementalRequest>(&state, query.as_deref(), &headers, body)
            .await
        {
            Ok(parsed) => parsed,
            Err(r) => return r,
        };
    let jobs = (|| {
        let names = resolve(&state, req.feature_views.as_deref())?;
        authorize_views(&state, &caller, &names)?;
        let end = timestamp(&req.end_ts)?;
        let snapshot = state.snapshot();
        let now = clock::now();
        Ok(names
            .into_iter()
            .filter_map(|view| {
                let start = incremental_start(snapshot.registry.feature_views.get(&view)?, now);
                (start < end).then_some(Job { view, start, end })
            })
            .collect::<Vec<_>>())
    })();
    match jobs {
        Ok(jobs) => start(state, jobs, asynchronous, force).await,
        Err(e) => error_response(e),
    }
}
