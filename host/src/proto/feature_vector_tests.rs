use proptest::prelude::*;
use prost::Message;

use super::{EncodedFeatureVector, timestamp};
use crate::proto::WireValue;
use crate::proto::client::feast::serving::get_online_features_response::FeatureVector;
use crate::types::Value;

/// The generated message for the same column, as a client decodes it.
fn generated(values: &[Value], statuses: &[i32], micros: &[i64]) -> FeatureVector {
    FeatureVector {
        values: values
            .iter()
            .map(|v| WireValue::encode(v).unwrap())
            .collect(),
        statuses: statuses.to_vec(),
        event_timestamps: micros
            .iter()
            .map(|&m| {
                let (seconds, nanos) = timestamp(m);
                prost_types::Timestamp { seconds, nanos }
            })
            .collect(),
    }
}

fn encoded(values: &[Value], statuses: &[i32], micros: &[i64]) -> EncodedFeatureVector {
    EncodedFeatureVector::encode(values, statuses.iter().copied(), micros).unwrap()
}

#[test]
fn a_column_is_the_bytes_prost_writes_for_it() {
    let values = [
        Value::Int64(1001),
        Value::Null,
        Value::Double(0.5),
        Value::String("x".repeat(300)),
        Value::List(vec![Value::Int64(1), Value::Int64(2)]),
    ];
    // Found, missing, null, and a timestamp before the epoch, one on a whole second, one at it.
    let statuses = [1, 3, 2, 1, 4];
    let micros = [1_700_000_000_123_456, 0, -1, 1_700_000_000_000_000, 999];
    let ours = encoded(&values, &statuses, &micros);
    let theirs = generated(&values, &statuses, &micros);
    assert_eq!(ours.as_bytes(), theirs.encode_to_vec().as_slice());
    // And it decodes as the generated message, to the same column.
    assert_eq!(FeatureVector::decode(ours.as_bytes()).unwrap(), theirs);
}

#[test]
fn sub_second_timestamps_keep_their_nanos() {
    assert_eq!(timestamp(-1), (-1, 999_999_000));
    assert_eq!(timestamp(1_500_000), (1, 500_000_000));
    assert_eq!(timestamp(0), (0, 0));
}

#[test]
fn an_empty_column_is_an_empty_message() {
    assert!(encoded(&[], &[], &[]).as_bytes().is_empty());
}

#[test]
fn a_decoded_column_encodes_to_the_same_bytes() {
    let ours = encoded(
        &[Value::Int64(7), Value::Bool(true)],
        &[1, 1],
        &[1_000_000, 2_500_000],
    );
    let decoded = EncodedFeatureVector::decode(ours.as_bytes()).unwrap();
    assert_eq!(decoded.encode_to_vec(), ours.as_bytes());
}

#[test]
fn a_value_that_cannot_be_encoded_fails_the_column() {
    // A list that mixes element kinds has no Feast list type.
    let mixed = Value::List(vec![Value::Int64(1), Value::String("a".into())]);
    assert!(EncodedFeatureVector::encode(&[mixed], [1].into_iter(), &[0]).is_err());
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int64),
        any::<i32>().prop_map(Value::Int32),
        any::<f64>().prop_map(Value::Double),
        any::<bool>().prop_map(Value::Bool),
        ".{0,200}".prop_map(Value::String),
        prop::collection::vec(any::<i64>().prop_map(Value::Int64), 1..4).prop_map(Value::List),
    ]
}

proptest! {
    #[test]
    fn every_column_is_the_bytes_prost_writes_for_it(
        rows in prop::collection::vec((arb_value(), 0i32..5, any::<i64>()), 0..40)
    ) {
        let values: Vec<Value> = rows.iter().map(|r| r.0.clone()).collect();
        let statuses: Vec<i32> = rows.iter().map(|r| r.1).collect();
        let micros: Vec<i64> = rows.iter().map(|r| r.2).collect();
        let ours = encoded(&values, &statuses, &micros);
        let theirs = generated(&values, &statuses, &micros).encode_to_vec();
        prop_assert_eq!(ours.as_bytes(), theirs.as_slice());
    }
}
