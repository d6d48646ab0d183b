use super::*;

#[test]
fn every_scalar_parses_and_maps_to_its_value_type() {
    let expected = [
        ("Float32", ValueType::Float, 6),
        ("Float64", ValueType::Double, 5),
        ("Int32", ValueType::Int32, 3),
        ("Int64", ValueType::Int64, 4),
        ("String", ValueType::String, 2),
        ("Bytes", ValueType::Bytes, 1),
        ("Bool", ValueType::Bool, 7),
        ("UnixTimestamp", ValueType::UnixTimestamp, 8),
        ("Map", ValueType::Map, 20),
        ("Json", ValueType::Json, 32),
    ];
    for (text, vt, num) in expected {
        let t = DType::parse(text).unwrap();
        assert_eq!(t.value_type(), vt, "{text}");
        assert_eq!(vt as i32, num, "{text}");
        assert_eq!(t.to_string(), text);
    }
}

#[test]
fn arrays_map_to_list_value_types() {
    let expected = [
        ("Array(Float32)", ValueType::FloatList, 16),
        ("Array(Float64)", ValueType::DoubleList, 15),
        ("Array(Int32)", ValueType::Int32List, 13),
        ("Array(Int64)", ValueType::Int64List, 14),
        ("Array(String)", ValueType::StringList, 12),
        ("Array(Bytes)", ValueType::BytesList, 11),
        ("Array(Bool)", ValueType::BoolList, 17),
        ("Array(UnixTimestamp)", ValueType::UnixTimestampList, 18),
        ("Array(Map)", ValueType::MapList, 21),
        ("Array(Json)", ValueType::JsonList, 33),
        ("Array(Struct{a: Int64})", ValueType::StructList, 35),
        ("Array(Array(Int64))", ValueType::ValueList, 42),
    ];
    for (text, vt, num) in expected {
        let t = DType::parse(text).unwrap();
        assert_eq!(t.value_type(), vt, "{text}");
        assert_eq!(vt as i32, num);
        assert_eq!(t.to_string(), text);
    }
}

#[test]
fn struct_in_both_spellings() {
    let want = DType::Struct(vec![
        ("name".into(), DType::String),
        ("age".into(), DType::String),
    ]);
    for text in [
        "Struct{name: String, age: String}",
        "Struct({\"name\": String, \"age\": String})",
        "Struct({'name': String, 'age': String,})",
        " Struct { name : String , age:String } ",
    ] {
        assert_eq!(DType::parse(text).unwrap(), want, "{text}");
    }
    assert_eq!(want.to_string(), "Struct{name: String, age: String}");
    assert_eq!(want.value_type(), ValueType::Struct);
}

#[test]
fn errors_say_what_is_wrong() {
    let cases = [
        (
            "int64",
            "invalid dtype `int64`: unknown type `int64`; did you mean `Int64`? valid types are Float32, Float64, Int32, Int64, String, Bytes, Bool, UnixTimestamp, Map, Json, Array(T) and Struct{field: T, ...}",
        ),
        (
            "Array(Int64",
            "invalid dtype `Array(Int64`: expected `)` to close `Array(`, found the end of the text",
        ),
        (
            "Struct{}",
            "invalid dtype `Struct{}`: a `Struct` needs at least one field",
        ),
        (
            "Struct{a: Int64, a: String}",
            "invalid dtype `Struct{a: Int64, a: String}`: struct field `a` is declared twice",
        ),
        (
            "Int64 extra",
            "invalid dtype `Int64 extra`: unexpected `extra` after the type",
        ),
        (
            "",
            "invalid dtype ``: expected a type name; valid types are Float32, Float64, Int32, Int64, String, Bytes, Bool, UnixTimestamp, Map, Json, Array(T) and Struct{field: T, ...}",
        ),
    ];
    for (text, msg) in cases {
        assert_eq!(DType::parse(text).unwrap_err().to_string(), msg);
    }
}

#[test]
fn key_types_are_the_ones_serialization_v3_encodes() {
    let keys: Vec<String> = SCALARS
        .iter()
        .filter(|(_, t)| t.is_key_type())
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(keys, ["Int32", "Int64", "String", "Bytes", "UnixTimestamp"]);
}

fn arb_dtype() -> impl proptest::strategy::Strategy<Value = DType> {
    use proptest::prelude::*;
    let leaf = proptest::sample::select(SCALARS.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>());
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| DType::Array(Box::new(t))),
            proptest::collection::vec(("[a-z_][a-z0-9_]{0,6}", inner), 1..4).prop_map(|fields| {
                let mut seen = std::collections::HashSet::new();
                DType::Struct(
                    fields
                        .into_iter()
                        .filter(|(n, _)| seen.insert(n.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn display_then_parse_round_trips(t in arb_dtype()) {
        proptest::prop_assert_eq!(DType::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn parse_never_panics(s in ".{0,40}") {
        let _ = DType::parse(&s);
    }
}

#[test]
fn struct_field_names_that_are_not_identifiers_display_quoted_and_parse_back() {
    for text in [
        r#"Struct{"home town": String, age: Int64}"#,
        r#"Struct{'say "hi"': Array(Int32)}"#,
    ] {
        let t = DType::parse(text).unwrap();
        assert_eq!(t.to_string(), text);
        assert_eq!(DType::parse(&t.to_string()).unwrap(), t);
    }
}
