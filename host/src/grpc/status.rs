//! Core errors as gRPC statuses: the code says what kind of failure it was, the message is the
//! one Feast's HTTP server puts in its error body (`str(exc)`), so a client logs the same text
//! whichever protocol it speaks.

use tonic::{Code, Status};

use crate::serving::ServingError;

/// The status for a core error.
pub fn status_of(e: ServingError) -> Status {
    match e {
        ServingError::Feast {
            status, message, ..
        } => Status::new(code_of(status), message),
        ServingError::Store(message) => Status::unavailable(message),
        // Feast's Python server answers these 500 (ValueError, KeyError...): on gRPC they are
        // the caller's mistake in every case the core raises one (a malformed ref, columns of
        // different lengths, a value of the wrong type).
        ServingError::Other(message) => Status::invalid_argument(message),
        ServingError::Detail { status, detail } => Status::new(code_of(status), detail),
    }
}

/// The gRPC code for the HTTP status Feast gives an error class.
fn code_of(http: u16) -> Code {
    match http {
        400 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        413 | 429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_codes() {
        let not_found = status_of(ServingError::view_not_found("nope", "demo"));
        assert_eq!(not_found.code(), Code::NotFound);
        assert_eq!(
            not_found.message(),
            "Feature view nope does not exist in project demo"
        );
        assert_eq!(
            status_of(ServingError::feast(403, "FeastPermissionError", "no")).code(),
            Code::PermissionDenied
        );
        assert_eq!(
            status_of(ServingError::detail(401, "Invalid token")).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            status_of(ServingError::store("read", "connection refused")).code(),
            Code::Unavailable
        );
        assert_eq!(
            status_of(ServingError::other("bad ref")).code(),
            Code::InvalidArgument
        );
        // A plugin that failed: Feast's 500, the server's fault.
        assert_eq!(
            status_of(ServingError::feast(500, "FeastError", "trap")).code(),
            Code::Internal
        );
    }
}
