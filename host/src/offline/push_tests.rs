use super::*;
use crate::types::time::parse_timestamp;
use arrow_array::types::{Date32Type, Float64Type, Int32Type, TimestampMillisecondType, UInt8Type};
use arrow_schema::{DataType, Field, TimeUnit};
use chrono::{DateTime, Utc};

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap()
}

fn demo(dir: &Path) -> PathBuf {
    let path = dir.join("data").join("driver_stats.parquet");
    crate::repo::driver_data::write_driver_stats(&path, now(), 1).unwrap();
    path
}

fn demo_df(driver_id: J) -> Vec<(String, Vec<J>)> {
    vec![
        (
            "event_timestamp".into(),
            vec![json!("2026-11-24 10:00:00+00:00")],
        ),
        ("driver_id".into(), vec![driver_id]),
        ("conv_rate".into(), vec![json!(0.5)]),
        ("acc_rate".into(), vec![json!(0.25)]),
        ("avg_daily_trips".into(), vec![json!(7)]),
        ("created".into(), vec![json!("2026-11-24 10:00:01")]),
        (
            "driver_metadata".into(),
            vec![json!({"vehicle_type": "suv", "rating": "4.5"})],
        ),
        ("driver_config".into(), vec![json!("{\"a\": 1}")]),
        (
            "driver_profile".into(),
            vec![json!({"name": "x", "age": "30"})],
        ),
    ]
}

fn read(path: &Path) -> (SchemaRef, RecordBatch) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let batch = single_batch(&schema, batches);
    (schema, batch)
}

/// One row group per file, so there is at most one batch; empty files give none.
fn single_batch(schema: &SchemaRef, mut batches: Vec<RecordBatch>) -> RecordBatch {
    assert!(batches.len() <= 1);
    batches
        .pop()
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone()))
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn nanos(s: &str) -> i64 {
    parse_timestamp(s).unwrap().timestamp_nanos_opt().unwrap()
}

#[test]
fn appends_a_part_beside_the_demo_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let before = std::fs::read(&source).unwrap();

    let (part, rows) = append_rows(&source, &demo_df(json!(1001))).unwrap();
    assert_eq!(rows, 1);
    assert_eq!(
        std::fs::read(&source).unwrap(),
        before,
        "existing data rewritten"
    );
    let parts = dir.path().join("data/driver_stats.parquet.parts");
    assert_eq!(parts_dir(&source), parts);
    assert_eq!(part.parent(), Some(parts.as_path()));

    // The name: part-yyyymmddThhmmss.ffffffZ-xxxxxxxx.parquet, and nothing else left over.
    let name = part.file_name().unwrap().to_str().unwrap();
    let stamp = &name["part-".len().."part-".len() + 23];
    assert!(
        name.starts_with("part-") && name.ends_with(".parquet"),
        "{name}"
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.6fZ").is_ok(),
        "{name}"
    );
    let hex = &name["part-".len() + 24..name.len() - ".parquet".len()];
    assert!(
        hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(names(&parts), [name]);
    assert_eq!(
        names(&dir.path().join("data")),
        ["driver_stats.parquet", "driver_stats.parquet.parts"]
    );

    let files = parquet_files(&source).unwrap();
    assert_eq!(files, [source.clone(), part.clone()]);
    let (original_schema, _) = read(&source);
    let (schema, batch) = read(&part);
    assert_eq!(schema, original_schema);
    assert_eq!(batch.num_rows(), 1);

    let col = |name: &str| batch.column_by_name(name).unwrap().clone();
    assert_eq!(
        col("event_timestamp")
            .as_primitive::<TimestampNanosecondType>()
            .value(0),
        nanos("2026-11-24T10:00:00Z")
    );
    assert_eq!(col("driver_id").as_primitive::<Int64Type>().value(0), 1001);
    assert_eq!(col("conv_rate").as_primitive::<Float32Type>().value(0), 0.5);
    assert_eq!(col("acc_rate").as_primitive::<Float32Type>().value(0), 0.25);
    assert_eq!(
        col("avg_daily_trips").as_primitive::<Int64Type>().value(0),
        7
    );
    assert_eq!(
        col("created")
            .as_primitive::<TimestampNanosecondType>()
            .value(0),
        nanos("2026-11-24T10:00:01Z")
    );
    let metadata = col("driver_metadata");
    let metadata = metadata.as_struct();
    assert_eq!(metadata.column(0).as_string::<i32>().value(0), "suv");
    assert_eq!(metadata.column(1).as_string::<i32>().value(0), "4.5");
    assert_eq!(
        col("driver_config").as_string::<i32>().value(0),
        "{\"a\": 1}"
    );
    let profile = col("driver_profile");
    let profile = profile.as_struct();
    assert_eq!(profile.column(0).as_string::<i32>().value(0), "x");
    assert_eq!(profile.column(1).as_string::<i32>().value(0), "30");
    for column in batch.columns() {
        assert_eq!(column.null_count(), 0);
    }
}

#[test]
fn two_appends_make_two_parts_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    // An integral float for an integer column is accepted, as pandas casts it.
    let (first, _) = append_rows(&source, &demo_df(json!(1001.0))).unwrap();
    let (second, _) = append_rows(&source, &demo_df(json!(1002))).unwrap();
    assert!(first < second, "{first:?} {second:?}");
    let files = parquet_files(&source).unwrap();
    assert_eq!(files, [source.clone(), first.clone(), second.clone()]);
    let ids: Vec<i64> = [&first, &second]
        .iter()
        .map(|p| read(p).1.column(1).as_primitive::<Int64Type>().value(0))
        .collect();
    assert_eq!(ids, [1001, 1002]);
}

#[test]
fn columns_must_match_as_a_set() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let mut df = demo_df(json!(1001));
    df.retain(|(n, _)| n != "conv_rate" && n != "acc_rate");
    df.push(("zzz".into(), vec![json!(1)]));
    let e = append_rows(&source, &df).unwrap_err();
    assert!(matches!(e, PushError::ColumnsMismatch { .. }));
    assert_eq!(
        e.to_string(),
        "The input dataframe columns do not match the batch source columns. \
             missing_expected_columns: ['acc_rate', 'conv_rate'], extra_unexpected_columns: ['zzz']"
    );
    let e = append_rows(&source, &[]).unwrap_err();
    assert!(
        e.to_string().ends_with(", extra_unexpected_columns: []"),
        "{e}"
    );

    // Order does not matter; the source's order is written.
    let mut df = demo_df(json!(1001));
    df.reverse();
    let (part, _) = append_rows(&source, &df).unwrap();
    assert_eq!(read(&part).0, read(&source).0);
    assert!(
        !names(&parts_dir(&source))
            .iter()
            .any(|n| n.ends_with(".tmp"))
    );
}

#[test]
fn bad_values_name_column_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let cases = [
        (
            "driver_id",
            json!("abc"),
            "expected an integer (Arrow type Int64), got \"abc\"",
        ),
        (
            "driver_id",
            json!(1.5),
            "expected an integer (Arrow type Int64), got 1.5",
        ),
        (
            "conv_rate",
            json!(1e300),
            "out of range for Arrow type Float32",
        ),
        (
            "event_timestamp",
            json!("yesterday"),
            "cannot read `yesterday` as a timestamp",
        ),
        ("event_timestamp", json!([1]), "expected a timestamp"),
        (
            "driver_metadata",
            json!({"colour": "red"}),
            "unknown field 'colour'",
        ),
        ("driver_metadata", json!(3), "expected an object"),
        ("driver_profile", json!("nope"), "the string is not JSON"),
    ];
    for (column, bad, reason) in cases {
        let mut df = demo_df(json!(1001));
        for (name, values) in &mut df {
            values.push(values[0].clone());
            if name == column {
                values.push(bad.clone());
            } else {
                values.push(values[0].clone());
            }
        }
        let e = append_rows(&source, &df).unwrap_err();
        let PushError::Value {
            column: c,
            row,
            reason: r,
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!((c.as_str(), *row), (column, 2), "{e}");
        assert!(r.contains(reason), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("invalid value for column '{column}' at row 2: ")),
            "{e}"
        );
    }
    // Nothing was written by any of them.
    assert!(!parts_dir(&source).exists());
}

#[test]
fn ragged_and_duplicate_columns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let mut df = demo_df(json!(1001));
    df[3].1.push(json!(0.5));
    let e = append_rows(&source, &df).unwrap_err();
    assert_eq!(
        e.to_string(),
        "all columns of the dataframe must have the same length, but 'event_timestamp' has 1 values and 'acc_rate' has 2"
    );
    let mut df = demo_df(json!(1001));
    df.push(df[1].clone());
    let e = append_rows(&source, &df).unwrap_err();
    assert!(
        matches!(e, PushError::DuplicateColumn(ref c) if c == "driver_id"),
        "{e}"
    );
}

#[test]
fn no_rows_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let mut df = demo_df(json!(1001));
    for (_, values) in &mut df {
        values.clear();
    }
    let (path, rows) = append_rows(&source, &df).unwrap();
    assert_eq!((path, rows), (parts_dir(&source), 0));
    assert!(!parts_dir(&source).exists());
}

#[test]
fn a_source_without_data_has_no_schema() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.parquet");
    let e = append_rows(&missing, &demo_df(json!(1))).unwrap_err();
    assert!(
        matches!(e, PushError::NoSchema(ref p) if p == &missing),
        "{e}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = append_rows(&empty, &demo_df(json!(1))).unwrap_err();
    assert!(matches!(e, PushError::NoSchema(_)), "{e}");
    assert!(e.to_string().contains("has no parquet file"), "{e}");
}

#[test]
fn a_directory_source_gets_parts_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stats");
    crate::repo::driver_data::write_driver_stats(&data.join("base.parquet"), now(), 1).unwrap();
    assert_eq!(parts_dir(&data), data);
    let (part, _) = append_rows(&data, &demo_df(json!(1001))).unwrap();
    assert_eq!(part.parent(), Some(data.as_path()));
    assert_eq!(
        parquet_files(&data).unwrap(),
        [data.join("base.parquet"), part]
    );
}

#[test]
fn leftovers_in_the_parts_dir_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo(dir.path());
    let (part, _) = append_rows(&source, &demo_df(json!(1001))).unwrap();
    let parts = parts_dir(&source);
    // What a crash in the middle of `write_atomic` leaves, and other hidden files.
    std::fs::write(parts.join(".part-x.parquet.abc123.tmp"), b"torn").unwrap();
    std::fs::write(parts.join(".hidden.parquet"), b"torn").unwrap();
    std::fs::write(parts.join("notes.txt"), b"hi").unwrap();
    std::fs::create_dir(parts.join("sub.parquet")).unwrap();
    assert_eq!(parquet_files(&source).unwrap(), [source.clone(), part]);
    // The same rules hold for a directory source.
    assert_eq!(parquet_files(&parts).unwrap().len(), 1);
}

#[test]
fn nested_and_other_types() {
    use arrow_schema::Fields;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let item = Arc::new(Field::new("item", DataType::Int32, true));
    let entries = Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ])),
        false,
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("b", DataType::Boolean, true),
        Field::new("bin", DataType::Binary, true),
        Field::new("d", DataType::Date32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("l", DataType::List(item), true),
        Field::new("m", DataType::Map(entries, false), true),
        Field::new("s", DataType::Utf8, true),
        Field::new("u8", DataType::UInt8, false),
        Field::new(
            "st",
            DataType::Struct(Fields::from(vec![Field::new("k", DataType::Int64, false)])),
            true,
        ),
    ]));
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), None).unwrap();
    writer
        .write(&RecordBatch::new_empty(schema.clone()))
        .unwrap();
    writer.close().unwrap();

    let df = vec![
        ("b".to_string(), vec![json!(true), json!(null)]),
        ("bin".to_string(), vec![json!("aGk="), json!(null)]),
        ("d".to_string(), vec![json!("2026-11-24"), json!(null)]),
        (
            "ts".to_string(),
            vec![json!(1_500_000_000_123_456_789i64), json!("2021-01-01")],
        ),
        ("l".to_string(), vec![json!([1, null, 3]), json!(null)]),
        (
            "m".to_string(),
            vec![json!({"x": 1.5, "y": null}), json!("{\"z\": 2}")],
        ),
        ("s".to_string(), vec![json!({"a": [1, 2]}), json!(12)]),
        ("u8".to_string(), vec![json!(true), json!(255)]),
        ("st".to_string(), vec![json!({"k": 5}), json!(null)]),
    ];
    let (part, rows) = append_rows(&path, &df).unwrap();
    assert_eq!(rows, 2);
    let (read_schema, batch) = read(&part);
    assert_eq!(read_schema, schema);
    let col = |name: &str| batch.column_by_name(name).unwrap().clone();
    assert!(col("b").as_boolean().value(0) && col("b").is_null(1));
    assert_eq!(col("bin").as_binary::<i32>().value(0), b"hi");
    assert_eq!(
        col("d").as_primitive::<Date32Type>().value(0),
        (chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
            - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32
    );
    let ts = col("ts");
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    assert_eq!(ts.value(0), 1_500_000_000_123);
    assert_eq!(ts.value(1), 1_609_459_200_000);
    let l = col("l");
    let l = l.as_list::<i32>();
    let first = l.value(0);
    let first = first.as_primitive::<Int32Type>();
    assert_eq!(first.iter().collect::<Vec<_>>(), [Some(1), None, Some(3)]);
    assert!(l.is_null(1));
    let m = col("m");
    let m = m.as_map();
    assert_eq!(m.value_length(0), 2);
    assert_eq!(m.keys().as_string::<i32>().value(2), "z");
    assert_eq!(m.values().as_primitive::<Float64Type>().value(2), 2.0);
    assert_eq!(col("s").as_string::<i32>().value(0), "{\"a\":[1,2]}");
    assert_eq!(col("s").as_string::<i32>().value(1), "12");
    let u8s = col("u8");
    assert_eq!(u8s.as_primitive::<UInt8Type>().values(), &[1, 255]);
    assert!(col("st").is_null(1));

    // Nullability and ranges are enforced.
    let mut bad = df.clone();
    bad[7].1[1] = json!(null);
    let e = append_rows(&path, &bad).unwrap_err().to_string();
    assert!(
        e.starts_with("invalid value for column 'u8' at row 1: null is not allowed"),
        "{e}"
    );
    let mut bad = df.clone();
    bad[7].1[1] = json!(256);
    let e = append_rows(&path, &bad).unwrap_err().to_string();
    assert!(
        e.ends_with("256 is out of range for Arrow type UInt8"),
        "{e}"
    );
    let mut bad = df.clone();
    bad[8].1[0] = json!({});
    let e = append_rows(&path, &bad).unwrap_err().to_string();
    assert!(
        e.contains("field 'k' is missing or null, but it is not nullable"),
        "{e}"
    );
    let mut bad = df;
    bad[4].1[0] = json!([1, "two"]);
    let e = append_rows(&path, &bad).unwrap_err().to_string();
    assert!(e.contains("element 1: expected an integer"), "{e}");
}

fn write_base(path: &Path, schema: &SchemaRef) {
    let mut writer =
        ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), None).unwrap();
    writer
        .write(&RecordBatch::new_empty(schema.clone()))
        .unwrap();
    writer.close().unwrap();
}

type Row = (
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<(i64, bool)>,
);

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1e300f64..1e300),
        proptest::option::of(".{0,12}"),
        // Microseconds within ±100 years, sent as text or as integer nanoseconds.
        proptest::option::of((
            -3_000_000_000_000_000i64..3_000_000_000_000_000,
            any::<bool>(),
        )),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn rows_round_trip(rows in proptest::collection::vec(row(), 1..20)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        ]));
        write_base(&path, &schema);
        let df = vec![
            ("t".to_string(), rows.iter().map(|r| match r.3 {
                None => J::Null,
                Some((us, true)) => json!(crate::types::time::format_rfc3339(
                    DateTime::from_timestamp_micros(us).unwrap())),
                Some((us, false)) => json!(us * 1000),
            }).collect()),
            ("s".to_string(), rows.iter().map(|r| json!(r.2)).collect()),
            ("i".to_string(), rows.iter().map(|r| json!(r.0)).collect()),
            ("f".to_string(), rows.iter().map(|r| json!(r.1)).collect()),
        ];
        let (part, n) = append_rows(&path, &df).unwrap();
        prop_assert_eq!(n, rows.len());
        let (read_schema, batch) = read(&part);
        prop_assert_eq!(read_schema, schema);
        let i: &Int64Array = batch.column(0).as_primitive();
        let f: &Float64Array = batch.column(1).as_primitive();
        let s: &StringArray = batch.column(2).as_string();
        let t: &TimestampMicrosecondArray = batch.column(3).as_primitive();
        prop_assert_eq!(i.iter().collect::<Vec<_>>(), rows.iter().map(|r| r.0).collect::<Vec<_>>());
        prop_assert_eq!(f.iter().collect::<Vec<_>>(), rows.iter().map(|r| r.1).collect::<Vec<_>>());
        prop_assert_eq!(
            s.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>(),
            rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>()
        );
        prop_assert_eq!(
            t.iter().collect::<Vec<_>>(),
            rows.iter().map(|r| r.3.map(|(us, _)| us)).collect::<Vec<_>>()
        );
        prop_assert_eq!(parquet_files(&path).unwrap(), vec![path.clone(), part]);
    }
}
