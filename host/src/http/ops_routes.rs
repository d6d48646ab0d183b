//! The operational routes: `/health`, `/metrics`, `/openapi.json` and `/plugins`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::respond::json;
use crate::http::state::AppState;

/// The OpenAPI description served at `/openapi.json`.
const OPENAPI: &str = include_str!("openapi.json");

/// `GET /plugins`: every plugin of the plugins directory, loaded or failed.
pub async fn plugins(State(state): State<Arc<AppState>>) -> Response {
    json(200, state.core.plugin_report().to_string().into_bytes())
}

/// `GET /health`: 200 when the registry and the store can be read, else 503 (bodies empty,
/// as Feast's).
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.core.health().await {
        None => StatusCode::OK.into_response(),
        Some(problem) => {
            tracing::warn!("health check failed: {problem}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics() -> Response {
    let mut r = Response::new(Body::from(crate::http::metrics::render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    json(200, OPENAPI.as_bytes().to_vec())
}
