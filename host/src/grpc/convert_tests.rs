//! The conversions against the bytes Feast's own gRPC server read and wrote
//! (tests/fixtures/feast-0.67/grpc-observed.json).

use std::collections::BTreeMap;

use prost::Message;
use serde_json::json;

use super::*;
use crate::serving::response::ResponseColumn;

const OBSERVED: &str = include_str!("../../../tests/fixtures/feast-0.67/grpc-observed.json");

fn observed_hex(call: &str, field: &str) -> Vec<u8> {
    let all: serde_json::Value = serde_json::from_str(OBSERVED).unwrap();
    let hex = all[call][field].as_str().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_feast_client_request_becomes_the_core_request() {
    let bytes = observed_hex("features_list", "request_hex");
    let req = online_request(GetOnlineFeaturesRequest::decode(&bytes[..]).unwrap()).unwrap();
    assert_eq!(
        req.features,
        [
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:avg_daily_trips"
        ]
    );
    assert_eq!(req.feature_service, None);
    assert!(!req.full_feature_names);
    assert_eq!(
        req.entities,
        [("driver_id".to_string(), vec![json!(1001), json!(9999)])]
    );
}

#[test]
fn request_data_follows_the_entities() {
    let bytes = observed_hex("feature_service_with_request_context", "request_hex");
    let req = online_request(GetOnlineFeaturesRequest::decode(&bytes[..]).unwrap()).unwrap();
    assert_eq!(req.feature_service.as_deref(), Some("driver_activity_v1"));
    let names: Vec<&str> = req.entities.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["driver_id", "val_to_add", "val_to_add_2"]);
    assert_eq!(req.entities[2].1, [json!(2000)]);
}

#[test]
fn the_response_is_byte_for_byte_feasts() {
    // What Feast answered for driver 1002's conv_rate with full feature names.
    let resp = OnlineResponse {
        feature_names: vec!["driver_id".into(), "driver_hourly_stats__conv_rate".into()],
        columns: vec![
            ResponseColumn {
                values: vec![Value::Int64(1002)],
                statuses: vec![FieldStatus::Present],
                event_ts_micros: vec![0],
            },
            ResponseColumn {
                values: vec![Value::Float(f32::from_le_bytes([0x6e, 0xae, 0xee, 0x3d]))],
                statuses: vec![FieldStatus::Present],
                event_ts_micros: vec![1_795_485_600_000_000],
            },
        ],
    };
    let bytes = online_response(resp).unwrap().encode_to_vec();
    assert_eq!(bytes, observed_hex("full_feature_names", "response_hex"));
}

#[test]
fn a_missing_row_has_a_null_value_and_an_empty_timestamp() {
    let resp = OnlineResponse {
        feature_names: vec!["avg_daily_trips".into()],
        columns: vec![ResponseColumn {
            values: vec![Value::Int64(108), Value::Null],
            statuses: vec![FieldStatus::Present, FieldStatus::NotFound],
            event_ts_micros: vec![1_795_485_600_000_000, 0],
        }],
    };
    let bytes = online_response(resp).unwrap().encode_to_vec();
    // The column as Feast wrote it (`12 14 ...` in features_list's response).
    let feast = observed_hex("features_list", "response_hex");
    let column = [
        0x12, 0x14, 0x0a, 0x02, 0x20, 0x6c, 0x0a, 0x00, 0x12, 0x02, 0x01, 0x03, 0x1a, 0x06, 0x08,
        0xa0, 0xdf, 0x93, 0xd8, 0x06, 0x1a, 0x00,
    ];
    assert!(feast.windows(column.len()).any(|w| w == column));
    assert!(bytes.ends_with(&column));
}

#[test]
fn pushed_strings_are_read_by_their_columns_dtype() {
    let features: BTreeMap<String, String> = [
        ("driver_id", "1001"),
        ("conv_rate", "0.5"),
        ("driver_metadata", r#"{"a": "b"}"#),
        ("driver_config", r#"{"k": 1}"#),
        ("name", "007"),
        ("event_timestamp", "2026-11-30 12:00:00"),
        ("undeclared", "12"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let columns: BTreeMap<&str, &DType> = [
        ("driver_id", &DType::Int64),
        ("conv_rate", &DType::Float32),
        ("driver_metadata", &DType::Map),
        ("driver_config", &DType::Json),
        ("name", &DType::String),
    ]
    .into_iter()
    .collect();
    let df = frame(features, BTreeMap::new(), &columns).unwrap();
    assert_eq!(df["driver_id"], json!([1001]));
    assert_eq!(df["conv_rate"], json!([0.5]));
    assert_eq!(df["driver_metadata"], json!([{"a": "b"}]));
    assert_eq!(df["driver_config"], json!([r#"{"k": 1}"#]));
    assert_eq!(df["name"], json!(["007"]));
    assert_eq!(df["event_timestamp"], json!(["2026-11-30 12:00:00"]));
    assert_eq!(df["undeclared"], json!(["12"]));
}

#[test]
fn typed_features_and_string_features_are_exclusive() {
    let strings: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
    let typed: BTreeMap<String, WireValue> = [(
        "b".to_string(),
        WireValue::encode(&Value::Int64(2)).unwrap(),
    )]
    .into();
    let e = frame(strings, typed.clone(), &BTreeMap::new()).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let df = frame(BTreeMap::new(), typed, &BTreeMap::new()).unwrap();
    assert_eq!(df["b"], json!([2]));
}
