//! The write routes: `/push` and `/write-to-online-store`. Both wait for an fsync, so the
//! core's call runs on the blocking pool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use crate::http::auth::{Caller, owned_principal};
use crate::http::metrics::RequestTimer;
use crate::http::models::{PushRequest, WriteToOnlineStoreRequest};
use crate::http::respond::{Handled, blocking, json, read_request};
use crate::http::state::AppState;

/// `POST /push`: rows for every feature view fed by a push source, online, offline or both
/// (200 with an empty body).
pub async fn push(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let timer = RequestTimer::start("/push");
    let req: PushRequest = read_request(&headers, body, &state.body).await?;
    // A label only from the three modes there are: the request's own text would make a
    // series per distinct value a client sends (the fuzz harness found 4 MB of them).
    let mode = push_mode_label(&req.to);
    let principal = owned_principal(caller);
    let core = state.core.clone();
    let result = blocking("the write task", move || {
        Ok(core.push(principal.as_deref(), &req.push_source_name, &req.to, req.df)?)
    })
    .await;
    if let Some(mode) = mode {
        metrics::counter!("feast_push_request_total", "push_source" => "", "mode" => mode)
            .increment(1);
    }
    result?;
    Ok(timer.succeeded(StatusCode::OK.into_response()))
}

/// The `mode` label of `feast_push_request_total` for a request's `to`: `None` for anything
/// but Feast's three modes, which the push refuses anyway.
fn push_mode_label(to: &str) -> Option<&'static str> {
    match to {
        "online" => Some("online"),
        "offline" => Some("offline"),
        "online_and_offline" => Some("online_and_offline"),
        _ => None,
    }
}

/// `POST /write-to-online-store`: rows for one feature view, online (200 with body `null`).
pub async fn write_to_online_store(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Handled {
    let timer = RequestTimer::start("/write-to-online-store");
    let req: WriteToOnlineStoreRequest = read_request(&headers, body, &state.body).await?;
    let principal = owned_principal(caller);
    let core = state.core.clone();
    blocking("the write task", move || {
        Ok(core.write_to_online_store(principal.as_deref(), &req.feature_view_name, req.df)?)
    })
    .await?;
    Ok(timer.succeeded(json(200, b"null".to_vec())))
}
