use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, TimeUnit};
use parquet::arrow::ArrowWriter;
use serde_json::{Value as J, json};

use super::*;
use crate::offline::push::append_rows;

/// The event time of every row: now, so no test depends on the calendar.
fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A source file of `id` (Int64), `ts` (UTC microseconds) and `v` (text), with ids `0..n`.
pub(crate) fn source(dir: &Path, n: i64) -> PathBuf {
    let path = dir.join("s.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("v", DataType::Utf8, true),
    ]));
    let ids: ArrayRef = Arc::new(Int64Array::from((0..n).collect::<Vec<_>>()));
    let ts: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![now_micros(); n as usize]).with_timezone("UTC"),
    );
    let vs: ArrayRef = Arc::new(StringArray::from(vec!["{}"; n as usize]));
    let batch = RecordBatch::try_new(schema.clone(), vec![ids, ts, vs]).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

pub(crate) fn push(source: &Path, id: i64, v: &str) -> PathBuf {
    let ts = chrono::DateTime::from_timestamp_micros(now_micros())
        .unwrap()
        .to_rfc3339();
    let df: Vec<(String, Vec<J>)> = vec![
        ("id".into(), vec![json!(id)]),
        ("ts".into(), vec![json!(ts)]),
        ("v".into(), vec![json!(v)]),
    ];
    append_rows(source, &df).unwrap().0
}

/// A part name of ours beside `part`'s: its last hex digit changed.
pub(crate) fn sibling(part: &Path) -> PathBuf {
    let name = part.file_name().unwrap().to_string_lossy();
    let mut stem = name.trim_end_matches(".parquet").to_string();
    let last = if stem.ends_with('0') { '1' } else { '0' };
    stem.pop();
    stem.push(last);
    part.with_file_name(format!("{stem}.parquet"))
}

/// The plan of a view over the source whose feature `v` is `dtype`.
fn plan(source: &Path, dtype: DType) -> SourcePlan {
    let dir = parts_dir(source);
    SourcePlan {
        source: "s".into(),
        source_path: source.to_path_buf(),
        files: parquet_files(source).unwrap(),
        parts_dir: dir,
        lock: None,
        timestamp_field: "ts".into(),
        created_column: None,
        keys: vec![SourceColumn {
            name: "id".into(),
            column: "id".into(),
            dtype: DType::Int64,
        }],
        features: vec![SourceColumn {
            name: "v".into(),
            column: "v".into(),
            dtype,
        }],
    }
}

fn read(plan: &SourcePlan) -> Result<Latest> {
    latest_per_entity(plan, i64::MIN, i64::MAX, &|_| Ok(()), &mut |_| {})
}

#[test]
fn a_bad_part_is_set_aside_and_the_other_files_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 2);
    push(&src, 10, "{\"a\": 1}");
    // Text that is not JSON in a Json feature: written by an older release, or by hand.
    let bad = push(&src, 11, "not json {");
    push(&src, 12, "[]");
    // A part of ours holding half a file.
    let torn = sibling(&bad);
    std::fs::write(&torn, b"PAR1 half").unwrap();
    let latest = read(&plan(&src, DType::Json)).unwrap();
    assert_eq!(latest.rows.len(), 4, "ids 0, 1, 10 and 12");
    let mut bad_files: Vec<_> = latest.bad_parts.iter().map(|(f, _)| f.clone()).collect();
    bad_files.sort();
    let mut want = vec![bad.clone(), torn.clone()];
    want.sort();
    assert_eq!(bad_files, want);
    let why = |f: &Path| {
        latest
            .bad_parts
            .iter()
            .find(|(p, _)| p == f)
            .map(|(_, w)| w.clone())
            .unwrap()
    };
    assert!(why(&bad).contains("not valid JSON"), "{}", why(&bad));
    assert!(
        why(&torn).contains("not a readable parquet file"),
        "{}",
        why(&torn)
    );
    // Only the rows of the files read whole are counted.
    assert_eq!(latest.rows_in_window, 4);
}

#[test]
fn a_view_that_does_not_fit_the_dataset_fails_and_blames_no_part() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 2);
    push(&src, 10, "x");
    // Text declared Int64: every file fails alike, the source file first.
    let err = read(&plan(&src, DType::Int64)).unwrap_err().to_string();
    assert!(err.contains("s.parquet"), "{err}");
    // A directory source of parts only: the parts have the dataset's schema, so the view is
    // to blame, not them.
    let dir = tmp.path().join("ds");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::rename(&src, dir.join("s.parquet")).unwrap();
    push(&dir, 11, "x");
    let renamed = dir.join("s.parquet");
    std::fs::rename(&renamed, dir.join("zz-last.parquet")).unwrap();
    let p = plan(&dir, DType::Int64);
    assert!(
        p.files[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("part-")
    );
    let err = read(&p).unwrap_err().to_string();
    assert!(err.contains("cannot convert Arrow type Utf8"), "{err}");
}

#[test]
fn a_bad_file_the_user_put_in_a_directory_source_fails_the_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    std::fs::create_dir_all(&dir).unwrap();
    let src = source(tmp.path(), 2);
    std::fs::rename(&src, dir.join("a.parquet")).unwrap();
    std::fs::write(dir.join("b.parquet"), b"not parquet").unwrap();
    let err = read(&plan(&dir, DType::Json)).unwrap_err().to_string();
    assert!(
        err.contains("b.parquet is not a readable parquet file"),
        "{err}"
    );
}

#[test]
fn a_value_check_failure_sets_the_part_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path(), 1);
    let long = push(&src, 10, "[1, 2, 3]");
    let p = plan(&src, DType::Json);
    let latest = latest_per_entity(
        &p,
        i64::MIN,
        i64::MAX,
        &|values| match &values[0] {
            Value::Json(text) if text.len() > 4 => Err("too long".into()),
            _ => Ok(()),
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(latest.rows.len(), 1);
    assert_eq!(latest.bad_parts.len(), 1);
    assert_eq!(latest.bad_parts[0].0, long);
    assert!(latest.bad_parts[0].1.contains("too long"));
}
