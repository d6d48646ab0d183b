//! The serving core's error: Feast's exception classes, with no transport in them.

/// Why a request failed, in Feast's error model: the exception class Feast raises and the
/// status its server answers with. Every front renders it its own way (HTTP: the envelope and
/// bodies of `http::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServingError {
    /// One of Feast's `FeastError` classes: rendered as Feast's envelope with this status.
    #[error("{class}: {message}")]
    Feast {
        /// The HTTP status Feast gives the class.
        status: u16,
        /// The Python class name.
        class: &'static str,
        /// `str(exc)`.
        message: String,
    },
    /// Any other exception (ValueError, KeyError, ...): 500 with the message as a JSON string.
    #[error("{0}")]
    Other(String),
    /// The online store failed (unreachable, too slow, a store adapter that trapped). Feast
    /// raises its base class `FeastError` for it (500 on HTTP, which the Feast SDK re-raises
    /// with the message, so a client sees why); kept apart so that a front with a code for "try
    /// again" (gRPC's UNAVAILABLE) can say so.
    #[error("FeastError: {0}")]
    Store(String),
    /// FastAPI's `HTTPException(status, detail)`, which Feast's server raises itself: 401 for
    /// a missing or bad token, 400 for a search it cannot run.
    #[error("{detail}")]
    Detail {
        /// The status Feast answers with.
        status: u16,
        /// The `detail` text.
        detail: String,
    },
}

impl ServingError {
    /// One of Feast's `FeastError` classes, with its status.
    pub fn feast(status: u16, class: &'static str, message: impl Into<String>) -> ServingError {
        ServingError::Feast {
            status,
            class,
            message: message.into(),
        }
    }

    /// Any other exception: 500 with `str(exc)`.
    pub fn other(message: impl Into<String>) -> ServingError {
        ServingError::Other(message.into())
    }

    /// An `HTTPException(status, detail)`.
    pub fn detail(status: u16, detail: impl Into<String>) -> ServingError {
        ServingError::Detail {
            status,
            detail: detail.into(),
        }
    }

    /// The online store failed: see [`ServingError::Store`].
    pub(crate) fn store(what: &str, e: impl std::fmt::Display) -> ServingError {
        ServingError::Store(format!("online store {what} failed: {e}"))
    }

    pub(crate) fn service_not_found(name: &str, project: &str) -> ServingError {
        ServingError::Feast {
            status: 404,
            class: "FeatureServiceNotFoundException",
            message: format!("Feature service {name} does not exist in project {project}"),
        }
    }

    /// A view a Feast registry defines but that is not served (disabled, not materialized
    /// yet, or of a kind edgefeat does not serve): Feast's base class, with the reason.
    pub(crate) fn not_served(why: &str) -> ServingError {
        ServingError::Feast {
            status: 500,
            class: "FeastError",
            message: why.to_string(),
        }
    }

    pub(crate) fn view_not_found(name: &str, project: &str) -> ServingError {
        ServingError::Feast {
            status: 404,
            class: "FeatureViewNotFoundException",
            message: format!("Feature view {name} does not exist in project {project}"),
        }
    }
}
