//! The document search routes: `/search` and its deprecated alias
//! `/retrieve-online-documents`, one handler with two metric labels.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;

use crate::http::auth::{Caller, principal};
use crate::http::error::ApiError;
use crate::http::metrics::RequestTimer;
use crate::http::models::{Filter as RequestFilter, GetOnlineDocumentsRequest};
use crate::http::respond::{Handled, blocking, json, read_request};
use crate::http::state::AppState;
use crate::serving::render::render_online_response;
use crate::serving::search::SearchRequest;
use crate::vector::filter::{Filter, Op};

/// `POST /search`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    documents(state, caller, headers, body, "/search").await
}

/// `POST /retrieve-online-documents`: the same as `/search` (Feast logs a deprecation).
pub async fn retrieve_online_documents(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    tracing::warn!("POST /retrieve-online-documents is deprecated; use POST /search instead.");
    documents(state, caller, headers, body, "/retrieve-online-documents").await
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

async fn documents(
    state: Arc<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    endpoint: &'static str,
) -> Handled {
    let mut timer = RequestTimer::start(endpoint);
    let req: GetOnlineDocumentsRequest = read_request(&headers, body, &state.body).await?;
    timer.labels(req.features.len(), 1);
    let core = state.core.clone();
    let snapshot = core.snapshot();
    // READ_ONLINE on what the search reads, as for get-online-features.
    core.authorize_online_read(
        principal(&caller),
        &snapshot,
        req.feature_service.as_deref(),
        &req.features,
    )?;
    // A search scores every vector of the view: milliseconds of CPU, kept off the async
    // workers, a bounded number at a time.
    let permit = state.search_permits.clone().acquire_owned().await;
    let out = blocking("the search task", move || {
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
        let response = core.search(&snapshot, &request)?;
        let mut out = Vec::with_capacity(1024);
        render_online_response(&response, &mut out)
            .map_err(|e| ApiError::plain(500, &e.to_string()))?;
        Ok(out)
    })
    .await?;
    Ok(timer.succeeded(json(200, out)))
}
