//! `edgefeat init`: the files it writes and the generated parquet data.

use std::collections::BTreeMap;

use arrow_array::{Array, Int64Array};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::support::{demo_repo, run};

#[test]
fn init_writes_a_repo_like_feasts_local_template() {
    let (_tmp, repo) = demo_repo();
    for file in [
        "feature_store.yaml",
        "feature_definitions.yaml",
        "README.md",
        ".gitignore",
        "data/driver_stats.parquet",
    ] {
        assert!(repo.join(file).is_file(), "{file} is missing");
    }
    let yaml = std::fs::read_to_string(repo.join("feature_store.yaml")).unwrap();
    assert!(yaml.contains("project: demo\n"), "{yaml}");
    assert!(yaml.contains("type: lmdb"), "{yaml}");
    // Nothing is left of the staging directory.
    let entries: Vec<_> = std::fs::read_dir(repo.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["demo"]);
}

#[test]
fn the_generated_parquet_has_feasts_schema_and_row_counts() {
    let (_tmp, repo) = demo_repo();
    let file = std::fs::File::open(repo.join("data/driver_stats.parquet")).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let want: Vec<(&str, DataType)> = vec![
        (
            "event_timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        ),
        ("driver_id", DataType::Int64),
        ("conv_rate", DataType::Float32),
        ("acc_rate", DataType::Float32),
        ("avg_daily_trips", DataType::Int64),
        ("created", DataType::Timestamp(TimeUnit::Nanosecond, None)),
        (
            "driver_metadata",
            DataType::Struct(Fields::from(vec![utf8("vehicle_type"), utf8("rating")])),
        ),
        ("driver_config", DataType::Utf8),
        (
            "driver_profile",
            DataType::Struct(Fields::from(vec![utf8("name"), utf8("age")])),
        ),
    ];
    let got: Vec<(&str, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(got, want);

    let mut per_driver: BTreeMap<i64, usize> = BTreeMap::new();
    let mut rows = 0;
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let ids = batch
            .column_by_name("driver_id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        for i in 0..ids.len() {
            *per_driver.entry(ids.value(i)).or_default() += 1;
        }
    }
    assert_eq!(rows, 1807);
    assert_eq!(
        per_driver.keys().copied().collect::<Vec<_>>(),
        [1001, 1002, 1003, 1004, 1005]
    );
    // 361 rows each, plus the two copies of the duplicated row.
    assert_eq!(per_driver.values().sum::<usize>(), 1807);
    assert!(per_driver.values().all(|n| *n == 361 || *n == 363));
}

#[test]
fn init_refuses_an_existing_directory_and_bad_names() {
    let (tmp, repo) = demo_repo();
    let before = std::fs::read(repo.join("feature_definitions.yaml")).unwrap();
    let r = run(tmp.path(), &["init", "demo"]).failure();
    assert!(
        r.stderr
            .contains("demo already exists; init never overwrites"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(repo.join("feature_definitions.yaml")).unwrap(),
        before
    );

    let r = run(tmp.path(), &["init", "-bad"]).failure();
    assert!(r.stderr.contains("unexpected argument"), "{}", r.stderr);
    let r = run(tmp.path(), &["init", "bad name"]).failure();
    assert!(
        r.stderr.contains("project name `bad name` is invalid"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_without_a_name_picks_one() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(tmp.path(), &["init"]).success();
    let dirs: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].contains('_'), "{dirs:?}");
    assert!(r.stdout.contains(&dirs[0]), "{}", r.stdout);
    run(&tmp.path().join(&dirs[0]), &["apply"]).success();
}
