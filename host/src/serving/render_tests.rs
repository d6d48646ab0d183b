use super::*;
use crate::serving::response::FieldStatus;
use crate::types::time::{parse_timestamp, to_micros};
use proptest::prelude::*;

fn render(resp: &OnlineResponse) -> String {
    let mut out = Vec::new();
    render_online_response(resp, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn value(v: &Value) -> String {
    let mut out = Vec::new();
    write_value(v, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn float(x: f64) -> String {
    let mut out = Vec::new();
    write_python_float(x, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn micros(text: &str) -> i64 {
    to_micros(parse_timestamp(text).unwrap())
}

fn key_column(ids: &[i64]) -> ResponseColumn {
    ResponseColumn {
        values: ids.iter().map(|&i| Value::Int64(i)).collect(),
        statuses: vec![FieldStatus::Present; ids.len()],
        event_ts_micros: vec![0; ids.len()],
    }
}

#[test]
fn spec_3_3_example() {
    let resp = OnlineResponse {
        feature_names: vec!["driver_id".into(), "conv_rate".into()],
        columns: vec![
            key_column(&[1001, 1002]),
            ResponseColumn {
                values: vec![Value::Double(0.5405), Value::Null],
                statuses: vec![FieldStatus::Present, FieldStatus::NotFound],
                event_ts_micros: vec![micros("2026-08-21T09:00:00Z"), 0],
            },
        ],
    };
    assert_eq!(
        render(&resp),
        concat!(
            r#"{"results":[{"values":[1001,1002],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},"#,
            r#"{"values":[0.5405,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-08-21T09:00:00Z","1970-01-01T00:00:00Z"]}],"#,
            r#""metadata":{"feature_names":["driver_id","conv_rate"]}}"#
        )
    );
}

#[test]
fn spec_3_10_example() {
    let resp = OnlineResponse {
        feature_names: vec![
            "driver_id".into(),
            "conv_rate".into(),
            "conv_rate_plus_val1".into(),
        ],
        columns: vec![
            key_column(&[1001, 9999]),
            ResponseColumn {
                values: vec![Value::Double(0.5405), Value::Null],
                statuses: vec![FieldStatus::Present, FieldStatus::NotFound],
                event_ts_micros: vec![micros("2026-08-21T09:00:00Z"), 0],
            },
            ResponseColumn {
                values: vec![Value::Double(1000.5405), Value::Null],
                statuses: vec![FieldStatus::Present, FieldStatus::Present],
                event_ts_micros: vec![0, 0],
            },
        ],
    };
    assert_eq!(
        render(&resp),
        concat!(
            r#"{"results":["#,
            r#"{"values":[1001,9999],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},"#,
            r#"{"values":[0.5405,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-08-21T09:00:00Z","1970-01-01T00:00:00Z"]},"#,
            r#"{"values":[1000.5405,null],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]}],"#,
            r#""metadata":{"feature_names":["driver_id","conv_rate","conv_rate_plus_val1"]}}"#
        )
    );
}

#[test]
fn empty_responses() {
    assert_eq!(
        render(&OnlineResponse::default()),
        r#"{"results":[],"metadata":{"feature_names":[]}}"#
    );
    let zero_rows = OnlineResponse {
        feature_names: vec!["driver_id".into()],
        columns: vec![ResponseColumn::default()],
    };
    assert_eq!(
        render(&zero_rows),
        r#"{"results":[{"values":[],"statuses":[]}],"metadata":{"feature_names":["driver_id"]}}"#
    );
}

#[test]
fn every_status_by_name() {
    let statuses = vec![
        FieldStatus::Invalid,
        FieldStatus::Present,
        FieldStatus::NullValue,
        FieldStatus::NotFound,
        FieldStatus::OutsideMaxAge,
    ];
    let resp = OnlineResponse {
        feature_names: vec!["f".into()],
        columns: vec![ResponseColumn {
            values: vec![Value::Null; 5],
            statuses,
            event_ts_micros: vec![0; 5],
        }],
    };
    assert!(render(&resp).contains(
        r#""statuses":["INVALID","PRESENT","NULL_VALUE","NOT_FOUND","OUTSIDE_MAX_AGE"]"#
    ));
}

#[test]
fn scalars() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::Null, "null"),
        (Value::Int32(0), "0"),
        (Value::Int32(-7), "-7"),
        (Value::Int32(i32::MIN), "-2147483648"),
        (Value::Int32(i32::MAX), "2147483647"),
        (Value::Int64(1001), "1001"),
        (Value::Int64(-1001), "-1001"),
        (Value::Int64(i64::MIN), "-9223372036854775808"),
        (Value::Int64(i64::MAX), "9223372036854775807"),
        (Value::UnixTimestamp(1_700_000_000), "1700000000"),
        (Value::UnixTimestamp(-1), "-1"),
        (Value::Float(0.1), "0.10000000149011612"),
        (Value::Float(0.5), "0.5"),
        (Value::Float(-2.0), "-2.0"),
        (Value::Float(0.703_726_35), "0.7037263512611389"),
        (Value::Double(0.1), "0.1"),
        (Value::Double(-2.5e-7), "-2.5e-07"),
        (Value::Bool(true), "true"),
        (Value::Bool(false), "false"),
        (Value::String("suv".into()), r#""suv""#),
        (Value::String(String::new()), r#""""#),
        (
            Value::Json(r#"{"a": [1, 2]}"#.into()),
            r#""{\"a\": [1, 2]}""#,
        ),
        (Value::Bytes(vec![]), r#""""#),
        (Value::Bytes(b"f".to_vec()), r#""Zg==""#),
        (Value::Bytes(b"fo".to_vec()), r#""Zm8=""#),
        (Value::Bytes(b"foo".to_vec()), r#""Zm9v""#),
        (Value::Bytes(vec![0xfb, 0xff, 0xfe]), r#""+//+""#),
    ];
    for (v, want) in cases {
        assert_eq!(value(&v), want, "{v:?}");
    }
}

#[test]
fn containers_keep_order_and_nest() {
    let v = Value::Struct(vec![
        ("name".into(), Value::String("Ann".into())),
        ("age".into(), Value::Int32(30)),
        (
            "tags".into(),
            Value::List(vec![Value::String("a".into()), Value::Null]),
        ),
        (
            "attrs".into(),
            Value::Map(vec![
                ("z".into(), Value::Double(1.5)),
                ("a".into(), Value::Bytes(b"hi".to_vec())),
                ("m".into(), Value::Map(vec![])),
            ]),
        ),
        (
            "matrix".into(),
            Value::List(vec![
                Value::List(vec![Value::Int64(1), Value::Int64(-2)]),
                Value::List(vec![]),
            ]),
        ),
        ("ts".into(), Value::List(vec![Value::UnixTimestamp(5)])),
        ("f".into(), Value::List(vec![Value::Double(1e16)])),
    ]);
    assert_eq!(
        value(&v),
        r#"{"name":"Ann","age":30,"tags":["a",null],"attrs":{"z":1.5,"a":"aGk=","m":{}},"matrix":[[1,-2],[]],"ts":[5],"f":[1e+16]}"#
    );
    let structs = Value::List(vec![
        Value::Struct(vec![("k\"ey".into(), Value::Bool(true))]),
        Value::Struct(vec![]),
    ]);
    assert_eq!(value(&structs), r#"[{"k\"ey":true},{}]"#);
}

#[test]
fn depth_is_bounded() {
    let mut v = Value::Int64(1);
    for _ in 0..MAX_VALUE_DEPTH {
        v = Value::List(vec![v]);
    }
    assert!(write_value(&v, &mut Vec::new()).is_ok());
    let v = Value::Map(vec![("k".into(), v)]);
    assert!(matches!(
        write_value(&v, &mut Vec::new()),
        Err(RenderError::TooDeep)
    ));
}

#[test]
fn strings_escape_like_python() {
    let s = "q\"b\\n\nr\rt\tb\u{8}f\u{c}\u{0}\u{1f}\u{7f}é😀\u{2028}/<";
    assert_eq!(
        value(&Value::String(s.into())),
        "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0000\\u001f\u{7f}é😀\u{2028}/<\""
    );
}

#[test]
// The tie cases are written as their exact binary values, digits clippy deems excessive.
#[allow(clippy::excessive_precision)]
fn python_float_repr() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (100.0, "100.0"),
        (-3.0, "-3.0"),
        (0.5405, "0.5405"),
        (1.5, "1.5"),
        (0.0001, "0.0001"),
        (0.00012, "0.00012"),
        (1e-5, "1e-05"),
        (1.5e-5, "1.5e-05"),
        (-2.5e-7, "-2.5e-07"),
        (1e15, "1000000000000000.0"),
        (1234567890123456.7, "1234567890123456.8"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
        (1e100, "1e+100"),
        (1e-100, "1e-100"),
        (5e-324, "5e-324"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN, "-1.7976931348623157e+308"),
        (f64::from(0.7f32), "0.699999988079071"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (123.456, "123.456"),
        (9007199254740993.0, "9007199254740992.0"),
        // Exact ties between two shortest candidates: Python takes the even digit.
        (219.074_005_126_953_125, "219.07400512695312"),
        (f64::from(219.074_f32), "219.07400512695312"),
        (-111.450_103_759_765_625, "-111.45010375976562"),
        (f64::from_bits(0xc2e6_ea3c_8367_fff4), "-201562347225087.62"),
        // ...unless the even one does not read back (next to a power of two).
        (2f64.powi(-24), "5.960464477539063e-08"),
        (1.0 / 1024.0, "0.0009765625"),
        (3.0 * 5e-324, "1.5e-323"),
    ];
    for &(x, want) in cases {
        assert_eq!(float(x), want, "{x:e}");
    }
}

#[test]
fn non_finite_floats_are_errors() {
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = write_python_float(x, &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Out of range float values are not JSON compliant"
        );
    }
    assert!(write_value(&Value::Float(f32::NAN), &mut Vec::new()).is_err());
    assert!(
        write_value(
            &Value::List(vec![Value::Double(f64::INFINITY)]),
            &mut Vec::new()
        )
        .is_err()
    );
    let resp = OnlineResponse {
        feature_names: vec!["f".into()],
        columns: vec![ResponseColumn {
            values: vec![Value::Double(f64::NAN)],
            statuses: vec![FieldStatus::Present],
            event_ts_micros: vec![0],
        }],
    };
    assert!(render_online_response(&resp, &mut Vec::new()).is_err());
}

#[test]
fn timestamps() {
    let cases: &[(i64, &str)] = &[
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.000001Z"),
        (1000, "1970-01-01T00:00:00.001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (micros("2026-08-21T09:00:00Z"), "2026-08-21T09:00:00Z"),
        (micros("2024-02-29T23:59:59.5Z"), "2024-02-29T23:59:59.500Z"),
        (
            micros("2000-03-01T00:00:00.123456Z"),
            "2000-03-01T00:00:00.123456Z",
        ),
        (
            micros("9999-12-31T23:59:59.999999Z"),
            "9999-12-31T23:59:59.999999Z",
        ),
    ];
    for &(us, want) in cases {
        let mut out = Vec::new();
        TimestampWriter::new().write(us, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("\"{want}\""),
            "{us}"
        );
    }
}

/// Python's rule for repr: exponent form iff the decimal exponent is < -4 or >= 16.
fn decimal_exponent(x: f64) -> i32 {
    let sci = format!("{:e}", x.abs());
    sci.split_once('e').unwrap().1.parse().unwrap()
}

fn arb_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        any::<f64>(),
        any::<f32>().prop_map(f64::from),
        (-1e6f64..1e6),
        any::<i64>().prop_map(|i| i as f64),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i32>().prop_map(Value::Int32),
        any::<i64>().prop_map(Value::Int64),
        any::<i64>().prop_map(Value::UnixTimestamp),
        any::<f32>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::Float),
        arb_finite().prop_map(Value::Double),
        any::<bool>().prop_map(Value::Bool),
        any::<String>().prop_map(Value::String),
        any::<String>().prop_map(Value::Json),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec((any::<String>(), inner.clone()), 0..4).prop_map(Value::Map),
            proptest::collection::vec((any::<String>(), inner), 0..4).prop_map(Value::Struct),
        ]
    })
}

fn arb_response() -> impl Strategy<Value = OnlineResponse> {
    (0usize..4, 0usize..4).prop_flat_map(|(cols, rows)| {
        let column = (
            proptest::collection::vec(arb_value(), rows),
            proptest::collection::vec(
                proptest::sample::select(vec![
                    FieldStatus::Present,
                    FieldStatus::NotFound,
                    FieldStatus::OutsideMaxAge,
                ]),
                rows,
            ),
            proptest::collection::vec(any::<i64>(), rows),
        )
            .prop_map(|(values, statuses, event_ts_micros)| ResponseColumn {
                values,
                statuses,
                event_ts_micros,
            });
        (
            proptest::collection::vec(any::<String>(), cols),
            proptest::collection::vec(column, cols),
        )
            .prop_map(|(feature_names, columns)| OnlineResponse {
                feature_names,
                columns,
            })
    })
}

proptest! {
    #[test]
    fn python_float_round_trips_and_follows_pythons_layout(x in arb_finite()) {
        let text = float(x);
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{}", text);
        // Only checks that it is valid JSON: serde_json without its `float_roundtrip`
        // feature may read a float one ulp off, so bits are compared via str::parse.
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert!(parsed.is_f64(), "{}", text);
        let exp = decimal_exponent(x);
        prop_assert_eq!(text.contains('e'), !(-4..16).contains(&exp), "{}", text);
        prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
        if let Some((_, e)) = text.split_once('e') {
            prop_assert!(e.starts_with('+') || e.starts_with('-'), "{}", text);
            prop_assert!(e.len() >= 3, "{}", text);
        }
    }

    #[test]
    fn strings_match_serde_json(s in any::<String>()) {
        let mut out = Vec::new();
        write_json_str(&s, &mut out);
        prop_assert_eq!(&out, &serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn timestamps_match_chrono(pool in proptest::collection::vec(prop_oneof![
        any::<i64>(),
        Just(0i64),
        -62_135_596_800_000_000i64..253_402_300_800_000_000,
        (-100_000_000i64..4_000_000_000).prop_map(|s| s * 1_000_000),
        (-100_000_000_000i64..4_000_000_000_000).prop_map(|ms| ms * 1000),
    ], 1..4), picks in proptest::collection::vec(any::<proptest::sample::Index>(), 1..8)) {
        // One writer over a sequence with repeats, as in a column, to exercise its cache.
        let mut writer = TimestampWriter::new();
        let (mut out, mut want) = (Vec::new(), Vec::new());
        for pick in picks {
            let us = pool[pick.index(pool.len())];
            writer.write(us, &mut out);
            write_json_str(&format_rfc3339(from_micros(us)), &mut want);
        }
        prop_assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(want).unwrap());
    }

    #[test]
    fn responses_always_parse_as_json(resp in arb_response()) {
        let mut out = Vec::new();
        render_online_response(&resp, &mut out).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let results = parsed["results"].as_array().unwrap();
        prop_assert_eq!(results.len(), resp.columns.len());
        for (r, c) in results.iter().zip(&resp.columns) {
            prop_assert_eq!(r["values"].as_array().unwrap().len(), c.values.len());
            prop_assert_eq!(r.get("event_timestamps").is_some(), !c.event_ts_micros.is_empty());
        }
        let names: Vec<String> =
            serde_json::from_value(parsed["metadata"]["feature_names"].clone()).unwrap();
        prop_assert_eq!(names, resp.feature_names.clone());
    }
}
