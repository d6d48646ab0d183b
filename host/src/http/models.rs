//! The request bodies of Feast's `feature_server.py` and their validation, answering a bad
//! request exactly as FastAPI + pydantic v2 do (docs/feast-compat.md#request-models).
//!
//! Feast's server reads a body in three steps, and each leaves its mark on the 422 a client
//! gets back: FastAPI decodes the bytes with Python's `json.loads` (a syntax error becomes one
//! `json_invalid` detail carrying the `json` module's own message and character offset), treats
//! an empty body as missing, then validates the value against the pydantic model in lax
//! "python" mode with `from_attributes=True`, collecting every field error in declaration
//! order. This module mirrors all three: [`parse_request`] (or [`parse_body`]) is the whole
//! pipeline, [`Model::from_json`] the last step alone. The expected outputs in the tests were
//! checked against FastAPI 0.165 + pydantic 2.14 on CPython 3.11 (same `json` scanner as the
//! 3.12 of Feast's image).
//!
//! Where Python accepts something serde_json cannot hold (`NaN`, `Infinity`, numbers beyond
//! f64, lone surrogates, nesting deeper than 128) the body is refused; see [`parse_request`].
//! Integers beyond i64, which Python's ints hold, are clamped to the i64 range.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::pycompat::json_scan::{BodyError, decode_body};
pub use crate::pycompat::pydantic::ValidationDetail;
use crate::pycompat::pydantic::{
    BOOL_PARSING, Details, Fields, Loc, anything, boolean, detail, dict, entities, integer, list,
    literal, nullable, number, str_as_bool, string, with_field_moved,
};

/// A request model validated like its pydantic counterpart.
pub trait Model: Sized {
    /// Validates a decoded body (the pydantic step): every field error at once, in field
    /// declaration order, with locations under `"body"`. Unknown fields are ignored.
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>>;

    /// [`Model::from_json`] on an owned value. Models with a potentially large field override
    /// it to move that field out instead of deep-copying it; the result is the same.
    fn from_value(v: Value) -> Result<Self, Vec<ValidationDetail>> {
        Self::from_json(&v)
    }
}

/// Decodes and validates a request body as FastAPI does, returning the 422 details on failure.
///
/// Prefer [`parse_request`] in a handler: it also answers FastAPI's 400 for a body Python
/// cannot decode. Here such a body gets one `json_invalid` detail instead (with serde_json's
/// description in `ctx.error`), since the signature has no room for a 400.
/// No memory budget applies here (see [`parse_request`]).
pub fn parse_body<T: Model>(body: &[u8]) -> Result<T, Vec<ValidationDetail>> {
    match decode_body(body, usize::MAX) {
        Ok(v) => T::from_value(v),
        Err(BodyError::Invalid(detail) | BodyError::Unreadable(detail)) => Err(vec![*detail]),
        Err(BodyError::TooCostly(estimate)) => Err(vec![crate::pycompat::pydantic::detail(
            "too_costly",
            &[Value::from("body")],
            "Request body too large to decode",
            Value::from(estimate),
        )]),
    }
}

/// The whole FastAPI body pipeline, as the response to send on failure:
/// * 422 `{"detail":[...]}` for invalid JSON, a missing body or a validation error;
/// * 400 `{"detail":"There was an error parsing the body"}` for bytes Python's `json.loads`
///   fails on without a `JSONDecodeError` (not valid UTF-8/16/32). Documents that Python would
///   accept but serde_json cannot represent (`NaN`/`Infinity`, numbers beyond f64's range,
///   lone surrogate escapes, nesting deeper than 128) get this 400 too: a deliberate
///   divergence (Python goes on with them, and usually ends in a 500 or a store error).
/// * 413 for a body whose values would take more than `budget` bytes once decoded
///   ([`crate::http::state::BodyLimits::decoded_budget`]), refused before it is decoded:
///   Python would decode it, whatever it costs.
pub fn parse_request<T: Model>(body: &[u8], budget: usize) -> Result<T, ApiError> {
    match decode_body(body, budget) {
        Ok(v) => T::from_value(v).map_err(|details| ApiError::validation(&details)),
        Err(BodyError::Invalid(detail)) => Err(ApiError::validation(&[*detail])),
        Err(BodyError::Unreadable(_)) => {
            Err(ApiError::detail(400, "There was an error parsing the body"))
        }
        Err(BodyError::TooCostly(_)) => Err(ApiError::detail(
            413,
            &format!(
                "Request body too large to decode: its JSON values would take more than {budget} bytes of memory ({}× feature_server.max_request_body_bytes); send it in smaller requests",
                crate::http::state::DECODED_PER_BODY_BYTE
            ),
        )),
    }
}

/// A `bool` query parameter (`?async=`, `?force=`): absent is `false`, otherwise pydantic's
/// string rules (`1/0`, `true/false`, `yes/no`, `on/off`, `t/f`, `y/n`, case-insensitive, not
/// trimmed). A parameter given without a value (`?async`) arrives as `""`, which is invalid.
///
/// For a repeated parameter pass the last value (Starlette's `QueryParams` keeps the last).
/// FastAPI reports query errors before the body's, in the same 422 list: when both fail,
/// answer `ApiError::validation` of the query details followed by the body details.
pub fn parse_bool_param(name: &str, raw: Option<&str>) -> Result<bool, Vec<ValidationDetail>> {
    match raw {
        None => Ok(false),
        Some(s) => str_as_bool(s).ok_or_else(|| {
            vec![detail(
                "bool_parsing",
                &[Value::from("query"), Value::from(name)],
                BOOL_PARSING,
                Value::from(s),
            )]
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// The models.

/// `POST /get-online-features` (`GetOnlineFeaturesRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct GetOnlineFeaturesRequest {
    /// Join key (or request-data) name to its column of values, in document order. Required.
    pub entities: Vec<(String, Vec<Value>)>,
    /// A feature service to read instead of `features`.
    pub feature_service: Option<String>,
    /// Feature references `view:feature`. Default `[]`.
    pub features: Vec<String>,
    /// Name output columns `view__feature`. Default `false`.
    pub full_feature_names: bool,
    /// Accepted and ignored (docs/feast-compat.md#version-metadata-flag). Default `false`.
    pub include_feature_view_version_metadata: bool,
}

impl Model for GetOnlineFeaturesRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let entities = f.required("entities", entities);
        let feature_service =
            f.optional("feature_service", None, |v, l, e| nullable(v, l, e, string));
        let features = f.optional("features", Vec::new(), |v, l, e| list(v, l, e, string));
        let full_feature_names = f.optional("full_feature_names", false, boolean);
        let include_feature_view_version_metadata =
            f.optional("include_feature_view_version_metadata", false, boolean);
        f.finish(GetOnlineFeaturesRequest {
            entities,
            feature_service,
            features,
            full_feature_names,
            include_feature_view_version_metadata,
        })
    }

    fn from_value(v: Value) -> Result<Self, Vec<ValidationDetail>> {
        // A batch read can carry many entity values; move them rather than copy them.
        let valid = |e: &Value| {
            e.as_object()
                .is_some_and(|m| m.values().all(Value::is_array))
        };
        with_field_moved(v, "entities", valid, Self::from_json, |req, taken| {
            if let Value::Object(map) = taken {
                req.entities = map
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::Array(items) => (k, items),
                        // `valid` checked every value is a list.
                        other => (k, vec![other]),
                    })
                    .collect();
            }
        })
    }
}

/// `POST /push` (`PushFeaturesRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct PushRequest {
    /// The push source to write through. Required.
    pub push_source_name: String,
    /// The columnar dataframe, column name to values; not checked further here. Required.
    pub df: Map<String, Value>,
    /// Default `true`.
    pub allow_registry_cache: bool,
    /// `online`, `offline` or `online_and_offline`; checked by the handler (a bad value is a
    /// 500 in Feast, not a 422). Default `"online"`.
    pub to: String,
    /// Default `true`.
    pub transform_on_write: bool,
}

impl Model for PushRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let push_source_name = f.required("push_source_name", string);
        let df = f.required("df", dict);
        let allow_registry_cache = f.optional("allow_registry_cache", true, boolean);
        let to = f.optional("to", "online".to_owned(), string);
        let transform_on_write = f.optional("transform_on_write", true, boolean);
        f.finish(PushRequest {
            push_source_name,
            df,
            allow_registry_cache,
            to,
            transform_on_write,
        })
    }

    fn from_value(v: Value) -> Result<Self, Vec<ValidationDetail>> {
        with_field_moved(v, "df", Value::is_object, Self::from_json, |req, taken| {
            if let Value::Object(df) = taken {
                req.df = df;
            }
        })
    }
}

/// `POST /write-to-online-store` (`WriteToFeatureStoreRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteToOnlineStoreRequest {
    /// The view to write. Required.
    pub feature_view_name: String,
    /// The columnar dataframe; not checked further here. Required.
    pub df: Map<String, Value>,
    /// Default `true`.
    pub allow_registry_cache: bool,
    /// Default `true`.
    pub transform_on_write: bool,
}

impl Model for WriteToOnlineStoreRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let feature_view_name = f.required("feature_view_name", string);
        let df = f.required("df", dict);
        let allow_registry_cache = f.optional("allow_registry_cache", true, boolean);
        let transform_on_write = f.optional("transform_on_write", true, boolean);
        f.finish(WriteToOnlineStoreRequest {
            feature_view_name,
            df,
            allow_registry_cache,
            transform_on_write,
        })
    }

    fn from_value(v: Value) -> Result<Self, Vec<ValidationDetail>> {
        with_field_moved(v, "df", Value::is_object, Self::from_json, |req, taken| {
            if let Value::Object(df) = taken {
                req.df = df;
            }
        })
    }
}

/// `POST /materialize` (`MaterializeRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeRequest {
    /// Start of the window, parsed by the handler.
    pub start_ts: Option<String>,
    /// End of the window, parsed by the handler.
    pub end_ts: Option<String>,
    /// Views to materialize; `None` means every eligible view.
    pub feature_views: Option<Vec<String>>,
    /// Default `false`.
    pub disable_event_timestamp: bool,
    /// Default `false`.
    pub full_feature_names: bool,
    /// A view version to materialize, e.g. `"v2"`.
    pub version: Option<String>,
}

impl Model for MaterializeRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let start_ts = f.optional("start_ts", None, |v, l, e| nullable(v, l, e, string));
        let end_ts = f.optional("end_ts", None, |v, l, e| nullable(v, l, e, string));
        let feature_views = f.optional("feature_views", None, |v, l, e| {
            nullable(v, l, e, |v, l, e| list(v, l, e, string))
        });
        let disable_event_timestamp = f.optional("disable_event_timestamp", false, boolean);
        let full_feature_names = f.optional("full_feature_names", false, boolean);
        let version = f.optional("version", None, |v, l, e| nullable(v, l, e, string));
        f.finish(MaterializeRequest {
            start_ts,
            end_ts,
            feature_views,
            disable_event_timestamp,
            full_feature_names,
            version,
        })
    }
}

/// `POST /materialize-incremental` (`MaterializeIncrementalRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeIncrementalRequest {
    /// End of the window, parsed by the handler. Required.
    pub end_ts: String,
    /// Views to materialize; `None` means every eligible view.
    pub feature_views: Option<Vec<String>>,
    /// Default `false`.
    pub full_feature_names: bool,
    /// A view version to materialize.
    pub version: Option<String>,
}

impl Model for MaterializeIncrementalRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let end_ts = f.required("end_ts", string);
        let feature_views = f.optional("feature_views", None, |v, l, e| {
            nullable(v, l, e, |v, l, e| list(v, l, e, string))
        });
        let full_feature_names = f.optional("full_feature_names", false, boolean);
        let version = f.optional("version", None, |v, l, e| nullable(v, l, e, string));
        f.finish(MaterializeIncrementalRequest {
            end_ts,
            feature_views,
            full_feature_names,
            version,
        })
    }
}

/// `POST /search` and `POST /retrieve-online-documents` (`GetOnlineDocumentsRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct GetOnlineDocumentsRequest {
    /// A feature service to read instead of `features`.
    pub feature_service: Option<String>,
    /// Feature references. Default `[]`.
    pub features: Vec<String>,
    /// Default `false`.
    pub full_feature_names: bool,
    /// Forwarded only for `api_version == 2`. Default `false`.
    pub include_feature_view_version_metadata: bool,
    /// Number of hits.
    pub top_k: Option<i64>,
    /// The query embedding.
    pub query: Option<Vec<f64>>,
    /// Text query (v2 only).
    pub query_string: Option<String>,
    /// Distance metric (v2 only).
    pub distance_metric: Option<String>,
    /// `1` (default) or `2`. Feast declares it `Optional[int] = 1` and only ever compares it
    /// with 2, so an explicit `null` is stored as 1.
    pub api_version: i64,
    /// Metadata filter (v2 only).
    pub filters: Option<Filter>,
}

impl Model for GetOnlineDocumentsRequest {
    fn from_json(v: &Value) -> Result<Self, Vec<ValidationDetail>> {
        let mut f = Fields::body(v)?;
        let feature_service =
            f.optional("feature_service", None, |v, l, e| nullable(v, l, e, string));
        let features = f.optional("features", Vec::new(), |v, l, e| list(v, l, e, string));
        let full_feature_names = f.optional("full_feature_names", false, boolean);
        let include_feature_view_version_metadata =
            f.optional("include_feature_view_version_metadata", false, boolean);
        let top_k = f.optional("top_k", None, |v, l, e| nullable(v, l, e, integer));
        let query = f.optional("query", None, |v, l, e| {
            nullable(v, l, e, |v, l, e| list(v, l, e, number))
        });
        let query_string = f.optional("query_string", None, |v, l, e| nullable(v, l, e, string));
        let distance_metric =
            f.optional("distance_metric", None, |v, l, e| nullable(v, l, e, string));
        let api_version = f.optional("api_version", Some(1), |v, l, e| nullable(v, l, e, integer));
        let filters = f.optional("filters", None, |v, l, e| nullable(v, l, e, filter));
        f.finish(GetOnlineDocumentsRequest {
            feature_service,
            features,
            full_feature_names,
            include_feature_view_version_metadata,
            top_k,
            query,
            query_string,
            distance_metric,
            api_version: api_version.unwrap_or(1),
            filters,
        })
    }
}

/// A metadata filter (`feast.filter_models`): `ComparisonFilter` or `CompoundFilter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `{"type": "eq|ne|gt|gte|lt|lte|in|nin", "key": str, "value": any}`.
    Comparison {
        /// The operator, one of [`COMPARISON_OPS`].
        op: String,
        /// The metadata field compared.
        key: String,
        /// The value compared with (any JSON, `null` included).
        value: Value,
    },
    /// `{"type": "and|or", "filters": [...]}`.
    Compound {
        /// The operator, one of [`COMPOUND_OPS`].
        op: String,
        /// The combined filters.
        filters: Vec<Filter>,
    },
}

/// The operators of a comparison filter, in pydantic's `Literal` order (it shows in messages).
pub const COMPARISON_OPS: &[&str] = &["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"];
/// The operators of a compound filter.
pub const COMPOUND_OPS: &[&str] = &["and", "or"];

/// `Union[ComparisonFilter, CompoundFilter]` in pydantic's smart mode. Their `type` literals
/// are disjoint, so at most one member can succeed; when neither does, pydantic reports both
/// members' errors, each under the member's class name.
fn filter(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<Filter> {
    let comparison = union_member(v, loc, "ComparisonFilter", |f| {
        let op = f.required("type", |v, l, e| literal(v, l, e, COMPARISON_OPS));
        let key = f.required("key", string);
        let value = f.required("value", anything);
        Filter::Comparison { op, key, value }
    });
    let first_errors = match comparison {
        Ok(found) => return Some(found),
        Err(e) => e,
    };
    let compound = union_member(v, loc, "CompoundFilter", |f| {
        let op = f.required("type", |v, l, e| literal(v, l, e, COMPOUND_OPS));
        let filters = f.required("filters", |v, l, e| list(v, l, e, filter));
        Filter::Compound { op, filters }
    });
    match compound {
        Ok(found) => Some(found),
        Err(second_errors) => {
            errors.extend(first_errors);
            errors.extend(second_errors);
            None
        }
    }
}

fn union_member(
    v: &Value,
    loc: &[Value],
    class: &str,
    build: impl FnOnce(&mut Fields<'_>) -> Filter,
) -> Result<Filter, Details> {
    let mut member_loc = loc.to_vec();
    member_loc.push(Value::from(class));
    let mut fields = Fields::at(v, member_loc)?;
    let built = build(&mut fields);
    fields.finish(built)
}

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;
