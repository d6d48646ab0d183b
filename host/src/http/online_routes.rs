//! `POST /get-online-features`: parse, hand to the core (which authorizes, plans and serves on
//! the right thread), render.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;

use crate::http::auth::{Caller, principal};
use crate::http::error::ApiError;
use crate::http::metrics::RequestTimer;
use crate::http::models::GetOnlineFeaturesRequest;
use crate::http::respond::{Handled, json, read_request};
use crate::http::state::AppState;
use crate::serving::OwnedOnlineRequest;
use crate::serving::render::render_online_response;

/// The handler.
pub async fn get_online_features(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let mut timer = RequestTimer::start("/get-online-features");
    let req: GetOnlineFeaturesRequest = read_request(&headers, body, &state.body).await?;
    let req = OwnedOnlineRequest {
        entities: req.entities,
        feature_service: req.feature_service,
        features: req.features,
        full_feature_names: req.full_feature_names,
    };
    // Feast labels latency by how many features and views were asked for.
    timer.labels(req.features.len(), req.view_count());
    let resp = state.core.serve_online(principal(&caller), req).await?;
    let rows = resp.columns.first().map_or(0, |c| c.values.len());
    let mut out = Vec::with_capacity(256 + rows * resp.columns.len() * 48);
    render_online_response(&resp, &mut out).map_err(|e| ApiError::plain(500, &e.to_string()))?;
    Ok(timer.succeeded(json(200, out)))
}
