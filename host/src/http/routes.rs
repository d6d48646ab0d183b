//! The routes: Feast's feature-server API over the serving core.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::auth::{Caller, authorize_online_read, principal};
use crate::http::error::ApiError;
use crate::http::models::{GetOnlineFeaturesRequest, parse_request};
use crate::http::state::AppState;
use crate::serving::render::render_online_response;
use crate::serving::response::OnlineResponse;
use crate::serving::{OnlineRequest, Plan, ServingError, Snapshot, serve_plan};

/// The OpenAPI description served at `/openapi.json`.
const OPENAPI: &str = include_str!("openapi.json");

/// The application: every route, with Feast's 404 and 405 bodies. The data routes are
/// authenticated (with `auth.type: oidc`); `/health`, `/metrics` and `/openapi.json` stay open,
/// as in Feast.
pub fn router(state: Arc<AppState>) -> Router {
    let data = Router::new()
        .route("/get-online-features", post(online_features))
        .route("/push", post(crate::http::write_routes::push))
        .route("/search", post(crate::http::search_routes::search_route))
        .route(
            "/retrieve-online-documents",
            post(crate::http::search_routes::retrieve_online_documents),
        )
        .route(
            "/materialize",
            post(crate::http::materialize_routes::materialize),
        )
        .route(
            "/materialize-incremental",
            post(crate::http::materialize_routes::materialize_incremental),
        )
        .route(
            "/write-to-online-store",
            post(crate::http::write_routes::write_to_online_store),
        )
        // Not a Feast resource, so no permission applies, but it names files and load errors:
        // with OIDC it takes a valid token.
        .route("/plugins", get(plugins))
        // `route_layer`: only requests that hit one of these routes are authenticated, so an
        // unknown path or method still gets its 404 or 405.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::auth::authenticate,
        ));
    Router::new()
        .merge(data)
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { error_response(ApiError::detail(404, "Not Found")) })
        .method_not_allowed_fallback(|| async {
            error_response(ApiError::detail(405, "Method Not Allowed"))
        })
        .with_state(state)
}

/// A router serving only `/metrics`, for the separate metrics port of `serve --metrics`.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(|| async { metrics_text() }))
        .fallback(|| async { error_response(ApiError::detail(404, "Not Found")) })
}

/// A JSON response.
pub(crate) fn json(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A serving-core error as Feast renders it: its envelope, or a 500 with the message.
pub(crate) fn serving_error(e: ServingError) -> ApiError {
    match e {
        ServingError::Feast {
            status,
            class,
            message,
        } => ApiError::feast(status, class, &message),
        ServingError::Other(message) => ApiError::plain(500, &message),
    }
}

/// Renders an error as Feast does.
pub fn error_response(e: ApiError) -> Response {
    json(e.status, e.body)
}

/// Reads the body (413 over the limit) and parses it as the route's request model (422 with
/// FastAPI's details when it does not fit).
pub(crate) async fn read_request<T: crate::http::models::Model>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, Response> {
    let bytes = read_body(headers, body, limit).await?;
    parse_request(&bytes).map_err(error_response)
}

/// Reads the whole body, refusing one over the limit with 413 (early, from Content-Length,
/// when the client announces it).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, Response> {
    let too_large = || {
        error_response(ApiError::detail(
            413,
            &format!("Request body too large: the limit is {limit} bytes"),
        ))
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Counts a request and its latency under Feast's metric names.
pub(crate) fn record(
    endpoint: &'static str,
    ok: bool,
    started: Instant,
    features: usize,
    views: usize,
) {
    let status = if ok { "success" } else { "error" };
    metrics::counter!("feast_feature_server_request_total", "endpoint" => endpoint, "status" => status)
        .increment(1);
    metrics::histogram!(
        "feast_feature_server_request_latency_seconds",
        "endpoint" => endpoint,
        "feature_count" => features.to_string(),
        "feature_view_count" => views.to_string()
    )
    .record(started.elapsed().as_secs_f64());
}

async fn online_features(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ENDPOINT: &str = "/get-online-features";
    let started = Instant::now();
    let req: GetOnlineFeaturesRequest = match read_request(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(r) => {
            record(ENDPOINT, false, started, 0, 0);
            return r;
        }
    };
    // Feast labels latency by how many features and views were asked for.
    let feature_count = req.features.len();
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
    let snapshot = state.snapshot();
    // Feast resolves what the request reads (404 for unknown names) before checking
    // permissions, and skips both when there is no security manager.
    if let Err(e) = authorize_online_read(
        &state,
        principal(&caller),
        &snapshot,
        req.feature_service.as_deref(),
        &req.features,
    ) {
        record(ENDPOINT, false, started, feature_count, view_count);
        return error_response(e);
    }
    let now = crate::types::clock::now().timestamp_micros();
    let read_started = Instant::now();
    let result = match snapshot.plan(
        req.feature_service.as_deref(),
        &req.features,
        req.full_feature_names,
    ) {
        Err(e) => Err(e),
        // Plugins run on the blocking pool, bounded: a plugin spinning until its deadline then
        // holds a blocking thread, never one of the few async workers plain reads need.
        // A store adapter may wait on the network (Redis) for up to its timeout.
        Ok(plan) if plan.has_transforms() || state.store.blocking() => {
            let permit = state.transform_pool.clone().acquire_owned().await;
            let state = state.clone();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                serve_request(&plan, &snapshot, &state, &req, now)
            })
            .await
            .unwrap_or_else(|e| Err(ServingError::Other(format!("request task failed: {e}"))))
        }
        Ok(plan) => serve_request(&plan, &snapshot, &state, &req, now),
    };
    metrics::histogram!("feast_feature_server_online_store_read_duration_seconds")
        .record(read_started.elapsed().as_secs_f64());
    let response = match result {
        Ok(resp) => {
            let rows = resp.columns.first().map_or(0, |c| c.values.len());
            metrics::counter!("feast_online_features_request_total").increment(1);
            metrics::histogram!("feast_online_features_entity_count").record(rows as f64);
            let mut out = Vec::with_capacity(256 + rows * resp.columns.len() * 48);
            match render_online_response(&resp, &mut out) {
                Ok(()) => Ok(json(200, out)),
                Err(e) => Err(ApiError::plain(500, &e.to_string())),
            }
        }
        Err(e) => Err(serving_error(e)),
    };
    record(
        ENDPOINT,
        response.is_ok(),
        started,
        feature_count,
        view_count,
    );
    response.unwrap_or_else(error_response)
}

fn serve_request(
    plan: &Plan,
    snapshot: &Snapshot,
    state: &AppState,
    req: &GetOnlineFeaturesRequest,
    now: i64,
) -> Result<OnlineResponse, ServingError> {
    let request = OnlineRequest {
        entities: &req.entities,
        feature_service: req.feature_service.as_deref(),
        features: &req.features,
        full_feature_names: req.full_feature_names,
    };
    serve_plan(
        plan,
        snapshot,
        state.store.as_ref(),
        state.plugins.as_deref(),
        &request,
        now,
    )
}

/// `GET /plugins`: every plugin of the plugins directory, loaded or failed: name, version,
/// content hash, when it was loaded, what it reads and returns, and its last load error.
async fn plugins(State(state): State<Arc<AppState>>) -> Response {
    use serde_json::{Value as J, json};
    let Some(host) = &state.plugins else {
        return json(200, br#"{"plugins":[]}"#.to_vec());
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
                "loaded_at": p.map(|p| p.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "file": p.map(|p| p.file.display().to_string()),
                "inputs": p.map(|p| fields(&p.info().inputs)),
                "outputs": p.map(|p| fields(&p.info().outputs)),
                "last_error": s.and_then(|s| s.last_error.clone()),
                "last_error_at": s.and_then(|s| s.last_error_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))),
            })
        })
        .collect();
    let body = json!({"directory": host.dir().display().to_string(), "plugins": list});
    json(200, body.to_string().into_bytes())
}

/// 200 when the registry and the store can be read, else 503 (bodies empty, as Feast's).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let problem = if state.store.blocking() {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.health_problem())
            .await
            .unwrap_or_else(|e| Some(format!("health check task failed: {e}")))
    } else {
        state.health_problem()
    };
    match problem {
        None => StatusCode::OK.into_response(),
        Some(problem) => {
            tracing::warn!("health check failed: {problem}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn metrics_text() -> Response {
    let text = crate::http::metrics::render();
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn metrics() -> Response {
    metrics_text()
}

async fn openapi() -> Response {
    json(200, OPENAPI.as_bytes().to_vec())
}

/// Adds a line per request on stderr, as uvicorn's access log: peer, request line, status and
/// latency.
pub fn with_access_log(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(access_log))
}

async fn access_log(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let peer = req
        .extensions()
        .get::<crate::http::server::Peer>()
        .map_or_else(|| "-".to_string(), |p| p.0.to_string());
    let line = format!("{} {} {:?}", req.method(), req.uri(), req.version());
    let response = next.run(req).await;
    eprintln!(
        "{peer} \"{line}\" {} {:.3}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
