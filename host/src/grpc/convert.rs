//! Between Feast's gRPC messages and the core's types: a read request in, the columnar response
//! out, and the rows of a push or write.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use tonic::Status;

use crate::proto::feast::serving::get_online_features_request::Kind;
use crate::proto::feast::serving::{
    FeatureList, GetOnlineFeaturesRequest, GetOnlineFeaturesResponse,
    GetOnlineFeaturesResponseMetadata,
};
use crate::proto::feast::types::RepeatedValue;
use crate::proto::{EncodedFeatureVector, WireValue};
use crate::registry::FeatureView;
use crate::serving::OwnedOnlineRequest;
use crate::serving::response::{FieldStatus, OnlineResponse};
use crate::types::json::value_to_json;
use crate::types::{DType, Value};

/// The core's request for a gRPC one. Entity columns come first, then request data
/// (`request_context`), each in name order: a protobuf map has none of its own. A name in
/// both is taken from `entities`. (Feast's `feast listen` ignores `request_context`, so an
/// on-demand view with request data cannot be served there; here it is.)
pub fn online_request(req: GetOnlineFeaturesRequest) -> Result<OwnedOnlineRequest, Status> {
    let (feature_service, features) = match req.kind {
        Some(Kind::FeatureService(name)) => (Some(name), Vec::new()),
        Some(Kind::Features(list)) => (None, list.val),
        None => (None, Vec::new()),
    };
    let mut entities = Vec::with_capacity(req.entities.len() + req.request_context.len());
    for (name, column) in req.entities {
        entities.push((name, json_column(&column)?));
    }
    for (name, column) in req.request_context {
        if entities.iter().all(|(n, _)| *n != name) {
            entities.push((name, json_column(&column)?));
        }
    }
    Ok(OwnedOnlineRequest {
        entities,
        feature_service,
        features,
        full_feature_names: req.full_feature_names,
    })
}

/// A column of request values as the JSON the core coerces (the HTTP front's input). Bytes
/// keep their bytes as text, which is how the core reads a Bytes key from JSON.
fn json_column(column: &RepeatedValue) -> Result<Vec<Json>, Status> {
    // Sized up front (collecting `Result`s would grow the vector by reallocs).
    let mut json = Vec::with_capacity(column.val.len());
    for v in &column.val {
        let value = v
            .value()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        json.push(match value {
            Value::Bytes(b) => Json::String(String::from_utf8_lossy(&b).into_owned()),
            other => value_to_json(other),
        });
    }
    Ok(json)
}

/// The response message for the core's response: `metadata.feature_names[i]` names
/// `results[i]`, whose values, statuses and event timestamps have one entry per entity row.
/// Join keys and values not found carry the empty timestamp, as Feast's do.
pub fn online_response(resp: OnlineResponse) -> Result<GetOnlineFeaturesResponse, Status> {
    let results = resp
        .columns
        .into_iter()
        .map(|column| {
            EncodedFeatureVector::encode(
                &column.values,
                column.statuses.iter().map(|&s| status_number(s)),
                &column.event_ts_micros,
            )
            .map_err(|e| Status::internal(e.to_string()))
        })
        .collect::<Result<Vec<_>, Status>>()?;
    Ok(GetOnlineFeaturesResponse {
        metadata: Some(GetOnlineFeaturesResponseMetadata {
            feature_names: Some(FeatureList {
                val: resp.feature_names,
            }),
            feature_view_metadata: Vec::new(),
        }),
        results,
        // Feast's server never sets it.
        status: false,
    })
}

fn status_number(s: FieldStatus) -> i32 {
    match s {
        FieldStatus::Invalid => 0,
        FieldStatus::Present => 1,
        FieldStatus::NullValue => 2,
        FieldStatus::NotFound => 3,
        FieldStatus::OutsideMaxAge => 4,
    }
}

/// The one-row frame of a push or write: `features` (every value a string, as Feast's gRPC
/// server takes them) or `typed_features` (each a `Value`), not both.
///
/// A string is read by the dtype its column has in the views the rows are for (`columns`),
/// as pandas and Feast's conversions would: a number, a bool, a list, a map or a struct from
/// its JSON text; a string, a Bytes value, a Json value or a timestamp as the text itself.
/// A column no view declares stays a string.
pub fn frame(
    features: BTreeMap<String, String>,
    typed_features: BTreeMap<String, WireValue>,
    columns: &BTreeMap<&str, &DType>,
) -> Result<Map<String, Json>, Status> {
    if !features.is_empty() && !typed_features.is_empty() {
        return Err(Status::invalid_argument(
            "Only one of features or typed_features may be set",
        ));
    }
    let mut df = Map::new();
    for (name, text) in features {
        let value = match columns.get(name.as_str()) {
            Some(dtype) if parses_from_json(dtype) => {
                serde_json::from_str(&text).unwrap_or(Json::String(text))
            }
            _ => Json::String(text),
        };
        df.insert(name, Json::Array(vec![value]));
    }
    for (name, value) in typed_features {
        let value = value
            .value()
            .map_err(|e| Status::invalid_argument(format!("{name}: {e}")))?;
        df.insert(name, Json::Array(vec![value_to_json(value)]));
    }
    Ok(df)
}

/// Whether a string value of a column of this dtype is its JSON text.
fn parses_from_json(dtype: &DType) -> bool {
    !matches!(
        dtype,
        DType::String | DType::Bytes | DType::Json | DType::UnixTimestamp
    )
}

/// The declared dtype of every column the views named by `views` write: entity columns and
/// features (a timestamp column is not among them, and stays text).
pub fn declared_columns<'r>(
    views: impl Iterator<Item = &'r FeatureView>,
) -> BTreeMap<&'r str, &'r DType> {
    let mut columns = BTreeMap::new();
    for view in views {
        for field in view.entity_columns.iter().chain(&view.features) {
            columns.entry(field.name.as_str()).or_insert(&field.dtype);
        }
    }
    columns
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
