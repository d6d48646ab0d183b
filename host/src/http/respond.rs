//! From handler results to responses: [`ApiError`] is an axum response, a core error becomes
//! one with `?`, and request bodies are read and parsed here, once for every route.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;
use crate::http::models::{Model, parse_request};
use crate::http::state::BodyLimits;
use crate::serving::ServingError;

/// What a handler returns: a response, or an error rendered as Feast renders it.
pub type Handled = Result<Response, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(self.status, self.body)
    }
}

impl From<ServingError> for ApiError {
    /// A core error as Feast's server renders it: the envelope of its class, a 500 with the
    /// message, or FastAPI's `{"detail": ...}`.
    fn from(e: ServingError) -> ApiError {
        match e {
            ServingError::Feast {
                status,
                class,
                message,
            } => ApiError::feast(status, class, &message),
            ServingError::Store(message) => ApiError::feast(500, "FeastError", &message),
            ServingError::Other(message) => ApiError::plain(500, &message),
            ServingError::Detail { status, detail } => ApiError::detail(status, &detail),
        }
    }
}

/// A JSON response.
pub fn json(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Reads the body (413 over the limit, 408 too slow) and parses it as the route's request
/// model (422 with FastAPI's details when it does not fit, 413 when its values would take
/// more memory than [`BodyLimits::decoded_budget`]).
pub async fn read_request<T: Model>(
    headers: &HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<T, ApiError> {
    let bytes = read_body(headers, body, limits).await?;
    parse_request(&bytes, limits.decoded_budget())
}

/// Reads the whole body, refusing one over the size limit with 413 (early, from
/// Content-Length, when the client announces it), and one that has not arrived in full within
/// the time limit with 408: a client that sends a large Content-Length and then a byte now and
/// then would otherwise hold its connection for as long as it likes.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<Bytes, ApiError> {
    let limit = limits.bytes;
    let too_large = || {
        ApiError::detail(
            413,
            &format!("Request body too large: the limit is {limit} bytes"),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(ApiError::detail(
            408,
            &format!(
                "Request body not received in time: the limit is {} s (--body-timeout)",
                limits.timeout.as_secs_f64()
            ),
        ));
    };
    read.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            // A body that ended early or a broken chunked encoding: the request is malformed,
            // not large (uvicorn answers these 400 too).
            tracing::debug!("request body unreadable: {e}");
            ApiError::detail(400, &format!("Invalid request body: {e}"))
        }
    })
}

/// Whether reading a body failed because it passed the limit, anywhere in the error's chain.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Runs `f` on the blocking pool (a write waits for an fsync, a search scans vectors): a task
/// that died is a 500 naming `what`.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::plain(500, &format!("{what} failed: {e}"))))
}
