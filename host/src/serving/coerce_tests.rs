use super::*;
use proptest::prelude::*;
use serde_json::json;

fn ok(json: serde_json::Value, dtype: DType) -> Value {
    coerce_entity_value(&json, &dtype).unwrap()
}

fn err(json: serde_json::Value, dtype: DType) -> String {
    coerce_entity_value(&json, &dtype).unwrap_err()
}

#[test]
fn int_keys_apply_python_int() {
    let cases = [
        (json!(1001), 1001),
        (json!(-7), -7),
        (json!(1001.7), 1001),
        (json!(-1001.7), -1001),
        (json!(0.5), 0),
        (json!(1e3), 1000),
        (json!(true), 1),
        (json!(false), 0),
        (json!("1001"), 1001),
        (json!("  -1001\n"), -1001),
        (json!("+42"), 42),
        (json!("1_001"), 1001),
        (json!("007"), 7),
        (json!("-0"), 0),
        (json!("\u{a0}12\u{3000}"), 12),
        (json!("١٠٠١"), 1001),
        (json!("９"), 9),
        (json!("9223372036854775807"), i64::MAX),
        (json!("-9223372036854775808"), i64::MIN),
    ];
    for (j, want) in cases {
        assert_eq!(ok(j.clone(), DType::Int64), Value::Int64(want), "{j}");
        assert_eq!(
            ok(j.clone(), DType::UnixTimestamp),
            Value::UnixTimestamp(want),
            "{j}"
        );
        if let Ok(small) = i32::try_from(want) {
            assert_eq!(ok(j.clone(), DType::Int32), Value::Int32(small), "{j}");
        }
    }
}

#[test]
fn bad_int_literals_are_refused_in_pythons_words() {
    for s in [
        "1001.0", "", " ", "+", "-", "1e3", "0x10", "1_", "_1", "1__0", "- 1", "1 2", "abc",
        "\u{1c}12", "１.5", "True",
    ] {
        assert_eq!(
            err(json!(s), DType::Int64),
            format!(
                "invalid literal for int() with base 10: {}",
                python_repr_str(s)
            ),
            "{s:?}"
        );
    }
    assert_eq!(
        err(json!("1001.0"), DType::Int32),
        "invalid literal for int() with base 10: '1001.0'"
    );
    let long = "x".repeat(300);
    assert_eq!(
        err(json!(long), DType::Int64),
        format!(
            "invalid literal for int() with base 10: '{}",
            "x".repeat(199)
        )
    );
}

#[test]
fn ints_out_of_range() {
    assert_eq!(
        err(json!(3_000_000_000i64), DType::Int32),
        "Value out of range: 3000000000 (expected Int32, -2147483648 to 2147483647)"
    );
    assert_eq!(
        ok(json!(-2_147_483_648i64), DType::Int32),
        Value::Int32(i32::MIN)
    );
    assert!(
        err(json!(-2_147_483_649i64), DType::Int32).starts_with("Value out of range: -2147483649 ")
    );
    assert!(
        err(json!(u64::MAX), DType::Int64).starts_with("Value out of range: 18446744073709551615 ")
    );
    assert!(
        err(json!("9223372036854775808"), DType::Int64)
            .starts_with("Value out of range: 9223372036854775808 ")
    );
    assert!(
        err(json!(9.3e18), DType::Int64).starts_with("Value out of range: 9300000000000000000 ")
    );
    assert_eq!(
        ok(json!(-9_223_372_036_854_775_808.0), DType::Int64),
        Value::Int64(i64::MIN)
    );
    assert!(err(json!(1e300), DType::Int64).starts_with(
        "Value out of range: 1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160 "
    ));
    let big = format!("-00{}", "1_0".repeat(30));
    assert!(
        err(json!(big), DType::Int64)
            .starts_with(&format!("Value out of range: -{} ", "10".repeat(30)))
    );
}

#[test]
fn string_keys_apply_python_str() {
    let cases = [
        (json!("driver"), "driver"),
        (json!(""), ""),
        (json!(1001), "1001"),
        (json!(-1001), "-1001"),
        (json!(u64::MAX), "18446744073709551615"),
        (json!(1001.0), "1001.0"),
        (json!(0.5), "0.5"),
        (json!(1e16), "1e+16"),
        (json!(1e-5), "1e-05"),
        (json!(true), "True"),
        (json!(false), "False"),
    ];
    for (j, want) in cases {
        assert_eq!(
            ok(j.clone(), DType::String),
            Value::String(want.into()),
            "{j}"
        );
    }
    let parsed: serde_json::Value = serde_json::from_str("1001.0").unwrap();
    assert_eq!(ok(parsed, DType::String), Value::String("1001.0".into()));
}

#[test]
fn bytes_keys_take_strings() {
    assert_eq!(
        ok(json!("héllo"), DType::Bytes),
        Value::Bytes("héllo".as_bytes().to_vec())
    );
    assert_eq!(
        err(json!(12), DType::Bytes),
        "entity value 12 cannot be a Bytes key: expected a string"
    );
    assert_eq!(
        err(json!(true), DType::Bytes),
        "entity value true cannot be a Bytes key: expected a string"
    );
}

#[test]
fn null_lists_and_objects_are_never_keys() {
    for dtype in [
        DType::Int64,
        DType::Int32,
        DType::UnixTimestamp,
        DType::String,
        DType::Bytes,
    ] {
        assert_eq!(
            err(json!(null), dtype.clone()),
            format!("entity value null cannot be a key: expected {dtype}")
        );
        assert_eq!(
            err(json!([1, 2]), dtype.clone()),
            format!("entity value [1,2] cannot be a key: expected {dtype}, got a list")
        );
        assert_eq!(
            err(json!({"a": 1}), dtype.clone()),
            format!("entity value {{\"a\":1}} cannot be a key: expected {dtype}, got an object")
        );
    }
}

#[test]
fn non_key_dtypes_are_refused() {
    assert_eq!(
        err(json!(1.5), DType::Float64),
        "a join key cannot have dtype Float64; key dtypes are Int32, Int64, String, Bytes and UnixTimestamp"
    );
    assert!(coerce_entity_value(&json!(1), &DType::Array(Box::new(DType::Int64))).is_err());
}

#[test]
fn repr_quotes_like_python() {
    let cases = [
        ("a", "'a'"),
        ("", "''"),
        ("it's", "\"it's\""),
        ("say \"hi\"", "'say \"hi\"'"),
        ("it's \"x\"", "'it\\'s \"x\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("t\tn\nr\r", "'t\\tn\\nr\\r'"),
        ("\u{0}\u{1f}\u{7f}\u{85}", "'\\x00\\x1f\\x7f\\x85'"),
        ("\u{a0}\u{ad}", "'\\xa0\\xad'"),
        ("\u{200b}\u{2028}\u{feff}", "'\\u200b\\u2028\\ufeff'"),
        ("\u{e000}\u{fffe}", "'\\ue000\\ufffe'"),
        ("\u{e0001}\u{10fffd}", "'\\U000e0001\\U0010fffd'"),
        ("é日本😀 ", "'é日本😀 '"),
    ];
    for (s, want) in cases {
        assert_eq!(python_repr_str(s), want, "{s:?}");
    }
    assert_eq!(python_str_list(&[]), "[]");
    assert_eq!(python_str_list(&["driver_id"]), "['driver_id']");
    assert_eq!(python_str_list(&["a", "b'c"]), "['a', \"b'c\"]");
}

proptest! {
    #[test]
    fn i64_round_trips(i in any::<i64>()) {
        prop_assert_eq!(ok(json!(i), DType::Int64), Value::Int64(i));
        prop_assert_eq!(ok(json!(i.to_string()), DType::Int64), Value::Int64(i));
        let parsed: serde_json::Value = serde_json::from_str(&i.to_string()).unwrap();
        // serde_json reads "-0"... never; i64 text has no "-0", so this is always exact.
        prop_assert_eq!(ok(parsed, DType::Int64), Value::Int64(i));
        prop_assert_eq!(ok(json!(i), DType::String), Value::String(i.to_string()));
    }

    #[test]
    fn strings_stay_themselves(s in any::<String>()) {
        prop_assert_eq!(ok(json!(s.clone()), DType::String), Value::String(s));
    }

    #[test]
    fn int_parsing_never_panics(s in "[ +\\-_0-9a١٠]{0,30}") {
        let _ = coerce_entity_value(&json!(s), &DType::Int64);
    }
}
