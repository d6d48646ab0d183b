use proptest::prelude::*;

use super::*;

fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn owned(keys: &[(&str, &Value)]) -> Vec<(String, Value)> {
    keys.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
        .collect()
}

#[test]
fn golden_int64_key() {
    let v = Value::Int64(1001);
    let bytes = serialize_entity_key(&[("driver_id", &v)]).unwrap();
    let want = [
        &[0x01, 0x00, 0x00, 0x00][..],
        &[0x02, 0x00, 0x00, 0x00],
        &[0x09, 0x00, 0x00, 0x00],
        b"driver_id",
        &[0x04, 0x00, 0x00, 0x00],
        &[0x08, 0x00, 0x00, 0x00],
        &[0xe9, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]
    .concat();
    assert_eq!(bytes, want);
    assert_eq!(
        deserialize_entity_key(&bytes).unwrap(),
        vec![("driver_id".to_owned(), v)]
    );
}

#[test]
fn golden_string_key() {
    let v = Value::String("alice".into());
    let bytes = serialize_entity_key(&[("user", &v)]).unwrap();
    let want = [
        &[0x01, 0x00, 0x00, 0x00][..],
        &[0x02, 0x00, 0x00, 0x00],
        &[0x04, 0x00, 0x00, 0x00],
        b"user",
        &[0x02, 0x00, 0x00, 0x00],
        &[0x05, 0x00, 0x00, 0x00],
        b"alice",
    ]
    .concat();
    assert_eq!(bytes, want);
}

#[test]
fn golden_composite_key_is_sorted_by_name() {
    let zone = Value::String("north".into());
    let driver = Value::Int64(7);
    let bytes = serialize_entity_key(&[("zone", &zone), ("driver_id", &driver)]).unwrap();
    let want = [
        &[0x02, 0x00, 0x00, 0x00][..], // two keys
        &[0x02, 0x00, 0x00, 0x00],     // STRING
        &[0x09, 0x00, 0x00, 0x00],
        b"driver_id",
        &[0x02, 0x00, 0x00, 0x00], // STRING
        &[0x04, 0x00, 0x00, 0x00],
        b"zone",
        &[0x04, 0x00, 0x00, 0x00], // INT64
        &[0x08, 0x00, 0x00, 0x00],
        &[0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x02, 0x00, 0x00, 0x00], // STRING
        &[0x05, 0x00, 0x00, 0x00],
        b"north",
    ]
    .concat();
    assert_eq!(bytes, want);
    assert_eq!(
        serialize_entity_key(&[("driver_id", &driver), ("zone", &zone)]).unwrap(),
        want
    );
    assert_eq!(
        deserialize_entity_key(&bytes).unwrap(),
        vec![("driver_id".to_owned(), driver), ("zone".to_owned(), zone)]
    );
}

#[test]
fn golden_other_key_types() {
    let cases: [(Value, u32, Vec<u8>); 3] = [
        (Value::Int32(-2), 3, (-2i32).to_le_bytes().to_vec()),
        (
            Value::UnixTimestamp(1_700_000_000),
            8,
            1_700_000_000i64.to_le_bytes().to_vec(),
        ),
        (Value::Bytes(vec![0, 255, 7]), 1, vec![0, 255, 7]),
    ];
    for (value, value_type, payload) in cases {
        let bytes = serialize_entity_key(&[("k", &value)]).unwrap();
        let want = [
            u32le(1),
            u32le(2),
            u32le(1),
            b"k".to_vec(),
            u32le(value_type),
            u32le(payload.len() as u32),
            payload,
        ]
        .concat();
        assert_eq!(bytes, want, "{value:?}");
        assert_eq!(
            deserialize_entity_key(&bytes).unwrap(),
            owned(&[("k", &value)])
        );
    }
}

#[test]
fn unsupported_values_name_the_key_and_kind() {
    let err = serialize_entity_key(&[("driver_id", &Value::Float(1.5))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entity key `driver_id` cannot hold a Float value; keys are Int32, Int64, String, Bytes or UnixTimestamp"
    );
    for v in [
        Value::Null,
        Value::Double(1.0),
        Value::Bool(true),
        Value::List(vec![]),
        Value::Map(vec![]),
        Value::Json("{}".into()),
        Value::Struct(vec![]),
    ] {
        assert!(matches!(
            serialize_entity_key(&[("a", &Value::Int64(1)), ("b", &v)]),
            Err(EntityKeyError::UnsupportedValue { ref key, .. }) if key == "b"
        ));
    }
}

#[test]
fn a_failed_append_leaves_the_buffer_untouched() {
    let mut out = b"prefix".to_vec();
    let r = serialize_entity_key_into(
        &[("a", &Value::Int64(1)), ("b", &Value::Bool(true))],
        &mut out,
    );
    assert!(r.is_err());
    assert_eq!(out, b"prefix");
    serialize_entity_key_into(&[("a", &Value::Int64(1))], &mut out).unwrap();
    assert_eq!(
        &out[6..],
        &serialize_entity_key(&[("a", &Value::Int64(1))]).unwrap()[..]
    );
}

#[test]
fn empty_and_duplicate_keys_are_rejected() {
    assert_eq!(serialize_entity_key(&[]), Err(EntityKeyError::Empty));
    let one = Value::Int64(1);
    let two = Value::Int64(2);
    for keys in [[("a", &one), ("a", &two)], [("b", &one), ("b", &two)]] {
        assert_eq!(
            serialize_entity_key(&keys),
            Err(EntityKeyError::DuplicateKey(keys[0].0.to_owned()))
        );
    }
    let three = [("b", &one), ("a", &one), ("b", &two)];
    assert_eq!(
        serialize_entity_key(&three),
        Err(EntityKeyError::DuplicateKey("b".into()))
    );
}

#[test]
fn names_sort_by_bytes() {
    let v = Value::Int32(1);
    let bytes = serialize_entity_key(&[("é", &v), ("z", &v), ("Z", &v)]).unwrap();
    let names: Vec<String> = deserialize_entity_key(&bytes)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(names, ["Z", "z", "é"]);
}

#[test]
fn malformed_bytes_are_errors() {
    let good = serialize_entity_key(&[("user", &Value::String("alice".into()))]).unwrap();
    for cut in 0..good.len() {
        assert!(
            deserialize_entity_key(&good[..cut]).is_err(),
            "prefix {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(deserialize_entity_key(&trailing).is_err());
    // key type other than STRING
    let mut bad = good.clone();
    bad[4] = 3;
    assert!(deserialize_entity_key(&bad).is_err());
    // an Int64 value with a wrong length
    let wrong_len = [
        u32le(1),
        u32le(2),
        u32le(1),
        b"k".to_vec(),
        u32le(4),
        u32le(4),
        vec![1, 2, 3, 4],
    ]
    .concat();
    let err = deserialize_entity_key(&wrong_len).unwrap_err();
    assert!(err.to_string().contains("exactly 8"), "{err}");
    // a huge key count
    let huge = [u32le(u32::MAX), vec![0; 32]].concat();
    assert!(deserialize_entity_key(&huge).is_err());
    assert!(deserialize_entity_key(&u32le(0)).is_err());
}

fn arb_key_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
        any::<i32>().prop_map(Value::Int32),
        any::<i64>().prop_map(Value::Int64),
        any::<i64>().prop_map(Value::UnixTimestamp),
    ]
}

fn arb_key() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::btree_map("[a-zA-Z_0-9é]{0,12}", arb_key_value(), 1..6)
        .prop_map(|m| m.into_iter().collect())
}

fn borrowed(keys: &[(String, Value)]) -> Vec<(&str, &Value)> {
    keys.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

proptest! {
    #[test]
    fn round_trips_sorted(
        (sorted, shuffled) in arb_key().prop_flat_map(|k| (Just(k.clone()), Just(k).prop_shuffle()))
    ) {
        // `arb_key` comes from a BTreeMap, so `sorted` is in byte order of the names.
        let bytes = serialize_entity_key(&borrowed(&shuffled)).unwrap();
        prop_assert_eq!(deserialize_entity_key(&bytes).unwrap(), sorted);
    }

    #[test]
    fn input_order_never_changes_the_output(
        (keys, shuffled) in arb_key().prop_flat_map(|k| (Just(k.clone()), Just(k).prop_shuffle()))
    ) {
        prop_assert_eq!(
            serialize_entity_key(&borrowed(&keys)).unwrap(),
            serialize_entity_key(&borrowed(&shuffled)).unwrap()
        );
    }

    #[test]
    fn deserialize_never_panics(bytes in any::<Vec<u8>>()) {
        let _ = deserialize_entity_key(&bytes);
    }

    #[test]
    fn deserialize_never_panics_near_valid_input(
        keys in arb_key(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut bytes = serialize_entity_key(&borrowed(&keys)).unwrap();
        for (at, b) in edits {
            let len = bytes.len();
            bytes[at % len] = b;
        }
        let _ = deserialize_entity_key(&bytes);
        let _ = deserialize_entity_key(&bytes[..cut % (bytes.len() + 1)]);
    }
}
