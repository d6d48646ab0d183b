//! The HTTP side of access control: a middleware that authenticates the data routes and puts
//! the [`Principal`] in the request. The checks themselves are the core's
//! (`FeatureServer::authorize`), called by each route once it knows what it touches.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The principal of an authenticated request; absent when the server runs with `no_auth`.
pub type Caller = Option<axum::Extension<Arc<Principal>>>;

/// Authenticates a data route (Feast's `inject_user_details` dependency): with `oidc`, a
/// request without a valid bearer token is answered 401 before its body is even read, as
/// FastAPI resolves the dependency before validating the body. With `no_auth`, nothing is
/// read.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(authenticator) = state.core.authenticator.as_ref() else {
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match authenticator.authenticate(header).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => {
            // The reason, never the token: tokens are credentials.
            tracing::debug!("{} {}: 401, {e}", req.method(), req.uri().path());
            metrics::counter!("edgefeat_auth_rejected_total").increment(1);
            ApiError::detail(401, e.detail()).into_response()
        }
    }
}

/// The principal in a [`Caller`].
pub fn principal(caller: &Caller) -> Option<&Principal> {
    caller.as_ref().map(|axum::Extension(p)| p.as_ref())
}

/// The principal in a [`Caller`], owned, for a closure sent to another thread.
pub fn owned_principal(caller: Caller) -> Option<Arc<Principal>> {
    caller.map(|axum::Extension(p)| p)
}
