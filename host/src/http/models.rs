//! The request bodies of Feast's feature server (spec §1.1) and their validation, answering a
//! bad request exactly as FastAPI + pydantic v2 do (spec §0).
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

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::error::ApiError;

/// One entry of FastAPI's 422 `detail` list (a pydantic error with `include_url=False`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationDetail {
    /// Pydantic's error type, e.g. `"missing"`, `"string_type"`, `"json_invalid"`.
    pub kind: String,
    /// Where the error is: `["body", "entities", "driver_id"]`, `["body", "features", 0]`,
    /// `["query", "async"]`.
    pub loc: Vec<Value>,
    /// Pydantic's human-readable message, e.g. `"Field required"`.
    pub msg: String,
    /// The offending input (the whole model input for `missing`).
    pub input: Value,
    /// Extra context (`{"error": ...}` for `json_invalid`, `{"expected": ...}` for
    /// `literal_error`), omitted from the JSON when absent.
    pub ctx: Option<Value>,
}

impl ValidationDetail {
    /// The detail as FastAPI serializes it: `{"type","loc","msg","input"}` plus `"ctx"` when
    /// present, in that key order.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(self.kind.clone()));
        map.insert("loc".into(), Value::Array(self.loc.clone()));
        map.insert("msg".into(), Value::String(self.msg.clone()));
        map.insert("input".into(), self.input.clone());
        if let Some(ctx) = &self.ctx {
            map.insert("ctx".into(), ctx.clone());
        }
        Value::Object(map)
    }
}

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
pub fn parse_body<T: Model>(body: &[u8]) -> Result<T, Vec<ValidationDetail>> {
    match decode_body(body) {
        Ok(v) => T::from_value(v),
        Err(BodyError::Invalid(detail) | BodyError::Unreadable(detail)) => Err(vec![*detail]),
    }
}

/// The whole FastAPI body pipeline, as the response to send on failure:
/// * 422 `{"detail":[...]}` for invalid JSON, a missing body or a validation error;
/// * 400 `{"detail":"There was an error parsing the body"}` for bytes Python's `json.loads`
///   fails on without a `JSONDecodeError` (not valid UTF-8/16/32). Documents that Python would
///   accept but serde_json cannot represent (`NaN`/`Infinity`, numbers beyond f64's range,
///   lone surrogate escapes, nesting deeper than 128) get this 400 too: a deliberate
///   divergence (Python goes on with them, and usually ends in a 500 or a store error).
pub fn parse_request<T: Model>(body: &[u8]) -> Result<T, ApiError> {
    match decode_body(body) {
        Ok(v) => T::from_value(v).map_err(|details| ApiError::validation(&details)),
        Err(BodyError::Invalid(detail)) => Err(ApiError::validation(&[*detail])),
        Err(BodyError::Unreadable(_)) => {
            Err(ApiError::detail(400, "There was an error parsing the body"))
        }
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
    /// Accepted and ignored on the wire (spec §14 #6). Default `false`.
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

// ---------------------------------------------------------------------------------------------
// Body decoding: FastAPI's `await request.json()`.

/// Why a body yields no value.
enum BodyError {
    /// FastAPI answers 422 with this one detail (`json_invalid`, or `missing` for no body).
    Invalid(Box<ValidationDetail>),
    /// FastAPI answers 400; the detail is what [`parse_body`] reports instead.
    Unreadable(Box<ValidationDetail>),
}

fn decode_body(body: &[u8]) -> Result<Value, BodyError> {
    // FastAPI only decodes a non-empty body; no body at all leaves the model's value `None`.
    if body.is_empty() {
        return Err(BodyError::Invalid(Box::new(missing_body())));
    }
    let Some(text) = decode_text(body) else {
        return Err(BodyError::Unreadable(Box::new(json_invalid(
            0,
            "the body is not valid UTF-8, UTF-16 or UTF-32",
        ))));
    };
    match serde_json::from_str::<Value>(&text) {
        // A JSON `null` is a value like any other: current FastAPI (0.165) validates it, and
        // pydantic answers `model_attributes_type`. Older FastAPI (0.141) called it missing.
        Ok(v) => Ok(v),
        Err(e) => {
            // serde_json's errors say little about what Python would report, so the document
            // is rescanned with Python's own algorithm; this only happens on the error path.
            let chars: Vec<char> = text.chars().collect();
            match python_json_error(&chars) {
                Some((msg, pos)) => Err(BodyError::Invalid(Box::new(json_invalid(pos, msg)))),
                None => Err(BodyError::Unreadable(Box::new(json_invalid(
                    serde_char_offset(&text, &e),
                    &serde_message(&e),
                )))),
            }
        }
    }
}

/// `{"type":"missing","loc":["body"],"msg":"Field required","input":null}`.
fn missing_body() -> ValidationDetail {
    detail("missing", &[Value::from("body")], MISSING, Value::Null)
}

/// FastAPI's detail for a `JSONDecodeError`: loc `["body", pos]`, input `{}`, and the `json`
/// module's bare message (without the "line/column" suffix) in `ctx.error`.
fn json_invalid(pos: usize, error: &str) -> ValidationDetail {
    let mut ctx = Map::new();
    ctx.insert("error".into(), Value::from(error));
    ValidationDetail {
        kind: "json_invalid".into(),
        loc: vec![Value::from("body"), Value::from(pos)],
        msg: "JSON decode error".into(),
        input: Value::Object(Map::new()),
        ctx: Some(Value::Object(ctx)),
    }
}

/// The text `json.loads(bytes)` decodes: the encoding is sniffed as in `json.detect_encoding`
/// (BOMs, then the zero-byte pattern of UTF-16/32), a UTF-8 BOM is dropped (`utf-8-sig`).
/// `None` where Python raises `UnicodeDecodeError`, or decodes lone surrogates (its
/// `surrogatepass`) that a Rust string cannot hold.
fn decode_text(b: &[u8]) -> Option<Cow<'_, str>> {
    let utf8 = |b| std::str::from_utf8(b).ok().map(Cow::Borrowed);
    if let Some(rest) = b.strip_prefix(&[0, 0, 0xfe, 0xff]) {
        return utf32(rest, u32::from_be_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xff, 0xfe, 0, 0]) {
        return utf32(rest, u32::from_le_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        return utf16(rest, u16::from_be_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xff, 0xfe]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return utf8(rest);
    }
    match *b {
        [0, b1, _, _, ..] if b1 != 0 => utf16(b, u16::from_be_bytes),
        [0, _, _, _, ..] => utf32(b, u32::from_be_bytes),
        [_, 0, b2, b3, ..] if b2 != 0 || b3 != 0 => utf16(b, u16::from_le_bytes),
        [_, 0, _, _, ..] => utf32(b, u32::from_le_bytes),
        [0, _] => utf16(b, u16::from_be_bytes),
        [_, 0] => utf16(b, u16::from_le_bytes),
        _ => utf8(b),
    }
}

fn utf16(b: &[u8], unit: fn([u8; 2]) -> u16) -> Option<Cow<'static, str>> {
    let chunks = b.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let units = chunks.map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
        .map(Cow::Owned)
}

fn utf32(b: &[u8], unit: fn([u8; 4]) -> u32) -> Option<Cow<'static, str>> {
    let chunks = b.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|c| char::from_u32(unit([c[0], c[1], c[2], c[3]])))
        .collect::<Option<String>>()
        .map(Cow::Owned)
}

/// The character offset of a serde_json error (its line and byte column), for the rare
/// documents Python accepts but serde_json does not.
fn serde_char_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start = match e.line().checked_sub(2) {
        None => 0,
        Some(newlines_before) => text
            .match_indices('\n')
            .nth(newlines_before)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    let mut byte = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    text[..byte].chars().count()
}

/// serde_json's message without its " at line L column C" suffix.
fn serde_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// The `JSONDecodeError` CPython 3.12's `json.loads` raises for `s` (the C scanner, which is
/// what runs), as (message, character offset), or `None` when Python accepts the document.
///
/// A line-by-line port of `scan_once_unicode` and friends in `Modules/_json.c`, made iterative
/// so hostile nesting cannot overflow the stack. Feast's image runs Python 3.12; 3.13 reports
/// a trailing comma as "Illegal trailing comma before end of object/array" instead.
fn python_json_error(s: &[char]) -> Option<(&'static str, usize)> {
    #[derive(PartialEq)]
    enum Open {
        Object,
        Array,
    }
    let at = |i: usize| s.get(i).copied();
    let skip_ws = |mut i: usize| {
        while matches!(at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    };
    // A key and its colon, from `i` (where a key must start) to the start of the value.
    let key = |i: usize| -> Result<usize, (&'static str, usize)> {
        if at(i) != Some('"') {
            return Err(("Expecting property name enclosed in double quotes", i));
        }
        let i = skip_ws(scan_string(s, i + 1)?);
        if at(i) != Some(':') {
            return Err(("Expecting ':' delimiter", i));
        }
        Ok(skip_ws(i + 1))
    };

    let mut stack: Vec<Open> = Vec::new();
    let mut i = skip_ws(0);
    let result = (|| -> Result<(), (&'static str, usize)> {
        loop {
            // One term at `i`.
            match at(i) {
                None => return Err(("Expecting value", i)),
                Some('"') => i = scan_string(s, i + 1)?,
                Some('{') => {
                    let j = skip_ws(i + 1);
                    if at(j) == Some('}') {
                        i = j + 1;
                    } else {
                        stack.push(Open::Object);
                        i = key(j)?;
                        continue;
                    }
                }
                Some('[') => {
                    let j = skip_ws(i + 1);
                    if at(j) == Some(']') {
                        i = j + 1;
                    } else {
                        stack.push(Open::Array);
                        i = j;
                        continue;
                    }
                }
                Some(_) => match constant_or_number(s, i) {
                    Some(next) => i = next,
                    // Python's StopIteration, turned into this message by `raw_decode`.
                    None => return Err(("Expecting value", i)),
                },
            }
            // A term ended at `i`: close containers until one expects another term.
            loop {
                let Some(open) = stack.last() else {
                    let end = skip_ws(i);
                    return if end == s.len() {
                        Ok(())
                    } else {
                        Err(("Extra data", end))
                    };
                };
                let close = if *open == Open::Object { '}' } else { ']' };
                i = skip_ws(i);
                match at(i) {
                    Some(c) if c == close => {
                        stack.pop();
                        i += 1;
                    }
                    Some(',') => {
                        i = skip_ws(i + 1);
                        if *open == Open::Object {
                            i = key(i)?;
                        }
                        break;
                    }
                    _ => return Err(("Expecting ',' delimiter", i)),
                }
            }
        }
    })();
    result.err()
}

/// `scanstring_unicode`: `end` is just past the opening quote; returns the index past the
/// closing one.
fn scan_string(s: &[char], end: usize) -> Result<usize, (&'static str, usize)> {
    let len = s.len();
    let begin = end.saturating_sub(1);
    let hex = |i: usize| s.get(i).and_then(|c| c.to_digit(16));
    let mut end = end;
    loop {
        // Find the end of the string or the next escape.
        let mut next = end;
        let c = loop {
            match s.get(next) {
                None => return Err(("Unterminated string starting at", begin)),
                Some(&d @ ('"' | '\\')) => break d,
                Some(&d) if u32::from(d) <= 0x1f => {
                    return Err(("Invalid control character at", next));
                }
                Some(_) => next += 1,
            }
        };
        next += 1;
        if c == '"' {
            return Ok(next);
        }
        let Some(&c) = s.get(next) else {
            return Err(("Unterminated string starting at", begin));
        };
        if c != 'u' {
            end = next + 1;
            if !matches!(c, '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') {
                return Err(("Invalid \\escape", end - 2));
            }
        } else {
            next += 1;
            end = next + 4;
            if end >= len {
                return Err(("Invalid \\uXXXX escape", next - 1));
            }
            let mut unit = 0;
            for k in next..end {
                unit = unit << 4 | hex(k).ok_or(("Invalid \\uXXXX escape", end - 5))?;
            }
            // A high surrogate followed by `\u`: Python reads the second unit too (and only
            // joins them if it is a low surrogate, otherwise it rescans it as an escape).
            if (0xd800..=0xdbff).contains(&unit)
                && end + 6 < len
                && at_is(s, end, '\\')
                && at_is(s, end + 1, 'u')
            {
                let second = end + 2;
                end += 6;
                let mut low = 0;
                for k in second..end {
                    low = low << 4 | hex(k).ok_or(("Invalid \\uXXXX escape", end - 5))?;
                }
                if !(0xdc00..=0xdfff).contains(&low) {
                    end -= 6;
                }
            }
        }
    }
}

fn at_is(s: &[char], i: usize, c: char) -> bool {
    s.get(i) == Some(&c)
}

/// The `null`/`true`/`false`/`NaN`/`Infinity`/`-Infinity` cases of `scan_once_unicode`, then
/// `_match_number_unicode`: the index past the term, or `None` for Python's StopIteration.
fn constant_or_number(s: &[char], idx: usize) -> Option<usize> {
    let len = s.len();
    let follows = |word: &str| {
        idx + word.chars().count() < len
            && word
                .chars()
                .enumerate()
                .all(|(k, c)| at_is(s, idx + 1 + k, c))
    };
    match s.get(idx) {
        Some('n') if follows("ull") => return Some(idx + 4),
        Some('t') if follows("rue") => return Some(idx + 4),
        Some('f') if follows("alse") => return Some(idx + 5),
        Some('N') if follows("aN") => return Some(idx + 3),
        Some('I') if follows("nfinity") => return Some(idx + 8),
        Some('-') if follows("Infinity") => return Some(idx + 9),
        _ => {}
    }
    let digit = |i: usize| s.get(i).is_some_and(char::is_ascii_digit);
    let end_idx = len.checked_sub(1)?;
    let mut i = idx;
    if at_is(s, i, '-') {
        i += 1;
        if i > end_idx {
            return None;
        }
    }
    match s.get(i) {
        Some('1'..='9') => {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        Some('0') => i += 1,
        _ => return None,
    }
    if i < end_idx && at_is(s, i, '.') && digit(i + 1) {
        i += 2;
        while digit(i) {
            i += 1;
        }
    }
    if i < end_idx && (at_is(s, i, 'e') || at_is(s, i, 'E')) {
        let e_start = i;
        i += 1;
        if i < end_idx && (at_is(s, i, '-') || at_is(s, i, '+')) {
            i += 1;
        }
        while digit(i) {
            i += 1;
        }
        // Without exponent digits the 'e' is not part of the number.
        if !digit(i - 1) {
            i = e_start;
        }
    }
    Some(i)
}

// ---------------------------------------------------------------------------------------------
// Validation: pydantic v2 lax mode on the Python objects `json.loads` produces.

type Details = Vec<ValidationDetail>;

/// The location of the value being validated, extended and shortened while descending. A
/// newtype so the check functions share one signature whatever they do with it.
struct Loc(Vec<Value>);

impl std::ops::Deref for Loc {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for Loc {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

const MISSING: &str = "Field required";
const STRING_TYPE: &str = "Input should be a valid string";
const BOOL_TYPE: &str = "Input should be a valid boolean";
const BOOL_PARSING: &str = "Input should be a valid boolean, unable to interpret input";
const INT_TYPE: &str = "Input should be a valid integer";
const INT_PARSING: &str = "Input should be a valid integer, unable to parse string as an integer";
const INT_FROM_FLOAT: &str = "Input should be a valid integer, got a number with a fractional part";
const INT_PARSING_SIZE: &str = "Unable to parse input string as an integer, exceeded maximum size";
const FINITE_NUMBER: &str = "Input should be a finite number";
const FLOAT_TYPE: &str = "Input should be a valid number";
const FLOAT_PARSING: &str = "Input should be a valid number, unable to parse string as a number";
const LIST_TYPE: &str = "Input should be a valid list";
const DICT_TYPE: &str = "Input should be a valid dictionary";
const MODEL_ATTRIBUTES_TYPE: &str =
    "Input should be a valid dictionary or object to extract fields from";

fn detail(kind: &str, loc: &[Value], msg: &str, input: Value) -> ValidationDetail {
    ValidationDetail {
        kind: kind.into(),
        loc: loc.to_vec(),
        msg: msg.into(),
        input,
        ctx: None,
    }
}

/// The fields of one model instance being validated: errors accumulate so that all of them
/// are reported at once, and a field that fails yields a placeholder that is never returned.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    /// The model's whole input, which pydantic echoes in `missing` errors.
    input: &'a Value,
    loc: Loc,
    errors: Details,
}

impl<'a> Fields<'a> {
    /// A request body model, located at `["body"]`.
    fn body(v: &'a Value) -> Result<Self, Details> {
        Self::at(v, vec![Value::from("body")])
    }

    /// A model at `loc`. FastAPI validates with `from_attributes=True`, which is why anything
    /// but an object is `model_attributes_type` rather than `model_type`.
    fn at(v: &'a Value, loc: Vec<Value>) -> Result<Self, Details> {
        match v {
            Value::Object(obj) => Ok(Fields {
                obj,
                input: v,
                loc: Loc(loc),
                errors: Vec::new(),
            }),
            _ => Err(vec![detail(
                "model_attributes_type",
                &loc,
                MODEL_ATTRIBUTES_TYPE,
                v.clone(),
            )]),
        }
    }

    fn required<T: Default>(
        &mut self,
        name: &str,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        match self.obj.get(name) {
            Some(v) => self.check(name, v, check),
            None => {
                self.loc.push(Value::from(name));
                self.errors
                    .push(detail("missing", &self.loc, MISSING, self.input.clone()));
                self.loc.pop();
                T::default()
            }
        }
    }

    fn optional<T: Default>(
        &mut self,
        name: &str,
        default: T,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        match self.obj.get(name) {
            Some(v) => self.check(name, v, check),
            None => default,
        }
    }

    fn check<T: Default>(
        &mut self,
        name: &str,
        v: &Value,
        check: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
    ) -> T {
        self.loc.push(Value::from(name));
        let out = check(v, &mut self.loc, &mut self.errors);
        self.loc.pop();
        out.unwrap_or_default()
    }

    fn finish<T>(self, model: T) -> Result<T, Details> {
        if self.errors.is_empty() {
            Ok(model)
        } else {
            Err(self.errors)
        }
    }
}

/// Runs `validate` on `v` with field `name` moved out (when `movable`) and replaced by an empty
/// object, then `restore`s it into the result. The placeholder is valid wherever the real
/// value was, so success is unchanged; on failure `validate` runs again on the untouched
/// document, because `missing` errors echo the whole input.
fn with_field_moved<T>(
    mut v: Value,
    name: &str,
    movable: impl Fn(&Value) -> bool,
    validate: impl Fn(&Value) -> Result<T, Details>,
    restore: impl FnOnce(&mut T, Value),
) -> Result<T, Details> {
    let slot = v
        .as_object_mut()
        .and_then(|m| m.get_mut(name))
        .filter(|slot| movable(slot));
    let Some(slot) = slot else {
        return validate(&v);
    };
    let taken = std::mem::replace(slot, Value::Object(Map::new()));
    match validate(&v) {
        Ok(mut model) => {
            restore(&mut model, taken);
            Ok(model)
        }
        Err(_) => {
            if let Some(slot) = v.as_object_mut().and_then(|m| m.get_mut(name)) {
                *slot = taken;
            }
            validate(&v)
        }
    }
}

fn string(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.push(detail("string_type", loc, STRING_TYPE, v.clone()));
            None
        }
    }
}

fn anything(v: &Value, _loc: &mut Loc, _errors: &mut Details) -> Option<Value> {
    Some(v.clone())
}

fn dict(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        _ => {
            errors.push(detail("dict_type", loc, DICT_TYPE, v.clone()));
            None
        }
    }
}

/// pydantic's lax bool: booleans; the ints 0 and 1 (other ints are `bool_parsing`); floats
/// equal to 0 or 1 likewise (a fractional or huge float is `bool_type`); the strings of
/// [`str_as_bool`]; nothing else.
fn boolean(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<bool> {
    let parsed = match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => str_as_bool(s).ok_or(("bool_parsing", BOOL_PARSING)),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(_) => Err(("bool_parsing", BOOL_PARSING)),
            // Beyond i64 Python goes through float, like a JSON float does.
            None => match n.as_f64().map(float_as_int) {
                Some(Ok(0)) => Ok(false),
                Some(Ok(1)) => Ok(true),
                Some(Ok(_)) => Err(("bool_parsing", BOOL_PARSING)),
                _ => Err(("bool_type", BOOL_TYPE)),
            },
        },
        _ => Err(("bool_type", BOOL_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// pydantic's `str_as_bool`: exact (untrimmed) strings, letters compared case-insensitively.
fn str_as_bool(s: &str) -> Option<bool> {
    const FALSE: &[&str] = &["f", "n", "no", "off", "false"];
    const TRUE: &[&str] = &["t", "y", "on", "yes", "true"];
    if s == "0" || FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(false)
    } else if s == "1" || TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(true)
    } else {
        None
    }
}

/// pydantic's lax int: ints; bools (as 0/1); floats without a fractional part; integer
/// strings (see [`str_as_int`]). Python ints are unbounded but ours are `i64`: pydantic
/// accepts a larger int, so it is clamped to the i64 range here rather than refused (Feast's
/// int fields are `top_k`, where that means "no limit", and `api_version`, only ever compared
/// with 2). A JSON integer beyond u64 reaches us as a float, though, and gets pydantic's float
/// treatment (`int_parsing_size`).
fn integer(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<i64> {
    let parsed = match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(i),
            (None, Some(_), _) => Ok(i64::MAX),
            (None, None, Some(f)) => float_as_int(f),
            (None, None, None) => Err(("int_type", INT_TYPE)),
        },
        Value::String(s) => str_as_int(s),
        _ => Err(("int_type", INT_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// pydantic's `float_as_int`.
fn float_as_int(f: f64) -> Result<i64, (&'static str, &'static str)> {
    if !f.is_finite() {
        Err(("finite_number", FINITE_NUMBER))
    } else if f % 1.0 != 0.0 {
        Err(("int_from_float", INT_FROM_FLOAT))
    } else if (i64::MIN as f64) < f && f < (i64::MAX as f64) {
        // In range and integral, so the conversion is exact.
        Ok(f as i64)
    } else {
        Err(("int_parsing_size", INT_PARSING_SIZE))
    }
}

/// pydantic's `str_as_int`: a plain JSON-style integer, or else one cleaned up the way Python's
/// `int()` tolerates (surrounding whitespace, a `+`, leading zeros, `_` separators, a `.000`
/// tail).
fn str_as_int(s: &str) -> Result<i64, (&'static str, &'static str)> {
    const PARSING: (&str, &str) = ("int_parsing", INT_PARSING);
    if let Some(parsed) = plain_int(s) {
        return parsed;
    }
    match clean_int_str(s) {
        Some(cleaned) => plain_int(&cleaned).unwrap_or(Err(PARSING)),
        None => Err(PARSING),
    }
}

/// `-?(0|[1-9][0-9]*)` as an i64, clamped like [`integer`] does; `None` when `s` has another
/// shape.
fn plain_int(s: &str) -> Option<Result<i64, (&'static str, &'static str)>> {
    // Python refuses to convert longer digit strings (its `int_max_str_digits`).
    const MAX_DIGITS: usize = 4300;
    let (negative, digits) = match s.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, s),
    };
    let well_formed = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    well_formed.then(|| match s.parse::<i64>() {
        Ok(i) => Ok(i),
        Err(_) if digits.len() > MAX_DIGITS => Err(("int_parsing_size", INT_PARSING_SIZE)),
        // Well-formed, so the only other failure is overflow.
        Err(_) => Ok(if negative { i64::MIN } else { i64::MAX }),
    })
}

/// pydantic-core's `clean_int_str`.
fn clean_int_str(original: &str) -> Option<String> {
    let mut s = original.trim();
    if let Some(rest) = s.strip_prefix('+') {
        if rest.starts_with('-') {
            return None;
        }
        s = rest;
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        if rest.starts_with('-') || rest.starts_with('+') {
            return None;
        }
        negative = true;
        s = rest;
    }
    s = strip_leading_zeros(s)?;
    if let Some(i) = s.find('.') {
        let decimals = &s[i + 1..];
        if !decimals.is_empty() && decimals.chars().all(|c| c == '0') {
            s = &s[..i];
        }
    }
    let sign = if negative { "-" } else { "" };
    if let Some(stripped) = strip_underscores(s) {
        return Some(format!("{sign}{stripped}"));
    }
    if original.len() == s.len() {
        return None;
    }
    Some(format!("{sign}{s}"))
}

/// pydantic-core's `strip_leading_zeros`: `000` -> `0`, `00.0` -> `0.0`, `0_001` -> `1`.
fn strip_leading_zeros(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '0')) => {}
        Some((_, c)) if c.is_ascii_digit() || c == '-' => return Some(s),
        _ => return None,
    }
    for (i, c) in chars {
        match c {
            '0' | '_' => {}
            '1'..='9' | '-' => return s.get(i..),
            // Keep the zero before the point. Everything before `i` is ASCII.
            '.' => return s.get(i - 1..),
            _ => return None,
        }
    }
    // All zeros (or underscores): keep the last character.
    s.get(s.len() - 1..)
}

/// pydantic-core's `strip_underscores`: `1_000` -> `1000`; `None` when there are none or they
/// are misplaced (leading, trailing, doubled), as Python's `int()` refuses those.
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || !s.contains('_') || s.contains("__") {
        None
    } else {
        Some(s.replace('_', ""))
    }
}

/// pydantic's lax float: numbers, bools (0.0/1.0), and strings Rust's `f64` parser accepts
/// (pydantic-core uses it too, so `"nan"`, `"inf"`, `" 1e3 "`, `"1_0.5"` all pass).
fn number(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<f64> {
    let parsed = match v {
        Value::Number(n) => n.as_f64().ok_or(("float_type", FLOAT_TYPE)),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .or_else(|| strip_underscores(s).and_then(|t| t.parse().ok()))
            .ok_or(("float_parsing", FLOAT_PARSING)),
        _ => Err(("float_type", FLOAT_TYPE)),
    };
    parsed
        .map_err(|(kind, msg)| errors.push(detail(kind, loc, msg, v.clone())))
        .ok()
}

/// A list (only a JSON array is one); element errors are located by their integer index.
fn list<T>(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
    element: impl Fn(&Value, &mut Loc, &mut Details) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Array(items) = v else {
        errors.push(detail("list_type", loc, LIST_TYPE, v.clone()));
        return None;
    };
    let mut out = Some(Vec::with_capacity(items.len()));
    for (i, item) in items.iter().enumerate() {
        loc.push(Value::from(i));
        let checked = element(item, loc, errors);
        loc.pop();
        match (checked, &mut out) {
            (Some(x), Some(out)) => out.push(x),
            _ => out = None,
        }
    }
    out
}

/// `Optional[...]`: `null` is `None`, anything else must pass `inner` (whose errors are
/// reported as they are, without a union label).
fn nullable<T>(
    v: &Value,
    loc: &mut Loc,
    errors: &mut Details,
    inner: impl FnOnce(&Value, &mut Loc, &mut Details) -> Option<T>,
) -> Option<Option<T>> {
    match v {
        Value::Null => Some(None),
        _ => inner(v, loc, errors).map(Some),
    }
}

/// `Dict[str, List[Any]]`: an object whose values are lists, located by key.
fn entities(v: &Value, loc: &mut Loc, errors: &mut Details) -> Option<Vec<(String, Vec<Value>)>> {
    let Value::Object(map) = v else {
        errors.push(detail("dict_type", loc, DICT_TYPE, v.clone()));
        return None;
    };
    let mut out = Some(Vec::with_capacity(map.len()));
    for (key, values) in map {
        loc.push(Value::from(key.as_str()));
        let checked = list(values, loc, errors, anything);
        loc.pop();
        match (checked, &mut out) {
            (Some(values), Some(out)) => out.push((key.clone(), values)),
            _ => out = None,
        }
    }
    out
}

/// A `Literal[...]` of strings: only an exactly equal string passes.
fn literal(v: &Value, loc: &mut Loc, errors: &mut Details, allowed: &[&str]) -> Option<String> {
    if let Value::String(s) = v
        && allowed.contains(&s.as_str())
    {
        return Some(s.clone());
    }
    // pydantic lists the choices as Python reprs: "'a', 'b' or 'c'".
    let reprs: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    let expected = match reprs.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let mut ctx = Map::new();
    ctx.insert("expected".into(), Value::from(expected.as_str()));
    errors.push(ValidationDetail {
        kind: "literal_error".into(),
        loc: loc.to_vec(),
        msg: format!("Input should be {expected}"),
        input: v.clone(),
        ctx: Some(Value::Object(ctx)),
    });
    None
}

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
