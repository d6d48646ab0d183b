//! The router: Feast's feature-server API, one handler per route in the `*_routes` files.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::{materialize_routes, online_routes, ops_routes, search_routes, write_routes};

/// The application: every route, with Feast's 404 and 405 bodies. The data routes are
/// authenticated (with `auth.type: oidc`); `/health`, `/metrics` and `/openapi.json` stay open,
/// as in Feast.
pub fn router(state: Arc<AppState>) -> Router {
    let data = Router::new()
        .route(
            "/get-online-features",
            post(online_routes::get_online_features),
        )
        .route("/push", post(write_routes::push))
        .route("/search", post(search_routes::search))
        .route(
            "/retrieve-online-documents",
            post(search_routes::retrieve_online_documents),
        )
        .route("/materialize", post(materialize_routes::materialize))
        .route(
            "/materialize-incremental",
            post(materialize_routes::materialize_incremental),
        )
        .route(
            "/write-to-online-store",
            post(write_routes::write_to_online_store),
        )
        // Not a Feast resource, so no permission applies, but it names files and load errors:
        // with OIDC it takes a valid token.
        .route("/plugins", get(ops_routes::plugins))
        // `route_layer`: only requests that hit one of these routes are authenticated, so an
        // unknown path or method still gets its 404 or 405.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::auth::authenticate,
        ));
    Router::new()
        .merge(data)
        .route("/health", get(ops_routes::health))
        .route("/metrics", get(ops_routes::metrics))
        .route("/openapi.json", get(ops_routes::openapi))
        .fallback(|| async { ApiError::detail(404, "Not Found") })
        .method_not_allowed_fallback(|| async { ApiError::detail(405, "Method Not Allowed") })
        .with_state(state)
}

/// A router serving only `/metrics`, for the separate metrics port of `serve --metrics`.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(ops_routes::metrics))
        .fallback(|| async { ApiError::detail(404, "Not Found") })
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
    let response = next.run(req).await.into_response();
    eprintln!(
        "{peer} \"{line}\" {} {:.3}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
