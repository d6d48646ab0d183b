use proptest::prelude::*;

use super::*;

fn enc(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out
}

/// Equality that compares floats by their bits, so NaN round trips can be checked.
fn bit_eq(a: &Value, b: &Value) -> bool {
    let entries_eq = |x: &[(String, Value)], y: &[(String, Value)]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|((kx, vx), (ky, vy))| kx == ky && bit_eq(vx, vy))
    };
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| bit_eq(x, y))
        }
        (Value::Map(x), Value::Map(y)) | (Value::Struct(x), Value::Struct(y)) => entries_eq(x, y),
        _ => a == b,
    }
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

#[test]
fn golden_values() {
    let cases: Vec<(Value, Vec<u8>)> = vec![
        (Value::Null, vec![0x00]),
        (Value::Int64(1001), vec![0x04, 0xe9, 0x03, 0, 0, 0, 0, 0, 0]),
        (s("ab"), vec![0x02, 0x02, b'a', b'b']),
        (Value::Bytes(vec![0xff]), vec![0x01, 0x01, 0xff]),
        (Value::Int32(-1), vec![0x03, 0xff, 0xff, 0xff, 0xff]),
        (Value::Double(1.0), vec![0x05, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
        (Value::Bool(true), vec![0x07, 0x01]),
        (Value::UnixTimestamp(1), vec![0x08, 1, 0, 0, 0, 0, 0, 0, 0]),
        (Value::Json("{}".into()), vec![0x0c, 0x02, b'{', b'}']),
        (
            Value::List(vec![Value::Float(1.0), Value::Float(-2.5)]),
            vec![
                0x0a, 0x02, // List of 2
                0x06, 0x00, 0x00, 0x80, 0x3f, // Float 1.0
                0x06, 0x00, 0x00, 0x20, 0xc0, // Float -2.5
            ],
        ),
        (
            Value::Map(vec![("k".into(), Value::Int32(1))]),
            vec![0x0b, 0x01, 0x01, b'k', 0x03, 0x01, 0x00, 0x00, 0x00],
        ),
        (
            Value::Struct(vec![
                ("a".into(), Value::Bool(true)),
                ("b".into(), Value::Null),
            ]),
            vec![0x0d, 0x02, 0x01, b'a', 0x07, 0x01, 0x01, b'b', 0x00],
        ),
    ];
    for (value, want) in cases {
        assert_eq!(enc(&value), want, "{value:?}");
        assert_eq!(encoded_len(&value), want.len(), "{value:?}");
        assert_eq!(decode_value(&want).unwrap(), (value, want.len()));
    }
}

#[test]
fn golden_row() {
    let mut out = Vec::new();
    encode_row(1, -1, &[("a", &Value::Int32(5))], &mut out);
    let want = [
        &[0x01][..],                     // format version
        &[1, 0, 0, 0, 0, 0, 0, 0],       // event_ts
        &[0xff; 8],                      // created_ts = -1
        &[0x01],                         // one feature
        &[0x01, b'a'],                   // name
        &[0x05],                         // value length
        &[0x03, 0x05, 0x00, 0x00, 0x00], // Int32 5
    ]
    .concat();
    assert_eq!(out, want);
    assert_eq!(decode_row_header(&out).unwrap(), (1, -1));
}

#[test]
fn long_strings_use_multi_byte_varints() {
    let v = s(&"x".repeat(300));
    let bytes = enc(&v);
    assert_eq!(&bytes[..3], &[0x02, 0xac, 0x02]);
    assert_eq!(bytes.len(), 303);
    assert_eq!(encoded_len(&v), 303);
    assert_eq!(decode_value(&bytes).unwrap(), (v, 303));
}

#[test]
fn varints_round_trip_at_the_edges() {
    for v in [
        0,
        1,
        127,
        128,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX - 1,
        u64::MAX,
    ] {
        let mut out = Vec::new();
        put_varint(v, &mut out);
        assert_eq!(out.len(), varint_len(v), "{v}");
        let mut r = Reader { rest: &out };
        assert_eq!(r.varint("test").unwrap(), v);
        assert!(r.rest.is_empty());
    }
    // 11 bytes, and a 10th byte carrying more than the 64th bit
    let mut r = Reader { rest: &[0xff; 11] };
    assert!(matches!(r.varint("t"), Err(CodecError::BadVarint { .. })));
    let mut too_big = vec![0xff; 9];
    too_big.push(0x02);
    let mut r = Reader { rest: &too_big };
    assert!(matches!(r.varint("t"), Err(CodecError::BadVarint { .. })));
    // overlong: 0 spelled in two bytes
    let mut r = Reader {
        rest: &[0x80, 0x00],
    };
    assert!(matches!(r.varint("t"), Err(CodecError::BadVarint { .. })));
}

#[test]
fn sizes() {
    assert_eq!(enc(&Value::Int64(42)).len(), 9);
    assert_eq!(enc(&s("0123456789")).len(), 12);
    let short_map = Value::Map(vec![("k1".into(), s("v1")), ("k2".into(), s("v2"))]);
    let short_struct = Value::Struct(vec![("f1".into(), s("v1")), ("f2".into(), s("v2"))]);
    let (f1, f2, f3, n) = (
        Value::Float(0.5),
        Value::Float(1.5),
        Value::Float(2.5),
        Value::Int64(1_000_000),
    );
    let mut row = Vec::new();
    encode_row(
        1_700_000_000_000_000,
        1_700_000_000_000_001,
        &[
            ("f1", &f1),
            ("f2", &f2),
            ("f3", &f3),
            ("n", &n),
            ("m", &short_map),
            ("st", &short_struct),
        ],
        &mut row,
    );
    // header 18, then (name + value length + value): 3 × (3 + 1 + 5) Floats,
    // (2 + 1 + 9) Int64, (2 + 1 + 16) Map, (3 + 1 + 16) Struct
    assert_eq!(row.len(), 18 + 27 + 12 + 19 + 20);
    assert_eq!(row.len(), 96);
}

#[test]
fn bad_values_are_errors() {
    assert!(matches!(
        decode_value(&[]),
        Err(CodecError::Truncated { .. })
    ));
    assert_eq!(decode_value(&[9]), Err(CodecError::UnknownTag(9)));
    assert_eq!(decode_value(&[14]), Err(CodecError::UnknownTag(14)));
    assert_eq!(decode_value(&[7, 2]), Err(CodecError::InvalidBool(2)));
    assert_eq!(
        decode_value(&[2, 2, 0xc3, 0x28]),
        Err(CodecError::InvalidUtf8 {
            what: "a String value"
        })
    );
    assert!(matches!(
        decode_value(&[11, 1, 1, 0xff, 0]),
        Err(CodecError::InvalidUtf8 { .. })
    ));
    // a List claiming 2^63 elements in a 4-byte input
    let mut huge = vec![10];
    put_varint(1 << 63, &mut huge);
    assert!(matches!(
        decode_value(&huge),
        Err(CodecError::Truncated { .. })
    ));
    // a string longer than the input
    assert!(matches!(
        decode_value(&[2, 5, b'a']),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn nesting_is_limited() {
    let mut ok = Value::Null;
    for _ in 0..MAX_VALUE_DEPTH {
        ok = Value::List(vec![ok]);
    }
    assert!(bit_eq(&decode_value(&enc(&ok)).unwrap().0, &ok));
    let too_deep = Value::Struct(vec![("x".into(), ok)]);
    assert_eq!(decode_value(&enc(&too_deep)), Err(CodecError::TooDeep));
    // hostile input: a long run of "List of 1" headers
    let hostile: Vec<u8> = [10, 1].repeat(100_000);
    assert_eq!(decode_value(&hostile), Err(CodecError::TooDeep));
}

#[test]
fn nan_round_trips_bit_exactly() {
    for bits in [0x7fc0_0001u32, 0xffc0_0000, 0x7f80_0001] {
        let v = Value::Float(f32::from_bits(bits));
        match decode_value(&enc(&v)).unwrap().0 {
            Value::Float(f) => assert_eq!(f.to_bits(), bits),
            other => panic!("{other:?}"),
        }
    }
    for bits in [0x7ff8_0000_0000_0001u64, 0xfff0_0000_0000_0001] {
        let v = Value::Double(f64::from_bits(bits));
        match decode_value(&enc(&v)).unwrap().0 {
            Value::Double(f) => assert_eq!(f.to_bits(), bits),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_view_that_gained_and_lost_features() {
    let (a, b) = (Value::Int64(1), s("bee"));
    let mut row = Vec::new();
    encode_row(10, 20, &[("a", &a), ("b", &b)], &mut row);
    let r = RowRef::parse(&row).unwrap();
    assert_eq!((r.event_ts_micros(), r.created_ts_micros()), (10, 20));
    assert_eq!(
        r.features(&["b", "c"]).unwrap(),
        vec![Some(b.clone()), None]
    );
    assert_eq!(
        r.features(&["b", "a", "b"]).unwrap(),
        vec![Some(b.clone()), Some(a), Some(b)]
    );
    assert_eq!(r.features(&[]).unwrap(), vec![]);
}

#[test]
fn rows_with_a_repeated_name_read_the_first() {
    let mut row = Vec::new();
    encode_row(
        0,
        0,
        &[("a", &Value::Int32(1)), ("a", &Value::Int32(2))],
        &mut row,
    );
    let r = RowRef::parse(&row).unwrap();
    assert_eq!(r.features(&["a"]).unwrap(), vec![Some(Value::Int32(1))]);
}

#[test]
fn bad_rows_are_errors() {
    let mut row = Vec::new();
    encode_row(1, 2, &[("a", &Value::Int32(7))], &mut row);
    for cut in 0..row.len() {
        assert!(RowRef::parse(&row[..cut]).is_err(), "prefix {cut}");
    }
    for cut in 0..ROW_HEADER_LEN {
        assert!(decode_row_header(&row[..cut]).is_err(), "prefix {cut}");
    }
    let mut trailing = row.clone();
    trailing.push(0);
    assert_eq!(
        RowRef::parse(&trailing).unwrap_err(),
        CodecError::TrailingBytes(1)
    );
    let mut v2 = row.clone();
    v2[0] = 2;
    assert_eq!(
        RowRef::parse(&v2).unwrap_err(),
        CodecError::UnsupportedRowVersion(2)
    );
    assert_eq!(
        decode_row_header(&v2).unwrap_err(),
        CodecError::UnsupportedRowVersion(2)
    );
    // value length 6 framing a 5-byte Int32 plus one stray byte
    let mut framed = row[..ROW_HEADER_LEN + 3].to_vec();
    framed.extend_from_slice(&[6, 3, 7, 0, 0, 0, 0]);
    let r = RowRef::parse(&framed).unwrap();
    assert_eq!(
        r.features(&["a"]).unwrap_err(),
        CodecError::ValueLengthMismatch {
            name: "a".into(),
            declared: 6,
            actual: 5
        }
    );
    // a damaged value is only an error when it is asked for
    let mut damaged = row[..ROW_HEADER_LEN + 3].to_vec();
    damaged.extend_from_slice(&[2, 7, 2]);
    let r = RowRef::parse(&damaged).unwrap();
    assert_eq!(r.features(&["x"]).unwrap(), vec![None]);
    assert_eq!(r.features(&["a"]).unwrap_err(), CodecError::InvalidBool(2));
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z_]{0,8}", 1 => any::<String>()]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        any::<String>().prop_map(Value::String),
        any::<i32>().prop_map(Value::Int32),
        any::<i64>().prop_map(Value::Int64),
        any::<u64>().prop_map(|b| Value::Double(f64::from_bits(b))),
        any::<f64>().prop_map(Value::Double),
        any::<u32>().prop_map(|b| Value::Float(f32::from_bits(b))),
        any::<f32>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::UnixTimestamp),
        any::<String>().prop_map(Value::Json),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec((arb_name(), inner.clone()), 0..6).prop_map(Value::Map),
            prop::collection::vec((arb_name(), inner), 0..6).prop_map(Value::Struct),
        ]
    })
}

/// Distinct feature names with values.
fn arb_features() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::btree_map(arb_name(), arb_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
        .prop_shuffle()
}

fn borrowed(features: &[(String, Value)]) -> Vec<(&str, &Value)> {
    features.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

proptest! {
    #[test]
    fn values_round_trip(value in arb_value(), suffix in any::<Vec<u8>>()) {
        let mut bytes = enc(&value);
        let len = bytes.len();
        prop_assert_eq!(encoded_len(&value), len);
        bytes.extend_from_slice(&suffix);
        let (decoded, used) = decode_value(&bytes).unwrap();
        prop_assert_eq!(used, len);
        prop_assert!(bit_eq(&decoded, &value), "{:?} != {:?}", decoded, value);
        prop_assert_eq!(enc(&decoded), &bytes[..len]);
    }

    #[test]
    fn truncated_values_are_errors(value in arb_value()) {
        let bytes = enc(&value);
        for cut in 0..bytes.len() {
            prop_assert!(decode_value(&bytes[..cut]).is_err(), "prefix {}", cut);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in any::<Vec<u8>>()) {
        if let Ok((value, used)) = decode_value(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(enc(&value).len(), used);
        }
        if let Ok(row) = RowRef::parse(&bytes) {
            let _ = row.features(&["a", "", "b"]);
        }
        let _ = decode_row_header(&bytes);
    }

    #[test]
    fn parsing_damaged_rows_never_panics(
        features in arb_features(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut row = Vec::new();
        encode_row(0, 0, &borrowed(&features), &mut row);
        for (at, b) in edits {
            let len = row.len();
            row[at % len] = b;
        }
        if let Ok(r) = RowRef::parse(&row) {
            let names: Vec<&str> = features.iter().map(|(k, _)| k.as_str()).collect();
            let _ = r.features(&names);
        }
    }

    #[test]
    fn rows_round_trip(
        event in any::<i64>(),
        created in any::<i64>(),
        features in arb_features(),
        extra in prop::collection::vec(arb_name(), 0..4),
    ) {
        let mut row = b"reused buffer".to_vec();
        let start = row.len();
        encode_row(event, created, &borrowed(&features), &mut row);
        let row = &row[start..];
        prop_assert_eq!(decode_row_header(row).unwrap(), (event, created));
        let r = RowRef::parse(row).unwrap();
        prop_assert_eq!((r.event_ts_micros(), r.created_ts_micros()), (event, created));
        // Ask for every stored feature in reverse, interleaved with names the row lacks.
        let stored: Vec<&str> = features.iter().rev().map(|(k, _)| k.as_str()).collect();
        let mut asked: Vec<&str> = Vec::new();
        for (i, name) in stored.iter().enumerate() {
            asked.push(name);
            if let Some(x) = extra.get(i) {
                asked.push(x);
            }
        }
        let got = r.features(&asked).unwrap();
        prop_assert_eq!(got.len(), asked.len());
        for (name, value) in asked.iter().zip(&got) {
            let want = features.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            match (want, value) {
                (Some(w), Some(v)) => prop_assert!(bit_eq(w, v), "{}: {:?} != {:?}", name, v, w),
                (None, None) => {}
                _ => prop_assert!(false, "{}: wanted {:?}, got {:?}", name, want, value),
            }
        }
        for cut in 0..row.len() {
            prop_assert!(RowRef::parse(&row[..cut]).is_err(), "prefix {}", cut);
        }
    }

    #[test]
    fn features_returns_the_asked_subset_in_order(
        features in arb_features(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut row = Vec::new();
        encode_row(0, 0, &borrowed(&features), &mut row);
        let r = RowRef::parse(&row).unwrap();
        let asked: Vec<&str> = if features.is_empty() {
            vec!["missing"]
        } else {
            picks.iter().map(|p| p.get(&features).0.as_str()).collect()
        };
        let got = r.features(&asked).unwrap();
        for (name, value) in asked.iter().zip(&got) {
            let want = features.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            prop_assert_eq!(want.is_some(), value.is_some());
            if let (Some(w), Some(v)) = (want, value) {
                prop_assert!(bit_eq(w, v));
            }
        }
    }
}
