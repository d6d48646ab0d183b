//! The document search routes: `/search` and its deprecated alias
//! `/retrieve-online-documents` (spec §2.5), one handler with two metric labels.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::http::auth::{Caller, authorize_online_read, principal};
use crate::http::error::ApiError;
use crate::http::models::{Filter as RequestFilter, GetOnlineDocumentsRequest};
use crate::http::routes::{error_response, json, read_request, record, serving_error};
use crate::http::state::AppState;
use crate::serving::render::render_online_response;
use crate::serving::search::{SearchError, SearchRequest, search};
use crate::vector::filter::{Filter, Op};
use crate::vector::index::Indexes;

/// What the search routes keep between requests.
pub struct SearchState {
    /// The in-memory vectors, per view, built on first use.
    pub indexes: Indexes,
    /// Four searches per core at most, each on a blocking thread: a burst of requests cannot
    /// grow the blocking pool without bound. Not one per core: scans that overlap on a core
    /// share the vectors they stream through its caches, and measured on 2 cores at c=8 (see
    /// BENCHMARKS.md), 8 scans at once served 172 req/s where 2 at a time served 131.
    pub permits: Arc<tokio::sync::Semaphore>,
}

impl Default for SearchState {
    fn default() -> SearchState {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SearchState {
            indexes: Indexes::new(),
            permits: Arc::new(tokio::sync::Semaphore::new(cores * 4)),
        }
    }
}

/// `POST /search`.
pub async fn search_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    documents(state, caller, headers, body, "/search").await
}

/// `POST /retrieve-online-documents`: the same as `/search` (Feast logs a deprecation).
pub async fn retrieve_online_documents(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    tracing::warn!("POST /retrieve-online-documents is deprecated; use POST /search instead.");
    documents(state, caller, headers, body, "/retrieve-online-documents").await
}

/// Loads the vectors of every view with a vector field on a background thread, so the first
/// search does not pay for it (about 0.7 s for 100,000 × 384 here). A search that comes
/// first waits for the load under the view's lock instead of loading it a second time.
pub fn warm_up(state: &Arc<AppState>) {
    let state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("vector-warm-up".into())
        .spawn(move || {
            let snapshot = state.snapshot();
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
                    state
                        .search
                        .indexes
                        .current(state.store.as_ref(), table, &field.name, spec)
                {
                    tracing::warn!("cannot load the vectors of {}: {e:#}", view.name);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("vectors will load on first search: {e}");
    }
}

/// The request's filter in the core's terms; the models checked the operators already.
fn filter(f: &RequestFilter) -> Result<Filter, ApiError> {
    Ok(match f {
        RequestFilter::Comparison { op, key, value } => Filter::Comparison {
            op: Op::parse(op)
                .ok_or_else(|| ApiError::detail(400, &format!("unknown filter operator `{op}`")))?,
            key: key.clone(),
            value: value.clone(),
        },
        RequestFilter::Compound { op, filters } => Filter::Compound {
            all: op == "and",
            filters: filters.iter().map(filter).collect::<Result<_, _>>()?,
        },
    })
}

fn search_error(e: SearchError) -> ApiError {
    match e {
        SearchError::Serving(e) => serving_error(e),
        SearchError::BadRequest(message) => ApiError::detail(400, &message),
    }
}

async fn documents(
    state: Arc<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    endpoint: &'static str,
) -> Response {
    let started = Instant::now();
    let req: GetOnlineDocumentsRequest = match read_request(&headers, body, state.body_limit).await
    {
        Ok(r) => r,
        Err(r) => {
            record(endpoint, false, started, 0, 0);
            return r;
        }
    };
    let snapshot = state.snapshot();
    // READ_ONLINE on what the search reads, as for get-online-features (spec §9.5).
    if let Err(e) = authorize_online_read(
        &state,
        principal(&caller),
        &snapshot,
        req.feature_service.as_deref(),
        &req.features,
    ) {
        record(endpoint, false, started, req.features.len(), 1);
        return error_response(e);
    }
    let feature_count = req.features.len();
    // A search scores every vector of the view: milliseconds of CPU, kept off the async
    // workers, a bounded number at a time.
    let permit = state.search.permits.clone().acquire_owned().await;
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let filters = req.filters.as_ref().map(filter).transpose()?;
        let request = SearchRequest {
            feature_service: req.feature_service.as_deref(),
            features: &req.features,
            top_k: req.top_k,
            query: req.query.as_deref(),
            query_string: req.query_string.as_deref(),
            distance_metric: req.distance_metric.as_deref(),
            api_version: req.api_version,
            filters: filters.as_ref(),
        };
        let response = search(
            &snapshot.registry,
            state.store.as_ref(),
            &state.search.indexes,
            &request,
        )
        .map_err(search_error)?;
        let mut out = Vec::with_capacity(1024);
        render_online_response(&response, &mut out)
            .map_err(|e| ApiError::plain(500, &e.to_string()))?;
        Ok(out)
    })
    .await
    .unwrap_or_else(|e| {
        Err(ApiError::plain(
            500,
            &format!("the search task failed: {e}"),
        ))
    });
    record(endpoint, result.is_ok(), started, feature_count, 1);
    match result {
        Ok(body) => json(200, body),
        Err(e) => error_response(e),
    }
}
