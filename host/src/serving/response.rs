//! The protocol-free result of `get_online_features`: Feast's columnar response
//! (docs/feast-compat.md#response-shape).

use crate::types::Value;

/// Feast's `FieldStatus`, rendered by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStatus {
    /// Never produced on the normal path.
    Invalid,
    /// The value was found (it may be a stored null).
    Present,
    /// A stored null, under the Go server's rules (not emitted by default).
    NullValue,
    /// The entity has no row, or its row lacks the feature.
    NotFound,
    /// Found, but older than the view's ttl (only with ttl enforcement on).
    OutsideMaxAge,
}

impl FieldStatus {
    /// The name Feast prints.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Invalid => "INVALID",
            FieldStatus::Present => "PRESENT",
            FieldStatus::NullValue => "NULL_VALUE",
            FieldStatus::NotFound => "NOT_FOUND",
            FieldStatus::OutsideMaxAge => "OUTSIDE_MAX_AGE",
        }
    }
}

/// One output column: a value, a status and an event timestamp per entity row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponseColumn {
    /// The values, one per row.
    pub values: Vec<Value>,
    /// The statuses, one per row.
    pub statuses: Vec<FieldStatus>,
    /// Event timestamps in microseconds since the epoch, one per row; 0 renders as
    /// `1970-01-01T00:00:00Z` (join keys, request data, ODFV outputs, rows not found).
    pub event_ts_micros: Vec<i64>,
}

/// The whole response: `feature_names[i]` names `columns[i]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OnlineResponse {
    /// Column names: join keys, then features (full names when asked).
    pub feature_names: Vec<String>,
    /// The columns, in the same order.
    pub columns: Vec<ResponseColumn>,
}
