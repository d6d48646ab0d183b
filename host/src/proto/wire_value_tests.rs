use prost::Message;

use super::*;
use crate::proto::feast::types::RepeatedValue;

#[test]
fn values_keep_their_bytes_through_a_message() {
    // `RepeatedValue{val: [int64 1001, int64 9999, null]}` as Feast's Python client writes it.
    let bytes = [
        0x0a, 0x03, 0x20, 0xe9, 0x07, 0x0a, 0x03, 0x20, 0x8f, 0x4e, 0x0a, 0x00,
    ];
    let decoded = RepeatedValue::decode(&bytes[..]).unwrap();
    let values: Vec<Value> = decoded.val.iter().map(|v| v.value().unwrap()).collect();
    assert_eq!(
        values,
        [Value::Int64(1001), Value::Int64(9999), Value::Null]
    );
    assert_eq!(decoded.encode_to_vec(), bytes);
}

#[test]
fn every_wire_type_is_copied_verbatim() {
    // double_val 1.5 (fixed64), float_val 0.5 (fixed32), bool_val true (varint): a oneof seen
    // three times, where the last one wins.
    let mut bytes = vec![0x29];
    bytes.extend_from_slice(&1.5f64.to_le_bytes());
    bytes.push(0x35);
    bytes.extend_from_slice(&0.5f32.to_le_bytes());
    bytes.extend_from_slice(&[0x38, 0x01]);
    let v = WireValue::decode(&bytes[..]).unwrap();
    assert_eq!(v.as_bytes(), &bytes[..]);
    assert_eq!(v.value().unwrap(), Value::Bool(true));
}

#[test]
fn a_truncated_value_is_a_decode_error_not_a_panic() {
    // string_val claiming 5 bytes with 2 present.
    assert!(WireValue::decode(&[0x12, 0x05, b'a', b'b'][..]).is_err());
    // A varint that never ends.
    assert!(WireValue::decode(&[0x20, 0xff, 0xff][..]).is_err());
}

#[test]
fn an_unsupported_kind_decodes_but_is_refused_when_read() {
    // uuid_val (36): framed fine, but edgefeat has no UUID dtype.
    let v = WireValue::decode(&[0xa2, 0x02, 0x01, b'x'][..]).unwrap();
    assert!(v.value().unwrap_err().to_string().contains("uuid_val"));
}

#[test]
fn encoding_matches_feasts_bytes() {
    // float 0.66442907 as Feast's server answered it (`35 06182a3f`).
    let v = WireValue::encode(&Value::Float(f32::from_le_bytes([0x06, 0x18, 0x2a, 0x3f]))).unwrap();
    assert_eq!(v.as_bytes(), [0x35, 0x06, 0x18, 0x2a, 0x3f]);
    assert_eq!(WireValue::encode(&Value::Null).unwrap().as_bytes(), b"");
    let list = WireValue::encode_as(
        &Value::List(vec![]),
        &DType::Array(Box::new(DType::Float32)),
    )
    .unwrap();
    // An empty float_list_val (16): `82 01 00`.
    assert_eq!(list.as_bytes(), [0x82, 0x01, 0x00]);
}

#[test]
fn a_value_of_several_fields_keeps_them_all_in_order() {
    // int64_val 1 then string_val "x": two fields of one message (the last wins when read).
    let bytes = [0x20, 0x01, 0x1a, 0x01, b'x'];
    let v = WireValue::decode(&bytes[..]).unwrap();
    assert_eq!(v.as_bytes(), bytes);
}

#[test]
fn short_and_long_values_keep_their_bytes() {
    // Strings from empty to past what is held inline (23 bytes of message), and a long list.
    let mut values: Vec<Value> = (0..40).map(|n| Value::String("é".repeat(n))).collect();
    values.push(Value::List((0..50).map(Value::Int64).collect()));
    let column = RepeatedValue {
        val: values
            .iter()
            .map(|v| WireValue::encode(v).unwrap())
            .collect(),
    };
    let bytes = column.encode_to_vec();
    let decoded = RepeatedValue::decode(&bytes[..]).unwrap();
    assert_eq!(decoded, column);
    assert_eq!(decoded.encode_to_vec(), bytes);
    let read: Vec<Value> = decoded.val.iter().map(|v| v.value().unwrap()).collect();
    assert_eq!(read, values);
}
