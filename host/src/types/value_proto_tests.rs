use proptest::prelude::*;

use super::schema::{ENTRY_VALUE, MAP, VAL};
use super::wire::put_len_field;
use super::*;
use crate::types::{DType, Value};

fn hex(text: &str) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
        .collect()
}

fn enc(value: &Value, dtype: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &DType::parse(dtype).unwrap(), &mut out).unwrap();
    out
}

fn dec(bytes: &[u8]) -> Value {
    decode_value(bytes, None).unwrap()
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

fn entries(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// Bytes Feast 0.67 wrote (`python_values_to_proto_values` under protobuf's upb backend, and
/// the fixture store's rows), with the value and dtype they stand for. Each is checked both
/// ways: our encoding equals Feast's bytes, and Feast's bytes decode to the value.
fn feast_goldens() -> Vec<(Value, &'static str, Vec<u8>)> {
    vec![
        (Value::Float(0.664_429_07), "Float32", hex("35 06182a3f")),
        (Value::Int64(108), "Int64", hex("20 6c")),
        (Value::Bool(true), "Bool", hex("38 01")),
        (Value::Double(1.25), "Float64", hex("29 000000000000f43f")),
        (Value::Int32(-1), "Int32", hex("18 ffffffffffffffffff01")),
        (Value::Int32(7), "Int32", hex("18 07")),
        (Value::Bytes(vec![0, 1]), "Bytes", hex("0a 02 0001")),
        (s(""), "String", hex("12 00")),
        (
            Value::List(vec![Value::Int64(1), Value::Int64(2), Value::Int64(300)]),
            "Array(Int64)",
            hex("72 06 0a 04 01 02 ac02"),
        ),
        (
            Value::List(vec![s("a"), s("b")]),
            "Array(String)",
            hex("62 06 0a 01 61 0a 01 62"),
        ),
        (
            Value::List(vec![Value::Float(1.5), Value::Float(2.0)]),
            "Array(Float32)",
            hex("8201 0a 0a 08 0000c03f 00000040"),
        ),
        (
            Value::List(vec![Value::Int32(1), Value::Int32(-1)]),
            "Array(Int32)",
            hex("6a 0d 0a 0b 01 ffffffffffffffffff01"),
        ),
        (
            Value::List(vec![Value::Bool(true), Value::Bool(false)]),
            "Array(Bool)",
            hex("8a01 04 0a 02 01 00"),
        ),
        (
            Value::List(vec![Value::Bytes(vec![0]), Value::Bytes(vec![])]),
            "Array(Bytes)",
            hex("5a 05 0a 01 00 0a 00"),
        ),
        // Empty lists: the element type's field with an empty list message.
        (Value::List(vec![]), "Array(Float32)", hex("8201 00")),
        (Value::List(vec![]), "Array(String)", hex("62 00")),
        (Value::List(vec![]), "Array(Array(Int64))", hex("d202 00")),
        (Value::Map(vec![]), "Map", hex("a201 00")),
        (
            Value::Json(r#"{"a": [1, null]}"#.into()),
            "Json",
            hex("8202 10 7b2261223a205b312c206e756c6c5d7d"),
        ),
        (
            Value::Struct(entries(&[("n", s("x"))])),
            "Struct{n: String}",
            hex("9202 0a 0a 08 0a 01 6e 12 03 12 01 78"),
        ),
        (
            Value::List(vec![Value::Struct(entries(&[("a", s("x"))]))]),
            "Array(Struct{a: String})",
            hex("9a02 0c 0a 0a 0a 08 0a 01 61 12 03 12 01 78"),
        ),
        (
            Value::List(vec![Value::Map(entries(&[("a", s("x"))]))]),
            "Array(Map)",
            hex("aa01 0c 0a 0a 0a 08 0a 01 61 12 03 12 01 78"),
        ),
        // Nested lists: a list_val of typed lists; the empty inner list is the empty Value,
        // and so reads back as a null, as Feast reads it.
        (
            Value::List(vec![
                Value::List(vec![Value::Int64(1), Value::Int64(2)]),
                Value::Null,
                Value::List(vec![Value::Int64(3)]),
            ]),
            "Array(Array(Int64))",
            hex("d202 11 0a 06 72 04 0a 02 01 02 0a 00 0a 05 72 03 0a 01 03"),
        ),
        (
            Value::List(vec![
                Value::List(vec![
                    Value::List(vec![Value::Int64(1)]),
                    Value::List(vec![Value::Int64(2)]),
                ]),
                Value::List(vec![Value::List(vec![Value::Int64(3)])]),
            ]),
            "Array(Array(Array(Int64)))",
            hex(
                "d202 1f 0a 11 d202 0e 0a 05 72 03 0a 01 01 0a 05 72 03 0a 01 02 \
             0a 0a d202 07 0a 05 72 03 0a 01 03",
            ),
        ),
        // A map whose value needs a two-byte length.
        (
            Value::Map(entries(&[("k", s(&"x".repeat(200)))])),
            "Map",
            // The entry, its value and the string each cross 127 bytes.
            [
                hex("a201 d401 0a d101 0a 01 6b 12 cb01 12 c801"),
                vec![b'x'; 200],
            ]
            .concat(),
        ),
    ]
}

#[test]
fn encodes_and_decodes_as_feast_does() {
    for (value, dtype, want) in feast_goldens() {
        assert_eq!(enc(&value, dtype), want, "{value:?} as {dtype}");
        let parsed = DType::parse(dtype).unwrap();
        assert_eq!(
            decode_value(&want, Some(&parsed)).unwrap(),
            value,
            "{want:02x?} as {dtype}"
        );
    }
}

#[test]
fn an_empty_inner_list_is_written_as_feast_writes_it() {
    // Feast's bytes for `[[1, 2], [], None, [3]]` as a VALUE_LIST: the empty and the null
    // inner list are both the empty Value, so both read back as null.
    let feast = hex("d202 13 0a 06 72 04 0a 02 01 02 0a 00 0a 00 0a 05 72 03 0a 01 03");
    let one_two = Value::List(vec![Value::Int64(1), Value::Int64(2)]);
    let three = Value::List(vec![Value::Int64(3)]);
    let value = Value::List(vec![
        one_two.clone(),
        Value::List(vec![]),
        Value::Null,
        three.clone(),
    ]);
    assert_eq!(enc(&value, "Array(Array(Int64))"), feast);
    assert_eq!(
        dec(&feast),
        Value::List(vec![one_two, Value::Null, Value::Null, three])
    );
}

#[test]
fn the_fixture_rows_of_driver_1001_decode_and_encode_back() {
    // The `value` column of driver 1001 in the fixture's online store.
    let conv = hex("3506182a3f");
    assert_eq!(dec(&conv), Value::Float(f32::from_bits(0x3f2a_1806)));
    let Value::Float(f) = dec(&conv) else {
        unreachable!()
    };
    assert_eq!(f64::from(f), 0.664_429_068_565_368_7);
    let config = hex(
        "82023c7b226d61785f64697374616e63655f6b6d223a2036342c20227072656665727265645f7a6f6e6573223a205b2277657374222c202265617374225d7d",
    );
    let json =
        Value::Json(r#"{"max_distance_km": 64, "preferred_zones": ["west", "east"]}"#.into());
    assert_eq!(dec(&config), json);
    assert_eq!(enc(&json, "Json"), config);

    let metadata = hex(
        "a201280a150a0c76656869636c655f74797065120512037375760a0f0a06726174696e6712051203332e39",
    );
    let map = Value::Map(entries(&[("vehicle_type", s("suv")), ("rating", s("3.9"))]));
    assert_eq!(dec(&metadata), map);
    // Written in the same entry order, the bytes are Feast's.
    assert_eq!(enc(&map, "Map"), metadata);

    let profile =
        hex("9202240a0b0a036167651204120232350a150a046e616d65120d120b6472697665725f31303031");
    // Stored `age` first; the declared order is `name, age`, which a known dtype restores.
    assert_eq!(
        dec(&profile),
        Value::Struct(entries(&[("age", s("25")), ("name", s("driver_1001"))]))
    );
    let dtype = DType::parse("Struct{name: String, age: String}").unwrap();
    let declared = Value::Struct(entries(&[("name", s("driver_1001")), ("age", s("25"))]));
    assert_eq!(decode_value(&profile, Some(&dtype)).unwrap(), declared);
    let back = {
        let mut out = Vec::new();
        encode_value(&declared, &dtype, &mut out).unwrap();
        out
    };
    assert_eq!(decode_value(&back, Some(&dtype)).unwrap(), declared);
    assert_eq!(back.len(), profile.len());
}

#[test]
fn nulls() {
    // Feast writes a null as the empty Value, whatever the dtype.
    for dtype in ["Int64", "Array(Float32)", "Map", "Struct{a: Int64}", "Json"] {
        assert!(enc(&Value::Null, dtype).is_empty(), "{dtype}");
    }
    assert_eq!(dec(&[]), Value::Null);
    // `null_val` (field 19) is null too.
    assert_eq!(dec(&hex("9801 00")), Value::Null);
    // A null inside a map is an entry whose value is the empty Value (`12 00`), as upb writes.
    assert_eq!(
        enc(&Value::Map(entries(&[("a", Value::Null)])), "Map"),
        hex("a201 07 0a 05 0a 01 61 12 00")
    );
    assert_eq!(
        dec(&hex("a201 07 0a 05 0a 01 61 12 00")),
        Value::Map(entries(&[("a", Value::Null)]))
    );
    // An entry without its value field is a null too, and one without a key has key "".
    assert_eq!(
        dec(&hex("a201 05 0a 03 0a 01 61")),
        Value::Map(entries(&[("a", Value::Null)]))
    );
    assert_eq!(
        dec(&hex("a201 06 0a 04 12 02 20 01")),
        Value::Map(entries(&[("", Value::Int64(1))]))
    );
}

#[test]
fn null_list_elements_are_written_as_feast_writes_them() {
    // Feast replaces a null element with the type's default; a null timestamp with NaT.
    assert_eq!(
        enc(
            &Value::List(vec![Value::Int64(1), Value::Null, Value::Int64(-1)]),
            "Array(Int64)"
        ),
        hex("72 0e 0a 0c 01 00 ffffffffffffffffff01")
    );
    let ts = hex("9201 0d 0a 0b 01 80808080808080808001");
    assert_eq!(
        enc(
            &Value::List(vec![Value::UnixTimestamp(1), Value::Null]),
            "Array(UnixTimestamp)"
        ),
        ts
    );
    // ... which Feast reads back as null.
    assert_eq!(
        dec(&ts),
        Value::List(vec![Value::UnixTimestamp(1), Value::Null])
    );
    assert_eq!(
        enc(&Value::List(vec![s("a"), Value::Null]), "Array(String)"),
        hex("62 05 0a 01 61 0a 00")
    );
    assert_eq!(
        enc(
            &Value::List(vec![Value::Double(1.5), Value::Null]),
            "Array(Float64)"
        ),
        hex("7a 12 0a 10 000000000000f83f 0000000000000000")
    );
    // A JSON list: `json.dumps(None)`.
    assert_eq!(
        enc(
            &Value::List(vec![Value::Json("[1, 2]".into()), Value::Null]),
            "Array(Json)"
        ),
        hex("8a02 0e 0a 06 5b312c20325d 0a 04 6e756c6c")
    );
    // Feast cannot write a null map into a map list, and neither do we.
    let mut out = Vec::new();
    let err = encode_value(
        &Value::List(vec![Value::Null]),
        &DType::parse("Array(Map)").unwrap(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err, ValueProtoError::NullInMapList("map"));
}

#[test]
fn values_inside_a_map_are_written_by_their_own_kind() {
    // What Feast infers for a dict's values: bool, double, string, int64 list, nested map.
    // (Feast's entry order varies; one entry at a time is compared.)
    let cases: Vec<(Value, &str)> = vec![
        (Value::Double(1.5), "29 000000000000f83f"),
        (s("s"), "12 01 73"),
        (Value::Bool(true), "38 01"),
        (
            Value::List(vec![Value::Int64(1), Value::Int64(2)]),
            "72 04 0a 02 01 02",
        ),
        (
            Value::Map(entries(&[("x", Value::Int64(1))])),
            "a201 09 0a 07 0a 01 78 12 02 20 01",
        ),
    ];
    for (inner, bytes) in cases {
        let value = Value::Map(vec![("k".into(), inner.clone())]);
        let body = hex(bytes);
        let mut want = hex("a201");
        want.push(u8::try_from(body.len() + 7).unwrap());
        want.extend([
            0x0a,
            u8::try_from(body.len() + 5).unwrap(),
            0x0a,
            0x01,
            b'k',
        ]);
        want.extend([0x12, u8::try_from(body.len()).unwrap()]);
        want.extend(&body);
        assert_eq!(enc(&value, "Map"), want, "{inner:?}");
        assert_eq!(dec(&want), value);
    }
    // An empty list has no element type to infer: it is an empty list_val, which Feast reads
    // as the empty list.
    let value = Value::Map(vec![("k".into(), Value::List(vec![]))]);
    assert_eq!(
        enc(&value, "Map"),
        hex("a201 0a 0a 08 0a 01 6b 12 03 d202 00")
    );
    assert_eq!(dec(&enc(&value, "Map")), value);
    // A list mixing kinds fits no typed list.
    let mixed = Value::Map(vec![(
        "k".into(),
        Value::List(vec![Value::Int64(1), s("a")]),
    )]);
    let mut out = Vec::new();
    assert!(matches!(
        encode_value(&mixed, &DType::Map, &mut out),
        Err(ValueProtoError::MixedList { .. })
    ));
}

#[test]
fn struct_fields_use_their_declared_dtypes() {
    // An empty list field gets its declared element type, and a map field `map_val`. (Feast
    // infers a struct field's kind from its Python value instead, and cannot write an empty
    // list field at all; its reader takes either.)
    let dtype = "Struct{xs: Array(Float32), m: Map}";
    let value = Value::Struct(entries(&[
        ("xs", Value::List(vec![])),
        ("m", Value::Map(vec![])),
    ]));
    let bytes = enc(&value, dtype);
    assert_eq!(
        bytes,
        hex("9202 15 0a 09 0a 02 7873 12 03 8201 00 0a 08 0a 01 6d 12 03 a201 00")
    );
    let parsed = DType::parse(dtype).unwrap();
    assert_eq!(decode_value(&bytes, Some(&parsed)).unwrap(), value);
}

#[test]
fn the_dtype_decides_map_or_struct() {
    let fields = entries(&[("a", Value::Int64(1))]);
    let as_map = enc(&Value::Struct(fields.clone()), "Map");
    assert_eq!(as_map[..2], [0xa2, 0x01]);
    assert_eq!(dec(&as_map), Value::Map(fields.clone()));
    let as_struct = enc(&Value::Map(fields.clone()), "Struct{a: Int64}");
    assert_eq!(as_struct[..2], [0x92, 0x02]);
    assert_eq!(dec(&as_struct), Value::Struct(fields));
}

#[test]
fn a_value_of_another_dtype_is_refused() {
    let mut out = Vec::new();
    let err = encode_value(&Value::Int64(1), &DType::Float64, &mut out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot write an Int64 value as a Feast value of dtype Float64"
    );
    let err = encode_value(
        &Value::List(vec![Value::Int64(1)]),
        &DType::parse("Array(Float32)").unwrap(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot write a list holding an Int64 element as a Feast value of dtype Array(Float32)"
    );
}

#[test]
fn readers_take_what_protobuf_allows() {
    // Unpacked numbers, packed runs split in two, and the last of two oneof fields.
    assert_eq!(
        dec(&hex("72 06 08 01 08 02 08 03")),
        Value::List(vec![Value::Int64(1), Value::Int64(2), Value::Int64(3)])
    );
    assert_eq!(
        dec(&hex("72 08 0a 02 01 02 0a 02 03 04")),
        Value::List((1..=4).map(Value::Int64).collect())
    );
    assert_eq!(dec(&hex("20 01 12 01 61")), s("a"));
    // An unknown field inside a list message is skipped.
    assert_eq!(dec(&hex("62 05 0a 01 61 10 05")), Value::List(vec![s("a")]));
    // A key stored twice keeps its last value, in its first place.
    assert_eq!(
        dec(&hex(
            "a201 1b 0a 07 0a 01 61 12 02 20 01 0a 07 0a 01 62 12 02 20 03 0a 07 0a 01 61 12 02 20 02"
        )),
        Value::Map(entries(&[("a", Value::Int64(2)), ("b", Value::Int64(3))]))
    );
    // Overlong varints are valid protobuf.
    assert_eq!(dec(&hex("20 ec 80 00")), Value::Int64(108));
}

#[test]
fn kinds_without_a_dtype_are_named() {
    let cases = [
        ("a202 03 616263", "uuid_val", "UUID"),
        ("e202 03 312e35", "decimal_val", "DECIMAL"),
        ("ba01 00", "string_set_val", "STRING_SET"),
        ("ca01 00", "int64_set_val", "INT64_SET"),
        ("fa02 00", "scalar_map_val", "SCALAR_MAP"),
        ("8203 00", "zoned_timestamp_val", "ZONED_TIMESTAMP"),
        ("da02 00", "set_val", "VALUE_SET"),
    ];
    for (bytes, field, kind) in cases {
        let err = decode_value(&hex(bytes), None).unwrap_err();
        assert_eq!(err, ValueProtoError::Unsupported { field, kind }, "{bytes}");
        assert!(err.to_string().contains(field), "{err}");
    }
    assert_eq!(
        decode_value(&hex("c803 01"), None).unwrap_err(),
        ValueProtoError::UnknownKind(57)
    );
}

#[test]
fn hostile_bytes_are_errors() {
    let cases: &[(&str, &str)] = &[
        ("35 0618", "truncated"),
        ("12 05 61", "truncated"),
        ("20 ffffffffffffffffffff01", "malformed varint"),
        ("20", "truncated"),
        ("22 00", "wire type"),
        ("12 02 c328", "UTF-8"),
        ("a201 03 0a 01 00", "truncated"),
        ("a201 02 08 01", "wire type"),
        ("72 02 0d 00", "wire type"),
        ("62 02 08 01", "wire type"),
        ("0b", "wire type"),
    ];
    for (bytes, want) in cases {
        let err = decode_value(&hex(bytes), None).unwrap_err().to_string();
        assert!(err.contains(want), "{bytes}: {err}");
    }
}

#[test]
fn nesting_is_bounded() {
    // A map in a map ... deeper than the limit: refused, without overflowing the stack.
    let mut bytes: Vec<u8> = hex("20 01");
    for _ in 0..10_000 {
        let mut entry = Vec::new();
        put_len_field(VAL, b"", &mut entry);
        put_len_field(ENTRY_VALUE, &bytes, &mut entry);
        let mut map = Vec::new();
        put_len_field(VAL, &entry, &mut map);
        bytes.clear();
        put_len_field(MAP, &map, &mut bytes);
    }
    assert_eq!(decode_value(&bytes, None), Err(ValueProtoError::TooDeep));
    // At the limit it decodes.
    let mut bytes: Vec<u8> = hex("20 01");
    for _ in 0..MAX_VALUE_DEPTH {
        let mut entry = Vec::new();
        put_len_field(VAL, b"", &mut entry);
        put_len_field(ENTRY_VALUE, &bytes, &mut entry);
        let mut map = Vec::new();
        put_len_field(VAL, &entry, &mut map);
        bytes.clear();
        put_len_field(MAP, &map, &mut bytes);
    }
    assert!(decode_value(&bytes, None).is_ok());

    let mut deep = Value::Int64(1);
    for _ in 0..=MAX_VALUE_DEPTH {
        deep = Value::Map(vec![(String::new(), deep)]);
    }
    let mut out = Vec::new();
    assert_eq!(
        encode_value(&deep, &DType::Map, &mut out),
        Err(ValueProtoError::TooDeep)
    );
}

#[test]
fn a_large_map_decodes_in_linear_time() {
    // 200,000 distinct keys: a quadratic duplicate check would take minutes.
    let mut body = Vec::new();
    for i in 0..200_000u32 {
        let key = i.to_string();
        let mut entry = Vec::new();
        put_len_field(VAL, key.as_bytes(), &mut entry);
        put_len_field(ENTRY_VALUE, &[], &mut entry);
        put_len_field(VAL, &entry, &mut body);
    }
    let mut bytes = Vec::new();
    put_len_field(MAP, &body, &mut bytes);
    let Value::Map(got) = dec(&bytes) else {
        panic!("not a map")
    };
    assert_eq!(got.len(), 200_000);
    assert_eq!(got[199_999].0, "199999");
}

// --- Property tests -------------------------------------------------------------------------

fn arb_scalar_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![
        Just(DType::Float32),
        Just(DType::Float64),
        Just(DType::Int32),
        Just(DType::Int64),
        Just(DType::String),
        Just(DType::Bytes),
        Just(DType::Bool),
        Just(DType::UnixTimestamp),
        Just(DType::Json),
    ]
}

fn arb_dtype() -> impl Strategy<Value = DType> {
    arb_scalar_dtype().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| DType::Array(Box::new(t))),
            Just(DType::Map),
            prop::collection::btree_map("[a-z]{1,4}", inner, 1..4)
                .prop_map(|m| DType::Struct(m.into_iter().collect())),
        ]
    })
}

/// A value of `dtype`, as a store could be asked to write it: no nulls where Feast would
/// write something else in their place (list elements), and timestamps other than NaT.
fn arb_value_of(dtype: &DType) -> BoxedStrategy<Value> {
    match dtype {
        DType::Float32 => any::<f32>().prop_map(Value::Float).boxed(),
        DType::Float64 => any::<f64>().prop_map(Value::Double).boxed(),
        DType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        DType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DType::String => ".{0,8}".prop_map(Value::String).boxed(),
        DType::Bytes => prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Bytes)
            .boxed(),
        DType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DType::UnixTimestamp => (i64::MIN + 1..i64::MAX)
            .prop_map(Value::UnixTimestamp)
            .boxed(),
        DType::Json => "[0-9]{1,5}".prop_map(Value::Json).boxed(),
        DType::Map => prop::collection::btree_map("[a-z]{0,4}", arb_untyped(), 0..4)
            .prop_map(|m| Value::Map(m.into_iter().collect()))
            .boxed(),
        DType::Struct(fields) => fields
            .iter()
            .map(|(name, t)| {
                let name = name.clone();
                prop_oneof![1 => Just(Value::Null), 4 => arb_value_of(t)]
                    .prop_map(move |v| (name.clone(), v))
            })
            .collect::<Vec<_>>()
            .prop_map(Value::Struct)
            .boxed(),
        DType::Array(element) => {
            let item = match &**element {
                // An empty inner list is written as null (Feast's rule): generate non-empty.
                DType::Array(_) => arb_value_of(element)
                    .prop_filter(
                        "non-empty",
                        |v| !matches!(v, Value::List(l) if l.is_empty()),
                    )
                    .boxed(),
                other => arb_value_of(other),
            };
            prop::collection::vec(item, 0..4)
                .prop_map(Value::List)
                .boxed()
        }
    }
}

/// A value inside a map: any variant, lists of one kind.
fn arb_untyped() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int64),
        any::<f64>().prop_map(Value::Double),
        any::<bool>().prop_map(Value::Bool),
        "[a-z]{0,4}".prop_map(Value::String),
        prop::collection::vec(any::<i64>().prop_map(Value::Int64), 1..4).prop_map(Value::List),
    ]
    .boxed()
}

fn arb_typed() -> impl Strategy<Value = (DType, Value)> {
    arb_dtype().prop_flat_map(|t| {
        let values = prop_oneof![1 => Just(Value::Null), 6 => arb_value_of(&t)];
        (Just(t), values)
    })
}

/// Equality that compares floats by their bits, so NaN round trips are checked.
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn typed_values_round_trip((dtype, value) in arb_typed()) {
        let mut out = Vec::new();
        encode_value(&value, &dtype, &mut out).unwrap();
        let back = decode_value(&out, Some(&dtype)).unwrap();
        prop_assert!(bit_eq(&back, &value), "{value:?} as {dtype} -> {out:02x?} -> {back:?}");
        // Without the dtype, the same value (a struct's fields in their stored order, which
        // is the order written).
        let untyped = decode_value(&out, None).unwrap();
        prop_assert!(bit_eq(&untyped, &value), "{untyped:?}");
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_value(&bytes, None);
        let _ = decode_value(&bytes, Some(&DType::Struct(vec![("a".into(), DType::Map)])));
    }

    #[test]
    fn mutated_encodings_decode_or_fail_cleanly(
        (dtype, value) in arb_typed(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut out = Vec::new();
        encode_value(&value, &dtype, &mut out).unwrap();
        if !out.is_empty() {
            for (at, byte) in flips {
                let i = at.index(out.len());
                out[i] = byte;
            }
        }
        let _ = decode_value(&out, Some(&dtype));
    }
}
