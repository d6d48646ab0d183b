use std::fs::File;
use std::sync::Arc;

use super::*;
use crate::types::Value;
use crate::types::json::json_to_value;
use crate::types::json::python_float_str;
use arrow_array::builder::{
    Int64Builder, ListBuilder, MapBuilder, NullBufferBuilder, StringBuilder,
};
use arrow_array::types::UInt16Type;
use arrow_array::types::{Float16Type, Float32Type, Int8Type, Int32Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array,
    FixedSizeBinaryArray, FixedSizeListArray, Float16Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, LargeBinaryArray, LargeListArray, LargeListViewArray,
    LargeStringArray, ListArray, ListViewArray, StringArray, StringViewArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, Decimal128Array, DictionaryArray, NullArray, RecordBatch,
    StructArray,
};
use arrow_schema::{Field, Fields};
use chrono::{TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;
use serde_json::json;

type F16 = <Float16Type as ArrowPrimitiveType>::Native;

fn dt(text: &str) -> DType {
    DType::parse(text).unwrap()
}

fn convert_all(array: &dyn Array, dtype: &DType) -> Vec<Value> {
    let c = ColumnConverter::new(array, dtype).unwrap();
    (0..array.len()).map(|i| c.value(i).unwrap()).collect()
}

fn new_error(array: &dyn Array, dtype: &str) -> String {
    ColumnConverter::new(array, &dt(dtype))
        .unwrap_err()
        .to_string()
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn entries(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn field(name: &str, t: DataType) -> Arc<Field> {
    Arc::new(Field::new(name, t, true))
}

/// A struct array from named children, with the rows in `nulls` null.
fn struct_array(children: Vec<(&str, ArrayRef)>, nulls: &[usize]) -> StructArray {
    let len = children[0].1.len();
    let fields: Fields = children
        .iter()
        .map(|(n, a)| field(n, a.data_type().clone()))
        .collect();
    let mut validity = NullBufferBuilder::new(len);
    for row in 0..len {
        validity.append(!nulls.contains(&row));
    }
    let columns = children.into_iter().map(|(_, a)| a).collect();
    StructArray::try_new(fields, columns, validity.finish()).unwrap()
}

#[test]
fn integers_of_every_width_become_int64() {
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(-8), None, Some(7)])),
        Arc::new(Int16Array::from(vec![Some(-8), None, Some(7)])),
        Arc::new(Int32Array::from(vec![Some(-8), None, Some(7)])),
        Arc::new(Int64Array::from(vec![Some(-8), None, Some(7)])),
    ];
    for a in &arrays {
        assert_eq!(
            convert_all(a.as_ref(), &DType::Int64),
            [Value::Int64(-8), Value::Null, Value::Int64(7)],
            "{}",
            a.data_type()
        );
    }
    let unsigned: Vec<ArrayRef> = vec![
        Arc::new(UInt8Array::from(vec![Some(200), None])),
        Arc::new(UInt16Array::from(vec![Some(200), None])),
        Arc::new(UInt32Array::from(vec![Some(200), None])),
        Arc::new(UInt64Array::from(vec![Some(200), None])),
    ];
    for a in &unsigned {
        assert_eq!(
            convert_all(a.as_ref(), &DType::Int64),
            [Value::Int64(200), Value::Null],
            "{}",
            a.data_type()
        );
        assert_eq!(
            convert_all(a.as_ref(), &DType::Int32),
            [Value::Int32(200), Value::Null],
            "{}",
            a.data_type()
        );
    }
}

#[test]
fn integers_out_of_range_fail_for_that_cell_only() {
    let big = UInt64Array::from(vec![u64::MAX, 5, i64::MAX as u64]);
    let c = ColumnConverter::new(&big, &DType::Int64).unwrap();
    assert_eq!(
        c.value(0).unwrap_err().to_string(),
        "value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
    );
    assert_eq!(c.value(1).unwrap(), Value::Int64(5));
    assert_eq!(c.value(2).unwrap(), Value::Int64(i64::MAX));

    let wide = Int64Array::from(vec![1, i64::from(i32::MAX) + 1, i64::from(i32::MIN)]);
    let c = ColumnConverter::new(&wide, &DType::Int32).unwrap();
    assert_eq!(c.value(0).unwrap(), Value::Int32(1));
    assert_eq!(
        c.value(1).unwrap_err(),
        ConvertError::OutOfRange {
            value: "2147483648".into(),
            arrow: DataType::Int64,
            dtype: DType::Int32,
        }
    );
    assert_eq!(c.value(2).unwrap(), Value::Int32(i32::MIN));
    let unsigned = UInt32Array::from(vec![u32::MAX]);
    assert!(
        ColumnConverter::new(&unsigned, &DType::Int32)
            .unwrap()
            .value(0)
            .is_err()
    );
}

#[test]
fn floats_widen_narrow_and_take_integers() {
    let f64s = Float64Array::from(vec![Some(0.1), None]);
    let f32s = Float32Array::from(vec![Some(0.1f32), None]);
    let f16s = Float16Array::from(vec![Some(F16::from_f32(1.5)), None]);
    let ints = Int32Array::from(vec![Some(3), None]);
    let big = UInt64Array::from(vec![Some(10), None]);

    assert_eq!(
        convert_all(&f64s, &DType::Float32),
        [Value::Float(0.1f32), Value::Null]
    );
    assert_eq!(
        convert_all(&f32s, &DType::Float32),
        [Value::Float(0.1f32), Value::Null]
    );
    assert_eq!(
        convert_all(&f16s, &DType::Float32),
        [Value::Float(1.5), Value::Null]
    );
    assert_eq!(
        convert_all(&ints, &DType::Float32),
        [Value::Float(3.0), Value::Null]
    );

    assert_eq!(
        convert_all(&f64s, &DType::Float64),
        [Value::Double(0.1), Value::Null]
    );
    assert_eq!(
        convert_all(&f32s, &DType::Float64),
        [Value::Double(f64::from(0.1f32)), Value::Null]
    );
    assert_eq!(
        convert_all(&f16s, &DType::Float64),
        [Value::Double(1.5), Value::Null]
    );
    assert_eq!(
        convert_all(&big, &DType::Float64),
        [Value::Double(10.0), Value::Null]
    );

    // Floats never silently become integers.
    assert_eq!(
        new_error(&f64s, "Int64"),
        "cannot convert Arrow type Float64 to dtype Int64"
    );
}

#[test]
fn strings_from_every_text_layout_and_dictionaries() {
    let want = [s("a"), Value::Null, s("")];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![Some("a"), None, Some("")])),
        Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("")])),
        Arc::new(StringViewArray::from(vec![Some("a"), None, Some("")])),
        Arc::new(DictionaryArray::<Int8Type>::from_iter([
            Some("a"),
            None,
            Some(""),
        ])),
        Arc::new(DictionaryArray::<UInt16Type>::from_iter([
            Some("a"),
            None,
            Some(""),
        ])),
    ];
    for a in &arrays {
        assert_eq!(
            convert_all(a.as_ref(), &DType::String),
            want,
            "{}",
            a.data_type()
        );
    }
    // A null among the dictionary's values, rather than its keys, is null too.
    let dict = DictionaryArray::try_new(
        Int32Array::from(vec![0, 1, 0]),
        Arc::new(StringArray::from(vec![Some("x"), None])),
    )
    .unwrap();
    assert_eq!(
        convert_all(&dict, &DType::String),
        [s("x"), Value::Null, s("x")]
    );
    assert_eq!(
        new_error(&dict, "Int64"),
        "cannot convert Arrow type Dictionary(Int32, Utf8) to dtype Int64"
    );
    assert_eq!(
        new_error(&Int64Array::from(vec![1]), "String"),
        "cannot convert Arrow type Int64 to dtype String"
    );
}

#[test]
fn bytes_from_binary_layouts_and_text() {
    let want = [Value::Bytes(vec![1, 2]), Value::Null];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_opt_vec(vec![Some(&[1, 2]), None])),
        Arc::new(LargeBinaryArray::from_opt_vec(vec![Some(&[1, 2]), None])),
        Arc::new(BinaryViewArray::from(vec![Some(&[1u8, 2][..]), None])),
        Arc::new(FixedSizeBinaryArray::try_from(vec![Some(&[1u8, 2][..]), None]).unwrap()),
    ];
    for a in &arrays {
        assert_eq!(
            convert_all(a.as_ref(), &DType::Bytes),
            want,
            "{}",
            a.data_type()
        );
    }
    let text = StringArray::from(vec![Some("hé"), None]);
    assert_eq!(
        convert_all(&text, &DType::Bytes),
        [Value::Bytes("hé".as_bytes().to_vec()), Value::Null]
    );
}

#[test]
fn bools() {
    let bools = BooleanArray::from(vec![Some(true), None, Some(false)]);
    assert_eq!(
        convert_all(&bools, &DType::Bool),
        [Value::Bool(true), Value::Null, Value::Bool(false)]
    );
    assert_eq!(
        new_error(&Int8Array::from(vec![1]), "Bool"),
        "cannot convert Arrow type Int8 to dtype Bool"
    );
}

#[test]
fn unix_timestamps_floor_to_seconds_from_every_unit() {
    let ts = Value::UnixTimestamp;
    let cases: Vec<(ArrayRef, Vec<Value>)> = vec![
        (
            Arc::new(TimestampSecondArray::from(vec![
                Some(-1),
                None,
                Some(1_700_000_000),
            ])),
            vec![ts(-1), Value::Null, ts(1_700_000_000)],
        ),
        (
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(-1_500), None, Some(1_999)])
                    .with_timezone("UTC"),
            ),
            vec![ts(-2), Value::Null, ts(1)],
        ),
        (
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(-1), None, Some(1_500_000)])
                    .with_timezone("Europe/Paris"),
            ),
            vec![ts(-1), Value::Null, ts(1)],
        ),
        (
            Arc::new(
                TimestampNanosecondArray::from(vec![Some(-1), None, Some(2_999_999_999)])
                    .with_timezone("+02:00"),
            ),
            vec![ts(-1), Value::Null, ts(2)],
        ),
        (
            Arc::new(Date32Array::from(vec![Some(-1), None, Some(1)])),
            vec![ts(-86_400), Value::Null, ts(86_400)],
        ),
        (
            Arc::new(Date64Array::from(vec![Some(-1), None, Some(86_400_000)])),
            vec![ts(-1), Value::Null, ts(86_400)],
        ),
        (
            Arc::new(Int64Array::from(vec![Some(-5), None, Some(42)])),
            vec![ts(-5), Value::Null, ts(42)],
        ),
    ];
    for (a, want) in &cases {
        assert_eq!(
            convert_all(a.as_ref(), &DType::UnixTimestamp),
            *want,
            "{}",
            a.data_type()
        );
    }
    assert_eq!(
        new_error(&StringArray::from(vec!["2024-01-01"]), "UnixTimestamp"),
        "cannot convert Arrow type Utf8 to dtype UnixTimestamp"
    );
}

#[test]
fn json_from_text_is_kept_as_is_and_must_parse() {
    let text = StringArray::from(vec![
        Some(r#"{"b": 1, "a": [true]}"#),
        None,
        Some("[1,2]"),
        Some("{oops"),
    ]);
    let c = ColumnConverter::new(&text, &DType::Json).unwrap();
    assert_eq!(
        c.value(0).unwrap(),
        Value::Json(r#"{"b": 1, "a": [true]}"#.into())
    );
    assert_eq!(c.value(1).unwrap(), Value::Null);
    assert_eq!(c.value(2).unwrap(), Value::Json("[1,2]".into()));
    let err = c.value(3).unwrap_err();
    assert!(
        matches!(&err, ConvertError::InvalidJsonText { text, dtype: DType::Json, .. } if text == "{oops"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("text \"{oops\" for dtype Json is not valid JSON: ")
    );

    let large = LargeStringArray::from(vec!["{}"]);
    assert_eq!(
        convert_all(&large, &DType::Json),
        [Value::Json("{}".into())]
    );
}

#[test]
fn json_from_other_types_is_rendered() {
    let st = struct_array(
        vec![
            ("b", Arc::new(Int64Array::from(vec![Some(1), Some(2)]))),
            ("a", Arc::new(StringArray::from(vec![Some("x"), None]))),
        ],
        &[],
    );
    // Keys keep the struct's field order (serde_json's `preserve_order`).
    assert_eq!(
        convert_all(&st, &DType::Json),
        [
            Value::Json(r#"{"b":1,"a":"x"}"#.into()),
            Value::Json(r#"{"b":2,"a":null}"#.into())
        ]
    );
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), None, Some(3)]),
        None,
    ]);
    assert_eq!(
        convert_all(&list, &DType::Json),
        [Value::Json("[1,null,3]".into()), Value::Null]
    );
    let floats = Float64Array::from(vec![1.5, f64::NAN]);
    assert_eq!(
        convert_all(&floats, &DType::Json),
        [Value::Json("1.5".into()), Value::Json("null".into())]
    );
    let bools = BooleanArray::from(vec![true]);
    assert_eq!(
        convert_all(&bools, &DType::Json),
        [Value::Json("true".into())]
    );
    let bytes = BinaryArray::from_vec(vec![&[1, 2]]);
    assert_eq!(
        convert_all(&bytes, &DType::Json),
        [Value::Json("\"AQI=\"".into())]
    );
    let times = TimestampMillisecondArray::from(vec![1_700_000_000_500]);
    assert_eq!(
        convert_all(&times, &DType::Json),
        [Value::Json("1700000000".into())]
    );
    assert_eq!(
        new_error(&Decimal128Array::from(vec![1]), "Json"),
        "cannot convert Arrow type Decimal128(38, 10) to dtype Json"
    );
}

#[test]
fn map_from_a_struct_takes_natural_values() {
    let nested = struct_array(
        vec![("x", Arc::new(Int32Array::from(vec![Some(1), Some(2)])))],
        &[1],
    );
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), None]),
        Some(vec![]),
    ]);
    let st = struct_array(
        vec![
            ("s", Arc::new(StringArray::from(vec![Some("a"), Some("b")]))),
            ("i", Arc::new(Int64Array::from(vec![Some(1), None]))),
            (
                "f",
                Arc::new(Float32Array::from(vec![Some(0.5), Some(1.0)])),
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
            ),
            ("nested", Arc::new(nested)),
            ("l", Arc::new(list)),
            ("n", Arc::new(NullArray::new(2))),
        ],
        &[],
    );
    let got = convert_all(&st, &DType::Map);
    assert_eq!(
        got[0],
        Value::Map(entries(&[
            ("s", s("a")),
            ("i", Value::Int64(1)),
            ("f", Value::Double(0.5)),
            ("b", Value::Bool(true)),
            ("nested", Value::Map(entries(&[("x", Value::Int64(1))]))),
            ("l", Value::List(vec![Value::Int64(1), Value::Null])),
            ("n", Value::Null),
        ]))
    );
    assert_eq!(
        got[1],
        Value::Map(entries(&[
            ("s", s("b")),
            ("i", Value::Null),
            ("f", Value::Double(1.0)),
            ("b", Value::Bool(false)),
            ("nested", Value::Null),
            ("l", Value::List(vec![])),
            ("n", Value::Null),
        ]))
    );

    // A null struct is null, and a slice starts where it should.
    let st = struct_array(
        vec![("k", Arc::new(StringArray::from(vec!["a", "b", "c"])))],
        &[1],
    );
    assert_eq!(
        convert_all(&st.slice(1, 2), &DType::Map),
        [Value::Null, Value::Map(entries(&[("k", s("c"))]))]
    );

    let odd = struct_array(vec![("d", Arc::new(Decimal128Array::from(vec![1])))], &[]);
    assert_eq!(
        new_error(&odd, "Map"),
        "field `d`: Arrow type Decimal128(38, 10) has no natural value to put in a Map or Json"
    );
}

#[test]
fn map_from_an_arrow_map_and_from_json_text() {
    let mut b = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    b.keys().append_value("a");
    b.values().append_value(1);
    b.keys().append_value("b");
    b.values().append_null();
    b.append(true).unwrap();
    b.append(false).unwrap();
    b.append(true).unwrap();
    let map = b.finish();
    assert_eq!(
        convert_all(&map, &DType::Map),
        [
            Value::Map(entries(&[("a", Value::Int64(1)), ("b", Value::Null)])),
            Value::Null,
            Value::Map(vec![]),
        ]
    );
    assert_eq!(
        convert_all(&map.slice(2, 1), &DType::Map),
        [Value::Map(vec![])]
    );

    let text = StringArray::from(vec![
        Some(r#"{"z": 1, "a": "x", "f": 1.5, "t": true, "n": null, "l": [1], "o": {"k": "v"}}"#),
        None,
        Some("[1]"),
        Some("nope"),
    ]);
    let c = ColumnConverter::new(&text, &DType::Map).unwrap();
    assert_eq!(
        c.value(0).unwrap(),
        Value::Map(entries(&[
            ("z", Value::Int64(1)),
            ("a", s("x")),
            ("f", Value::Double(1.5)),
            ("t", Value::Bool(true)),
            ("n", Value::Null),
            ("l", Value::List(vec![Value::Int64(1)])),
            ("o", Value::Map(entries(&[("k", s("v"))]))),
        ]))
    );
    assert_eq!(c.value(1).unwrap(), Value::Null);
    assert_eq!(
        c.value(2).unwrap_err().to_string(),
        "cannot convert JSON value [1] to dtype Map: expected a JSON object"
    );
    assert!(matches!(
        c.value(3).unwrap_err(),
        ConvertError::InvalidJsonText { .. }
    ));
    assert_eq!(
        new_error(&Int64Array::from(vec![1]), "Map"),
        "cannot convert Arrow type Int64 to dtype Map"
    );
}

#[test]
fn struct_follows_the_declared_fields() {
    let st = struct_array(
        vec![
            (
                "age",
                Arc::new(Int32Array::from(vec![Some(30), None, Some(40)])),
            ),
            (
                "name",
                Arc::new(StringArray::from(vec!["ann", "bob", "cy"])),
            ),
            ("extra", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ],
        &[2],
    );
    let dtype = dt("Struct{name: String, age: Int64, missing: Bool}");
    assert_eq!(
        convert_all(&st, &dtype),
        [
            Value::Struct(entries(&[
                ("name", s("ann")),
                ("age", Value::Int64(30)),
                ("missing", Value::Null),
            ])),
            Value::Struct(entries(&[
                ("name", s("bob")),
                ("age", Value::Null),
                ("missing", Value::Null),
            ])),
            Value::Null,
        ]
    );
    assert_eq!(
        new_error(&st, "Struct{age: Bool}"),
        "field `age`: cannot convert Arrow type Int32 to dtype Bool"
    );

    let big = struct_array(
        vec![("n", Arc::new(UInt64Array::from(vec![u64::MAX])))],
        &[],
    );
    assert_eq!(
        ColumnConverter::new(&big, &dt("Struct{n: Int64}"))
            .unwrap()
            .value(0)
            .unwrap_err()
            .to_string(),
        "field `n`: value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
    );

    let text = StringArray::from(vec![Some(r#"{"age": 3, "name": "x", "other": 1}"#), None]);
    assert_eq!(
        convert_all(&text, &dt("Struct{name: String, age: Int32}")),
        [
            Value::Struct(entries(&[("name", s("x")), ("age", Value::Int32(3))])),
            Value::Null,
        ]
    );
    assert_eq!(
        new_error(&Int64Array::from(vec![1]), "Struct{a: Int64}"),
        "cannot convert Arrow type Int64 to dtype Struct{a: Int64}"
    );
}

#[test]
fn arrays_from_every_list_layout() {
    let list = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
        Some(vec![Some(1.5), None]),
        None,
        Some(vec![]),
    ]);
    assert_eq!(
        convert_all(&list, &dt("Array(Float32)")),
        [
            Value::List(vec![Value::Float(1.5), Value::Null]),
            Value::Null,
            Value::List(vec![]),
        ]
    );
    assert_eq!(
        convert_all(&list, &dt("Array(Float64)"))[0],
        Value::List(vec![Value::Double(1.5), Value::Null])
    );
    assert_eq!(
        convert_all(&list.slice(2, 1), &dt("Array(Float32)")),
        [Value::List(vec![])]
    );

    let want = [
        Value::List(vec![Value::Int64(1), Value::Null]),
        Value::Null,
        Value::List(vec![Value::Int64(3), Value::Int64(4)]),
    ];
    let data = vec![
        Some(vec![Some(1), None]),
        None,
        Some(vec![Some(3), Some(4)]),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(LargeListArray::from_iter_primitive::<Int64Type, _, _>(
            data.clone(),
        )),
        Arc::new(FixedSizeListArray::from_iter_primitive::<Int32Type, _, _>(
            data.iter().map(|r| {
                r.as_ref()
                    .map(|v| v.iter().map(|x| x.map(|x| x as i32)).collect::<Vec<_>>())
            }),
            2,
        )),
        Arc::new(ListViewArray::from_iter_primitive::<Int64Type, _, _>(
            data.clone(),
        )),
        Arc::new(LargeListViewArray::from_iter_primitive::<Int8Type, _, _>(
            data.iter().map(|r| {
                r.as_ref()
                    .map(|v| v.iter().map(|x| x.map(|x| x as i8)).collect::<Vec<_>>())
            }),
        )),
    ];
    for a in &arrays {
        assert_eq!(
            convert_all(a.as_ref(), &dt("Array(Int64)")),
            want,
            "{}",
            a.data_type()
        );
        assert_eq!(
            convert_all(&a.slice(1, 2), &dt("Array(Int64)")),
            want[1..],
            "{} sliced",
            a.data_type()
        );
    }

    // Nested lists and lists of structs.
    let mut nested = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
    nested.values().values().append_value(1);
    nested.values().append(true);
    nested.values().append(true);
    nested.append(true);
    let nested = nested.finish();
    assert_eq!(
        convert_all(&nested, &dt("Array(Array(Int64))")),
        [Value::List(vec![
            Value::List(vec![Value::Int64(1)]),
            Value::List(vec![]),
        ])]
    );
    let structs = struct_array(vec![("a", Arc::new(Int64Array::from(vec![1, 2])))], &[1]);
    let list_of_structs = FixedSizeListArray::try_new(
        field("item", structs.data_type().clone()),
        2,
        Arc::new(structs),
        None,
    )
    .unwrap();
    assert_eq!(
        convert_all(&list_of_structs, &dt("Array(Struct{a: Int64})")),
        [Value::List(vec![
            Value::Struct(entries(&[("a", Value::Int64(1))])),
            Value::Null,
        ])]
    );

    let strings = ListArray::from_iter_primitive::<UInt64Type, _, _>(vec![Some(vec![
        Some(1),
        Some(u64::MAX),
    ])]);
    assert_eq!(
        ColumnConverter::new(&strings, &dt("Array(Int64)"))
            .unwrap()
            .value(0)
            .unwrap_err()
            .to_string(),
        "element 1: value 18446744073709551615 (Arrow type UInt64) does not fit dtype Int64"
    );
    let err = new_error(&list, "Array(String)");
    assert!(
        err.starts_with("cannot convert Arrow type List(")
            && err.ends_with(" to dtype Array(String)"),
        "{err}"
    );
    assert_eq!(
        new_error(&Int64Array::from(vec![1]), "Array(Int64)"),
        "cannot convert Arrow type Int64 to dtype Array(Int64)"
    );
}

#[test]
fn a_null_column_is_null_for_every_dtype() {
    let nulls = NullArray::new(2);
    for t in [
        "Int64",
        "Float32",
        "String",
        "Bytes",
        "Bool",
        "UnixTimestamp",
        "Json",
        "Map",
        "Struct{a: Int64}",
        "Array(Int64)",
    ] {
        assert_eq!(
            convert_all(&nulls, &dt(t)),
            [Value::Null, Value::Null],
            "{t}"
        );
    }
}

#[test]
fn a_row_past_the_end_is_an_error_not_a_panic() {
    let a = Int64Array::from(vec![1]);
    let c = ColumnConverter::new(&a, &DType::Int64).unwrap();
    assert_eq!(
        c.value(1).unwrap_err(),
        ConvertError::RowOutOfRange { row: 1, len: 1 }
    );
    let t = TimestampColumn::new(&a);
    assert!(t.is_err());
}

#[test]
fn utf8_for_int64_names_both_types() {
    let text = StringArray::from(vec!["1"]);
    let err = ColumnConverter::new(&text, &DType::Int64).unwrap_err();
    assert_eq!(
        err,
        ConvertError::ArrowType {
            arrow: DataType::Utf8,
            dtype: DType::Int64
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot convert Arrow type Utf8 to dtype Int64"
    );
}

#[test]
fn timestamp_columns_in_every_unit_read_as_micros() {
    // 2023-11-14T22:13:20.123456789Z in each unit, with and without a zone.
    let micros = 1_700_000_000_123_456;
    let cases: Vec<(ArrayRef, i64)> = vec![
        (
            Arc::new(TimestampSecondArray::from(vec![Some(1_700_000_000), None])),
            1_700_000_000_000_000,
        ),
        (
            Arc::new(
                TimestampSecondArray::from(vec![Some(1_700_000_000), None]).with_timezone("UTC"),
            ),
            1_700_000_000_000_000,
        ),
        (
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_700_000_000_123),
                None,
            ])),
            1_700_000_000_123_000,
        ),
        (
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), None])
                    .with_timezone("America/New_York"),
            ),
            1_700_000_000_123_000,
        ),
        (
            Arc::new(TimestampMicrosecondArray::from(vec![Some(micros), None])),
            micros,
        ),
        (
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(micros), None]).with_timezone("+05:30"),
            ),
            micros,
        ),
        (
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(1_700_000_000_123_456_789),
                None,
            ])),
            micros,
        ),
        (
            Arc::new(
                TimestampNanosecondArray::from(vec![Some(1_700_000_000_123_456_789), None])
                    .with_timezone("UTC"),
            ),
            micros,
        ),
        (
            Arc::new(Date32Array::from(vec![Some(19_675), None])),
            19_675 * 86_400 * 1_000_000,
        ),
        (
            Arc::new(Date64Array::from(vec![Some(1_699_920_000_000), None])),
            1_699_920_000_000_000,
        ),
    ];
    for (a, want) in &cases {
        let t = TimestampColumn::new(a.as_ref()).unwrap();
        assert_eq!(t.micros(0), Some(*want), "{}", a.data_type());
        assert_eq!(t.micros(1), None, "{}", a.data_type());
        assert_eq!(t.micros(2), None, "{}", a.data_type());
    }

    // Before the epoch, nanoseconds floor; extreme seconds saturate.
    let pre = TimestampNanosecondArray::from(vec![-1, -1_000]);
    let t = TimestampColumn::new(&pre).unwrap();
    assert_eq!((t.micros(0), t.micros(1)), (Some(-1), Some(-1)));
    let huge = TimestampSecondArray::from(vec![i64::MAX, i64::MIN]);
    let t = TimestampColumn::new(&huge).unwrap();
    assert_eq!((t.micros(0), t.micros(1)), (Some(i64::MAX), Some(i64::MIN)));

    let nulls = NullArray::new(1);
    assert_eq!(TimestampColumn::new(&nulls).unwrap().micros(0), None);

    assert_eq!(
        TimestampColumn::new(&Int64Array::from(vec![1]))
            .unwrap_err()
            .to_string(),
        "Arrow type Int64 is not a timestamp or date"
    );
}

fn j(json: serde_json::Value, dtype: &str) -> Result<Value, String> {
    json_to_value(&json, &dt(dtype)).map_err(|e| e.to_string())
}

#[test]
fn json_null_is_null_for_every_dtype() {
    for t in [
        "Int32",
        "Int64",
        "Float32",
        "Float64",
        "String",
        "Bytes",
        "Bool",
        "UnixTimestamp",
        "Json",
        "Map",
        "Struct{a: Int64}",
        "Array(Int64)",
    ] {
        assert_eq!(j(json!(null), t), Ok(Value::Null), "{t}");
    }
}

#[test]
fn json_integers() {
    assert_eq!(j(json!(1001), "Int64"), Ok(Value::Int64(1001)));
    assert_eq!(j(json!(1001.0), "Int64"), Ok(Value::Int64(1001)));
    assert_eq!(j(json!(-3), "Int64"), Ok(Value::Int64(-3)));
    assert_eq!(j(json!(i64::MIN), "Int64"), Ok(Value::Int64(i64::MIN)));
    assert_eq!(
        j(json!(1.5), "Int64"),
        Err("cannot convert JSON value 1.5 to dtype Int64: not a whole number".into())
    );
    assert_eq!(
        j(json!(1e19), "Int64"),
        Err("cannot convert JSON value 1e+19 to dtype Int64: out of range".into())
    );
    assert_eq!(
        j(json!(u64::MAX), "Int64"),
        Err("cannot convert JSON value 18446744073709551615 to dtype Int64: out of range".into())
    );
    assert_eq!(
        j(json!("1"), "Int64"),
        Err("cannot convert JSON value \"1\" to dtype Int64: expected an integer".into())
    );
    assert_eq!(j(json!(5), "Int32"), Ok(Value::Int32(5)));
    assert_eq!(j(json!(7.0), "Int32"), Ok(Value::Int32(7)));
    assert_eq!(
        j(json!(2_147_483_648i64), "Int32"),
        Err("cannot convert JSON value 2147483648 to dtype Int32: out of range".into())
    );
    assert!(j(json!(true), "Int32").is_err());
}

#[test]
fn json_floats() {
    assert_eq!(j(json!(1.5), "Float32"), Ok(Value::Float(1.5)));
    assert_eq!(j(json!(2), "Float32"), Ok(Value::Float(2.0)));
    assert_eq!(j(json!(0.1), "Float64"), Ok(Value::Double(0.1)));
    assert_eq!(
        j(json!(u64::MAX), "Float64"),
        Ok(Value::Double(u64::MAX as f64))
    );
    assert_eq!(
        j(json!("1.5"), "Float64"),
        Err("cannot convert JSON value \"1.5\" to dtype Float64: expected a number".into())
    );
}

#[test]
fn json_strings_write_scalars_as_python_does() {
    assert_eq!(j(json!("a"), "String"), Ok(s("a")));
    assert_eq!(j(json!(true), "String"), Ok(s("True")));
    assert_eq!(j(json!(false), "String"), Ok(s("False")));
    assert_eq!(j(json!(1001), "String"), Ok(s("1001")));
    assert_eq!(j(json!(u64::MAX), "String"), Ok(s("18446744073709551615")));
    assert_eq!(j(json!(1.5), "String"), Ok(s("1.5")));
    assert_eq!(j(json!(1001.0), "String"), Ok(s("1001.0")));
    assert_eq!(j(json!(1e16), "String"), Ok(s("1e+16")));
    assert_eq!(
        j(json!([1]), "String"),
        Err("cannot convert JSON value [1] to dtype String: expected a string".into())
    );
}

#[test]
fn python_float_text() {
    for (x, want) in [
        (1.5, "1.5"),
        (0.1, "0.1"),
        (100.0, "100.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (-2.5, "-2.5"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.25e-7, "1.25e-07"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::NAN, "nan"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(python_float_str(x), want, "{x}");
    }
}

#[test]
fn json_bytes_bools_and_timestamps() {
    assert_eq!(j(json!("AQI="), "Bytes"), Ok(Value::Bytes(vec![1, 2])));
    assert_eq!(j(json!(""), "Bytes"), Ok(Value::Bytes(vec![])));
    let err = j(json!("!!"), "Bytes").unwrap_err();
    assert!(
        err.starts_with("cannot convert JSON value \"!!\" to dtype Bytes: not base64: "),
        "{err}"
    );
    assert!(j(json!(5), "Bytes").is_err());

    assert_eq!(j(json!(true), "Bool"), Ok(Value::Bool(true)));
    assert_eq!(
        j(json!("true"), "Bool"),
        Err("cannot convert JSON value \"true\" to dtype Bool: expected true or false".into())
    );

    let ts = |v| Ok(Value::UnixTimestamp(v));
    assert_eq!(j(json!(1_700_000_000), "UnixTimestamp"), ts(1_700_000_000));
    for text in [
        "2023-11-14T22:13:20Z",
        "2023-11-14 22:13:20",
        "2023-11-14T22:13:20",
        "2023-11-15 00:13:20+02:00",
        "2023-11-14T22:13:20.999Z",
    ] {
        assert_eq!(j(json!(text), "UnixTimestamp"), ts(1_700_000_000), "{text}");
    }
    assert_eq!(j(json!("1969-12-31T23:59:59.5Z"), "UnixTimestamp"), ts(-1));
    let err = j(json!("yesterday"), "UnixTimestamp").unwrap_err();
    assert!(
        err.starts_with("cannot convert JSON value \"yesterday\" to dtype UnixTimestamp: "),
        "{err}"
    );
    assert!(j(json!(true), "UnixTimestamp").is_err());
    assert!(j(json!(1.5), "UnixTimestamp").is_err());
}

#[test]
fn json_json() {
    assert_eq!(
        j(json!({"b": 1, "a": [true]}), "Json"),
        Ok(Value::Json(r#"{"b":1,"a":[true]}"#.into()))
    );
    assert_eq!(
        j(json!("{\"x\": 1}"), "Json"),
        Ok(Value::Json("{\"x\": 1}".into()))
    );
    assert_eq!(
        j(json!("\"quoted\""), "Json"),
        Ok(Value::Json("\"quoted\"".into()))
    );
    assert_eq!(j(json!(5), "Json"), Ok(Value::Json("5".into())));
    let err = j(json!("not json"), "Json").unwrap_err();
    assert!(
        err.starts_with("text \"not json\" for dtype Json is not valid JSON: "),
        "{err}"
    );
}

#[test]
fn json_maps() {
    assert_eq!(
        j(
            json!({"z": 1, "a": "x", "f": 1.5, "t": false, "n": null, "l": [1, "y"], "o": {"k": 2}}),
            "Map"
        ),
        Ok(Value::Map(entries(&[
            ("z", Value::Int64(1)),
            ("a", s("x")),
            ("f", Value::Double(1.5)),
            ("t", Value::Bool(false)),
            ("n", Value::Null),
            ("l", Value::List(vec![Value::Int64(1), s("y")])),
            ("o", Value::Map(entries(&[("k", Value::Int64(2))]))),
        ])))
    );
    assert_eq!(
        j(json!(r#"{"k": "v"}"#), "Map"),
        Ok(Value::Map(entries(&[("k", s("v"))])))
    );
    assert_eq!(
        j(json!(5), "Map"),
        Err(
            "cannot convert JSON value 5 to dtype Map: expected an object, or a string holding one"
                .into()
        )
    );
    assert_eq!(
        j(json!("[1]"), "Map"),
        Err("cannot convert JSON value [1] to dtype Map: expected a JSON object".into())
    );
}

#[test]
fn json_structs() {
    let dtype = "Struct{name: String, age: String, missing: Int64}";
    let want = Ok(Value::Struct(entries(&[
        ("name", s("n")),
        ("age", s("30")),
        ("missing", Value::Null),
    ])));
    assert_eq!(j(json!({"age": 30, "name": "n", "extra": 1}), dtype), want);
    assert_eq!(j(json!(r#"{"age": "30", "name": "n"}"#), dtype), want);
    assert_eq!(
        j(json!({"age": "x"}), "Struct{age: Int64}"),
        Err(
            "field `age`: cannot convert JSON value \"x\" to dtype Int64: expected an integer"
                .into()
        )
    );
    assert!(j(json!([1]), dtype).is_err());
    assert!(j(json!("{"), dtype).is_err());
}

#[test]
fn json_arrays() {
    assert_eq!(
        j(json!([1, null, 2.0]), "Array(Int64)"),
        Ok(Value::List(vec![
            Value::Int64(1),
            Value::Null,
            Value::Int64(2)
        ]))
    );
    assert_eq!(
        j(json!([[1.5], []]), "Array(Array(Float32))"),
        Ok(Value::List(vec![
            Value::List(vec![Value::Float(1.5)]),
            Value::List(vec![]),
        ]))
    );
    assert_eq!(
        j(json!([1, "x"]), "Array(Int64)"),
        Err(
            "element 1: cannot convert JSON value \"x\" to dtype Int64: expected an integer".into()
        )
    );
    assert_eq!(
        j(json!({}), "Array(Int64)"),
        Err("cannot convert JSON value {} to dtype Array(Int64): expected an array".into())
    );
}

#[test]
fn long_values_are_shortened_in_errors() {
    let long = "x".repeat(200);
    let err = j(json!(long), "Int64").unwrap_err();
    assert!(err.contains(&format!("\"{}…", "x".repeat(79))), "{err}");
    assert!(err.len() < 150, "{err}");
}

fn same_float(got: &Value, want: Option<f64>) -> bool {
    match (got, want) {
        (Value::Double(a), Some(b)) => a.to_bits() == b.to_bits(),
        (Value::Null, None) => true,
        _ => false,
    }
}

proptest! {
    #[test]
    fn int64_columns_round_trip(
        values in proptest::collection::vec(proptest::option::of(any::<i64>()), 1..64),
        skip in 0usize..8,
    ) {
        let skip = skip.min(values.len());
        let array = Int64Array::from(values.clone());
        let array = array.slice(skip, values.len() - skip);
        let want: Vec<Value> =
            values[skip..].iter().map(|v| v.map_or(Value::Null, Value::Int64)).collect();
        prop_assert_eq!(convert_all(&array, &DType::Int64), want);
    }

    #[test]
    fn float64_columns_round_trip(
        values in proptest::collection::vec(
            proptest::option::of(proptest::num::f64::ANY), 1..64),
        skip in 0usize..8,
    ) {
        let skip = skip.min(values.len());
        let array = Float64Array::from(values.clone());
        let array = array.slice(skip, values.len() - skip);
        let got = convert_all(&array, &DType::Float64);
        prop_assert_eq!(got.len(), values.len() - skip);
        for (g, w) in got.iter().zip(&values[skip..]) {
            prop_assert!(same_float(g, *w), "{:?} != {:?}", g, w);
        }
    }

    #[test]
    fn string_columns_round_trip(
        values in proptest::collection::vec(proptest::option::of("\\PC{0,12}"), 1..64),
        skip in 0usize..8,
    ) {
        let skip = skip.min(values.len());
        let array = StringArray::from(values.clone());
        let array = array.slice(skip, values.len() - skip);
        let want: Vec<Value> = values[skip..]
            .iter()
            .map(|v| v.clone().map_or(Value::Null, Value::String))
            .collect();
        prop_assert_eq!(convert_all(&array, &DType::String), want);
    }

    #[test]
    fn bool_columns_round_trip(
        values in proptest::collection::vec(proptest::option::of(any::<bool>()), 1..64),
        skip in 0usize..8,
    ) {
        let skip = skip.min(values.len());
        let array = BooleanArray::from(values.clone());
        let array = array.slice(skip, values.len() - skip);
        let want: Vec<Value> =
            values[skip..].iter().map(|v| v.map_or(Value::Null, Value::Bool)).collect();
        prop_assert_eq!(convert_all(&array, &DType::Bool), want);
    }
}

#[test]
fn converts_every_cell_of_the_demo_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("driver_stats.parquet");
    let now = Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap();
    let rows = crate::repo::driver_data::write_driver_stats(&path, now, 1).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
        .unwrap()
        .with_batch_size(500)
        .build()
        .unwrap();
    let dtypes = [
        ("driver_id", "Int64"),
        ("conv_rate", "Float32"),
        ("acc_rate", "Float32"),
        ("avg_daily_trips", "Int64"),
        ("driver_metadata", "Map"),
        ("driver_config", "Json"),
        ("driver_profile", "Struct{name: String, age: String}"),
    ];
    let first_hour = (Utc.with_ymd_and_hms(2025, 3, 14, 15, 0, 0).unwrap()
        - chrono::Duration::days(15))
    .timestamp_micros();
    let mut seen = 0;
    let mut batches = 0;
    for batch in reader {
        let batch: RecordBatch = batch.unwrap();
        let column = |name: &str| batch.column_by_name(name).unwrap().as_ref();
        let event = TimestampColumn::new(column("event_timestamp")).unwrap();
        let created = TimestampColumn::new(column("created")).unwrap();
        let converters: Vec<ColumnConverter> = dtypes
            .iter()
            .map(|(name, t)| ColumnConverter::new(column(name), &dt(t)).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            let event = event.micros(row).unwrap();
            assert!(event < now.timestamp_micros());
            assert_eq!(created.micros(row), Some(now.timestamp_micros()));
            let v: Vec<Value> = converters.iter().map(|c| c.value(row).unwrap()).collect();
            let Value::Int64(id) = v[0] else {
                panic!("driver_id {:?}", v[0])
            };
            assert!(crate::repo::driver_data::DRIVER_IDS.contains(&id));
            if seen + row == 0 {
                assert_eq!(id, 1005);
                assert_eq!(event, first_hour);
            }
            for rate in &v[1..3] {
                assert!(
                    matches!(rate, Value::Float(r) if (0.0..1.0).contains(r)),
                    "{rate:?}"
                );
            }
            assert!(
                matches!(v[3], Value::Int64(t) if (0..1000).contains(&t)),
                "{:?}",
                v[3]
            );
            let Value::Map(metadata) = &v[4] else {
                panic!("driver_metadata {:?}", v[4])
            };
            let keys: Vec<&str> = metadata.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["vehicle_type", "rating"]);
            assert!(matches!(&metadata[1].1, Value::String(r) if r.len() == 3));
            let Value::Json(config) = &v[5] else {
                panic!("driver_config {:?}", v[5])
            };
            let config: serde_json::Value = serde_json::from_str(config).unwrap();
            assert!(config["max_distance_km"].is_i64());
            let Value::Struct(profile) = &v[6] else {
                panic!("driver_profile {:?}", v[6])
            };
            assert_eq!(profile[0], ("name".to_string(), s(&format!("driver_{id}"))));
            assert_eq!(profile[1].0, "age");
            assert!(matches!(&profile[1].1, Value::String(a) if a.parse::<u32>().is_ok()));
        }
        seen += batch.num_rows();
        batches += 1;
    }
    assert_eq!(seen, rows);
    assert!(batches > 1);
}
