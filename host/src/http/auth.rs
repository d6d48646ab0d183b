//! The HTTP side of access control: a middleware that authenticates the data routes and puts
//! the [`Principal`] in the request, and [`authorize`], which each route calls once it has
//! resolved the registry objects it touches. The decisions themselves live in `crate::auth`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::{Principal, Resource};
use crate::http::error::ApiError;
use crate::http::routes::error_response;
use crate::http::state::AppState;
use crate::registry::Action;
use crate::serving::Snapshot;

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
    let Some(authenticator) = state.authenticator.as_ref() else {
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
            error_response(ApiError::detail(401, e.detail()))
        }
    }
}

/// READ_ONLINE on what a read names (get-online-features, search). As Feast, the names are
/// resolved first (404 for an unknown one) and both steps are skipped without a security
/// manager.
pub fn authorize_online_read(
    state: &AppState,
    caller: Option<&Principal>,
    snapshot: &Snapshot,
    feature_service: Option<&str>,
    features: &[String],
) -> Result<(), ApiError> {
    if state.authenticator.is_none() {
        return Ok(());
    }
    let resources =
        crate::auth::resources::online_read(&snapshot.registry, feature_service, features)
            .map_err(crate::http::routes::serving_error)?;
    authorize(state, caller, snapshot, &resources, &[Action::ReadOnline])
}

/// Checks `actions` on every resource, in order, for the caller (Feast's
/// `assert_permissions`): the first refusal is a 403 `FeastPermissionError`. Always allowed
/// with `no_auth`.
pub fn authorize(
    state: &AppState,
    caller: Option<&Principal>,
    snapshot: &Snapshot,
    resources: &[Resource<'_>],
    actions: &[Action],
) -> Result<(), ApiError> {
    if state.authenticator.is_none() {
        return Ok(());
    }
    // With oidc every data route sits behind `authenticate`; a missing principal would be a
    // route wired without it, and must not be an open door.
    let Some(principal) = caller else {
        return Err(ApiError::detail(401, crate::auth::INVALID_TOKEN));
    };
    let authorizer = state.authorizer(snapshot);
    for resource in resources {
        authorizer
            .check(principal, resource, actions)
            .map_err(|denied| ApiError::feast(403, "FeastPermissionError", &denied.0))?;
    }
    Ok(())
}

/// The principal in a [`Caller`].
pub fn principal(caller: &Caller) -> Option<&Principal> {
    caller.as_ref().map(|axum::Extension(p)| p.as_ref())
}
