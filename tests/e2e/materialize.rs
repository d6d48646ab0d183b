//! Materialization, run with the real binary, checked by reading the LMDB store back through
//! the `OnlineStore` trait and against an independent computation over the parquet data.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use edgefeat::online::{LmdbStore, OnlineStore, ReadRow, Table};
use edgefeat::registry::load_registry;
use edgefeat::repo::RepoConfig;
use edgefeat::repo::config::OnlineStoreConfig;
use edgefeat::types::{Value, serialize_entity_key};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::support::{demo_repo, run};

/// Opens the repo's LMDB store in this process (the binary has exited).
pub(crate) fn open_store(repo: &Path) -> LmdbStore {
    let config = RepoConfig::load(repo, None).unwrap();
    let OnlineStoreConfig::Lmdb(lmdb) = &config.online_store else {
        panic!("the demo uses the LMDB store")
    };
    LmdbStore::open(lmdb).unwrap()
}

pub(crate) fn key(name: &str, id: i64) -> Vec<u8> {
    serialize_entity_key(&[(name, &Value::Int64(id))]).unwrap()
}

fn read(
    store: &LmdbStore,
    project: &str,
    view: &str,
    keys: &[Vec<u8>],
    features: &[&str],
) -> Vec<Option<ReadRow>> {
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    store
        .read(Table { project, view }, &keys, features)
        .unwrap()
}

const NANOS: i64 = 1_000_000_000;

/// What the store must hold for one driver, computed straight from the file.
#[derive(Debug, Clone)]
struct Expected {
    event_ns: i64,
    created_ns: i64,
    conv_rate: f32,
    trips: i64,
    config: String,
    name: String,
}

/// The newest row per driver in `[start, end]` (nanoseconds).
fn expected_demo_rows(repo: &Path, start: i64, end: i64) -> BTreeMap<i64, Expected> {
    let file = std::fs::File::open(repo.join("data/driver_stats.parquet")).unwrap();
    let mut best: BTreeMap<i64, Expected> = BTreeMap::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = batch.unwrap();
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let ts = col("event_timestamp");
        let ts = ts
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        let created = col("created");
        let created = created
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        let ids = col("driver_id");
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let conv = col("conv_rate");
        let conv = conv.as_any().downcast_ref::<Float32Array>().unwrap();
        let trips = col("avg_daily_trips");
        let trips = trips.as_any().downcast_ref::<Int64Array>().unwrap();
        let config = col("driver_config");
        let config = config.as_any().downcast_ref::<StringArray>().unwrap();
        let profile = col("driver_profile");
        let profile = profile.as_any().downcast_ref::<StructArray>().unwrap();
        let names = profile.column_by_name("name").unwrap();
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            let t = ts.value(i);
            if t < start || t > end {
                continue;
            }
            let candidate = Expected {
                event_ns: t,
                created_ns: created.value(i),
                conv_rate: conv.value(i),
                trips: trips.value(i),
                config: config.value(i).to_string(),
                name: names.value(i).to_string(),
            };
            match best.get(&ids.value(i)) {
                Some(b) if (t, candidate.created_ns) < (b.event_ns, b.created_ns) => {}
                _ => {
                    best.insert(ids.value(i), candidate);
                }
            }
        }
    }
    best
}

#[test]
fn materialize_incremental_loads_the_newest_row_per_driver() {
    let (_tmp, repo) = demo_repo();
    let r = run(&repo, &["apply"]).success();
    assert!(
        r.stdout.ends_with("\nCreated lmdb table demo_driver_hourly_stats\nCreated lmdb table demo_driver_hourly_stats_fresh\n"),
        "{}",
        r.stdout
    );
    let now = crate::support::clock::now();
    let end = now.to_rfc3339();
    let r = run(&repo, &["materialize-incremental", &end]).success();
    assert!(
        r.stdout.starts_with("Materializing 2 feature views to "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\ndriver_hourly_stats from "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(" 5 entities written in "), "{}", r.stdout);

    // The first incremental window starts at now - ttl (1 day).
    let registry = load_registry(&repo.join("data/registry.db"), "driver_ranking")
        .unwrap()
        .unwrap();
    let intervals = &registry.feature_views["driver_hourly_stats"]
        .meta
        .materialization_intervals;
    assert_eq!(intervals.len(), 1);
    let (start, stop) = (intervals[0].start_time, intervals[0].end_time);
    assert_eq!(stop.timestamp(), now.timestamp());
    let ttl = stop - start;
    assert!(
        (ttl - chrono::Duration::days(1)).num_seconds().abs() <= 120,
        "{ttl}"
    );

    let want = expected_demo_rows(
        &repo,
        start.timestamp_nanos_opt().unwrap(),
        stop.timestamp_nanos_opt().unwrap(),
    );
    assert_eq!(want.len(), 5, "every driver has rows in the last day");
    let store = open_store(&repo);
    let features = [
        "conv_rate",
        "avg_daily_trips",
        "driver_config",
        "driver_profile",
        "driver_metadata",
    ];
    for view in ["driver_hourly_stats", "driver_hourly_stats_fresh"] {
        let keys: Vec<Vec<u8>> = want.keys().map(|id| key("driver_id", *id)).collect();
        let rows = read(&store, "demo", view, &keys, &features);
        for ((id, e), row) in want.iter().zip(rows) {
            let row = row.unwrap_or_else(|| panic!("driver {id} missing from {view}"));
            assert_eq!(row.event_ts_micros * 1000, e.event_ns, "driver {id}");
            assert_eq!(row.created_ts_micros * 1000, e.created_ns, "driver {id}");
            assert_eq!(row.values[0], Some(Value::Float(e.conv_rate)));
            assert_eq!(row.values[1], Some(Value::Int64(e.trips)));
            assert_eq!(row.values[2], Some(Value::Json(e.config.clone())));
            assert_eq!(
                row.values[3],
                Some(Value::Struct(vec![
                    ("name".into(), Value::String(e.name.clone())),
                    ("age".into(), row_age(&row)),
                ]))
            );
            assert!(
                matches!(&row.values[4], Some(Value::Map(m)) if m.len() == 2),
                "{:?}",
                row.values[4]
            );
        }
    }
    // An entity that was never written reads as absent.
    assert_eq!(
        read(
            &store,
            "demo",
            "driver_hourly_stats",
            &[key("driver_id", 42)],
            &features
        ),
        [None]
    );
    drop(store);

    // A second run starts where the first ended.
    let later = (now + chrono::Duration::seconds(5)).to_rfc3339();
    let r = run(&repo, &["materialize-incremental", &later]).success();
    assert!(r.stdout.contains(" 0 entities written"), "{}", r.stdout);
    let registry = load_registry(&repo.join("data/registry.db"), "driver_ranking")
        .unwrap()
        .unwrap();
    let intervals = &registry.feature_views["driver_hourly_stats"]
        .meta
        .materialization_intervals;
    // The second window starts where the first ended, so the two are recorded as one.
    assert_eq!(intervals.len(), 1, "{intervals:?}");
    assert_eq!(intervals[0].start_time, start);
    assert_eq!(
        intervals[0].end_time.timestamp(),
        (now + chrono::Duration::seconds(5)).timestamp()
    );

    // teardown removes the store as well as the registry.
    let r = run(&repo, &["teardown"]).success();
    assert!(
        r.stdout.contains("Removed lmdb online store"),
        "{}",
        r.stdout
    );
    assert!(!repo.join("data/online_store.lmdb").exists());
}

fn row_age(row: &ReadRow) -> Value {
    match &row.values[3] {
        Some(Value::Struct(fields)) => fields[1].1.clone(),
        other => panic!("{other:?}"),
    }
}

/// A repo with one entity `id`, a source `src` over `data/src.parquet` and the given
/// definitions for views.
pub(crate) fn custom_repo(
    batches: &[RecordBatch],
    views: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("r");
    std::fs::create_dir_all(repo.join("data")).unwrap();
    std::fs::write(repo.join("feature_store.yaml"), "project: p\n").unwrap();
    let file = std::fs::File::create(repo.join("data/src.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    std::fs::write(
        repo.join("defs.yaml"),
        format!(
            "entities:\n  - name: thing\n    join_key: id\n    value_type: Int64\ndata_sources:\n  - name: src\n    type: file\n    path: data/src.parquet\n    timestamp_field: ts\n    created_timestamp_column: created\n    field_mapping: {{raw_a: a}}\n{views}"
        ),
    )
    .unwrap();
    (tmp, repo)
}

/// Rows of (id, ts seconds, created seconds, raw_a, b).
pub(crate) fn batch(rows: &[(i64, i64, i64, f32, i64)]) -> RecordBatch {
    let ts = |f: fn(&(i64, i64, i64, f32, i64)) -> i64| {
        Arc::new(
            TimestampNanosecondArray::from(rows.iter().map(|r| f(r) * NANOS).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ) as ArrayRef
    };
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "created",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("raw_a", DataType::Float32, true),
        Field::new("b", DataType::Int64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            ts(|r| r.1),
            ts(|r| r.2),
            Arc::new(Float32Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

pub(crate) const VIEW_A: &str = "feature_views:\n  - name: v\n    entities: [thing]\n    schema:\n      - {name: a, dtype: Float32}\n    source: src\n";
const VIEW_AB: &str = "feature_views:\n  - name: v\n    entities: [thing]\n    schema:\n      - {name: a, dtype: Float32}\n      - {name: b, dtype: Int64}\n    source: src\n";

fn ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339()
}

#[test]
fn window_edges_are_inclusive_created_breaks_ties_and_field_mapping_applies() {
    let t0 = 1_700_000_000;
    let rows = [
        // id 1: newest in [t0+10, t0+20] is the one at t0+20 exactly (inclusive end)...
        (1, t0 + 10, t0, 1.0, 10),
        (1, t0 + 20, t0, 2.0, 20),
        (1, t0 + 30, t0, 3.0, 30),
        // id 2: two rows at the same event time: the later `created` wins, wherever it is.
        (2, t0 + 15, t0 + 5, 5.0, 50),
        (2, t0 + 15, t0 + 1, 4.0, 40),
        // id 3: only a row exactly at the start (inclusive start), and one before it.
        (3, t0 + 9, t0, 8.0, 80),
        (3, t0 + 10, t0, 9.0, 90),
    ];
    let (_tmp, repo) = custom_repo(&[batch(&rows[..3]), batch(&rows[3..])], VIEW_A);
    run(&repo, &["apply"]).success();
    let r = run(
        &repo,
        &["materialize", &ts(t0 + 10), &ts(t0 + 20), "--no-progress"],
    )
    .success();
    assert!(
        r.stdout
            .contains(" 7 rows read (5 in the window), 3 entities written"),
        "{}",
        r.stdout
    );
    let store = open_store(&repo);
    let got = read(
        &store,
        "p",
        "v",
        &[key("id", 1), key("id", 2), key("id", 3)],
        &["a"],
    );
    let values: Vec<_> = got
        .iter()
        .map(|r| r.as_ref().map(|r| r.values[0].clone()))
        .collect();
    assert_eq!(
        values,
        [
            Some(Some(Value::Float(2.0))),
            Some(Some(Value::Float(5.0))),
            Some(Some(Value::Float(9.0)))
        ]
    );
    assert_eq!(
        got[1].as_ref().unwrap().created_ts_micros,
        (t0 + 5) * 1_000_000
    );

    // A window before everything writes nothing and changes nothing.
    drop(store);
    let r = run(&repo, &["materialize", &ts(t0 - 100), &ts(t0 - 50)]).success();
    assert!(r.stdout.contains("0 entities written"), "{}", r.stdout);

    // start >= end and bad timestamps are refused.
    let r = run(&repo, &["materialize", &ts(t0 + 20), &ts(t0 + 10)]).failure();
    assert!(r.stderr.contains("must be before end_ts"), "{}", r.stderr);
    let r = run(&repo, &["materialize", "yesterday", &ts(t0)]).failure();
    assert!(
        r.stderr
            .contains("START_TS: cannot read `yesterday` as a timestamp"),
        "{}",
        r.stderr
    );
    let r = run(&repo, &["materialize", &ts(t0), &ts(t0 + 1), "-v", "nope"]).failure();
    assert!(
        r.stderr
            .contains("Feature view nope does not exist in project p"),
        "{}",
        r.stderr
    );
}

#[test]
fn newer_stored_rows_are_kept_unless_last_write_wins() {
    let t0 = 1_700_000_000;
    let (_tmp, repo) = custom_repo(
        &[batch(&[
            (1, t0 + 30, t0, 3.0, 30),
            (1, t0 + 10, t0, 1.0, 10),
        ])],
        VIEW_A,
    );
    run(&repo, &["apply"]).success();
    run(&repo, &["materialize", &ts(t0), &ts(t0 + 40)]).success();
    // An older window: its newest row (t0+10) is older than the stored one (t0+30).
    let r = run(&repo, &["materialize", &ts(t0), &ts(t0 + 20)]).success();
    assert!(r.stdout.contains("0 entities written in"), "{}", r.stdout);
    assert!(
        r.stdout.contains("1 entities kept a newer stored row"),
        "{}",
        r.stdout
    );
    let store = open_store(&repo);
    assert_eq!(
        read(&store, "p", "v", &[key("id", 1)], &["a"])[0]
            .as_ref()
            .unwrap()
            .values,
        [Some(Value::Float(3.0))]
    );
    drop(store);

    let yaml = repo.join("feature_store.yaml");
    std::fs::write(
        &yaml,
        "project: p\nonline_store:\n  type: lmdb\n  write_policy: last_write_wins\n",
    )
    .unwrap();
    run(&repo, &["materialize", &ts(t0), &ts(t0 + 20)]).success();
    let store = open_store(&repo);
    assert_eq!(
        read(&store, "p", "v", &[key("id", 1)], &["a"])[0]
            .as_ref()
            .unwrap()
            .values,
        [Some(Value::Float(1.0))]
    );
}

#[test]
fn a_view_that_gains_a_feature_still_reads_its_old_rows() {
    let t0 = 1_700_000_000;
    let (_tmp, repo) = custom_repo(&[batch(&[(1, t0 + 10, t0, 1.5, 7)])], VIEW_A);
    run(&repo, &["apply"]).success();
    run(&repo, &["materialize", &ts(t0), &ts(t0 + 20)]).success();
    std::fs::write(
        repo.join("defs.yaml"),
        std::fs::read_to_string(repo.join("defs.yaml"))
            .unwrap()
            .replace(VIEW_A, VIEW_AB),
    )
    .unwrap();
    let r = run(&repo, &["apply"]).success();
    assert!(r.stdout.contains("Updated feature view v"), "{}", r.stdout);
    let store = open_store(&repo);
    let rows = read(&store, "p", "v", &[key("id", 1)], &["a", "b"]);
    // The stored row predates `b`: `a` is still there, `b` is simply absent.
    assert_eq!(
        rows[0].as_ref().unwrap().values,
        [Some(Value::Float(1.5)), None]
    );
    drop(store);
    // Materializing again fills it in (the update reset the view's intervals).
    run(&repo, &["materialize", &ts(t0), &ts(t0 + 20)]).success();
    let store = open_store(&repo);
    let rows = read(&store, "p", "v", &[key("id", 1)], &["a", "b"]);
    assert_eq!(
        rows[0].as_ref().unwrap().values,
        [Some(Value::Float(1.5)), Some(Value::Int64(7))]
    );
}

#[test]
fn deleting_a_view_drops_its_table() {
    let t0 = 1_700_000_000;
    let (_tmp, repo) = custom_repo(&[batch(&[(1, t0 + 10, t0, 1.5, 7)])], VIEW_A);
    run(&repo, &["apply"]).success();
    run(&repo, &["materialize", &ts(t0), &ts(t0 + 20)]).success();
    let defs = std::fs::read_to_string(repo.join("defs.yaml"))
        .unwrap()
        .replace(VIEW_A, "");
    std::fs::write(repo.join("defs.yaml"), defs).unwrap();
    let r = run(&repo, &["apply"]).success();
    assert!(
        r.stdout
            .contains("Deleted feature view v\n\nDeleted lmdb table p_v\n"),
        "{}",
        r.stdout
    );
    std::fs::write(
        repo.join("defs.yaml"),
        std::fs::read_to_string(repo.join("defs.yaml")).unwrap() + VIEW_A,
    )
    .unwrap();
    run(&repo, &["apply"]).success();
    let store = open_store(&repo);
    assert_eq!(
        read(&store, "p", "v", &[key("id", 1)], &["a"]),
        [None],
        "recreated empty"
    );
}

/// Entities in [`large_repo`]: enough for several write transactions (50,000 rows each),
/// so a materialization takes long enough to be interrupted or overlapped.
pub(crate) const LARGE: i64 = 400_000;
/// The first event time in [`large_repo`]; row `i` is at `LARGE_T0 + i % 1000`.
pub(crate) const LARGE_T0: i64 = 1_700_000_000;

/// A repo with [`LARGE`] entities (`a` = `i`, `b` = `i`), applied.
pub(crate) fn large_repo(views: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let rows: Vec<(i64, i64, i64, f32, i64)> = (0..LARGE)
        .map(|i| (i, LARGE_T0 + i % 1000, LARGE_T0, i as f32, i))
        .collect();
    let batches: Vec<RecordBatch> = rows.chunks(100_000).map(batch).collect();
    let (tmp, repo) = custom_repo(&batches, views);
    run(&repo, &["apply"]).success();
    (tmp, repo)
}

#[test]
fn a_killed_materialization_leaves_committed_batches_readable_and_no_interval() {
    const N: i64 = LARGE;
    let t0 = LARGE_T0;
    let (_tmp, repo) = large_repo(VIEW_AB);
    let mut child = crate::support::edgefeat(&repo)
        .args(["materialize", &ts(t0), &ts(t0 + 1000), "--no-progress"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = open_store(&repo);
    let table = Table {
        project: "p",
        view: "v",
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut committed = 0;
    while committed == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch was committed in time"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("materialize ended ({status}) before it could be killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        committed = store.count(table).unwrap();
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let committed = store.count(table).unwrap();
    assert!(
        committed > 0 && committed < N as u64,
        "{committed} rows committed"
    );

    // Every committed row is whole and right; nothing else is there.
    let keys: Vec<Vec<u8>> = (0..N).map(|i| key("id", i)).collect();
    let got = read(&store, "p", "v", &keys, &["a", "b"]);
    let mut found = 0;
    for (i, row) in got.iter().enumerate() {
        if let Some(row) = row {
            found += 1;
            assert_eq!(
                row.values,
                [Some(Value::Float(i as f32)), Some(Value::Int64(i as i64))]
            );
            assert_eq!(row.event_ts_micros, (t0 + i as i64 % 1000) * 1_000_000);
        }
    }
    assert_eq!(found, committed);
    let registry = load_registry(&repo.join("data/registry.db"), "driver_ranking")
        .unwrap()
        .unwrap();
    assert!(
        registry.feature_views["v"]
            .meta
            .materialization_intervals
            .is_empty()
    );
    drop(store);

    // Running it again completes the load and records the window.
    run(
        &repo,
        &["materialize", &ts(t0), &ts(t0 + 1000), "--no-progress"],
    )
    .success();
    let store = open_store(&repo);
    assert_eq!(store.count(table).unwrap(), N as u64);
    let registry = load_registry(&repo.join("data/registry.db"), "driver_ranking")
        .unwrap()
        .unwrap();
    assert_eq!(
        registry.feature_views["v"]
            .meta
            .materialization_intervals
            .len(),
        1
    );
}

#[test]
fn a_source_may_be_a_directory_of_parquet_files() {
    let t0 = 1_700_000_000;
    let (_tmp, repo) = custom_repo(&[batch(&[(1, t0 + 10, t0, 1.0, 1)])], VIEW_A);
    let parts = repo.join("data/parts");
    std::fs::create_dir(&parts).unwrap();
    std::fs::rename(repo.join("data/src.parquet"), parts.join("part-0.parquet")).unwrap();
    // A second part holds a newer row for entity 1 and a row for entity 2.
    let file = std::fs::File::create(parts.join("part-1.parquet")).unwrap();
    let b = batch(&[(1, t0 + 20, t0, 2.0, 2), (2, t0 + 5, t0, 3.0, 3)]);
    let mut w = ArrowWriter::try_new(file, b.schema(), None).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    std::fs::write(parts.join("README.txt"), "not parquet, ignored").unwrap();
    let defs = std::fs::read_to_string(repo.join("defs.yaml")).unwrap();
    std::fs::write(
        repo.join("defs.yaml"),
        defs.replace("data/src.parquet", "data/parts"),
    )
    .unwrap();
    run(&repo, &["apply"]).success();
    let r = run(&repo, &["materialize", &ts(t0), &ts(t0 + 30)]).success();
    assert!(
        r.stdout
            .contains("3 rows read (3 in the window), 2 entities written"),
        "{}",
        r.stdout
    );
    let store = open_store(&repo);
    let rows = read(&store, "p", "v", &[key("id", 1), key("id", 2)], &["a"]);
    let values: Vec<_> = rows
        .iter()
        .map(|r| r.as_ref().unwrap().values[0].clone())
        .collect();
    assert_eq!(values, [Some(Value::Float(2.0)), Some(Value::Float(3.0))]);
}

/// The newest (conv_rate, avg_daily_trips) of each demo driver, for the serving tests.
pub fn newest_demo_values(repo: &Path) -> BTreeMap<i64, (f32, i64)> {
    expected_demo_rows(repo, i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, e)| (id, (e.conv_rate, e.trips)))
        .collect()
}

/// Runs the binary with `args` in `repo`, killing it if it is still running after 60 s (a
/// serve that did not refuse its store would never exit).
fn run_to_exit(repo: &Path, args: &[&str]) -> crate::support::Run {
    let mut child = crate::support::edgefeat(repo)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("edgefeat {args:?} is still running after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&out.status) {
        panic!(
            "edgefeat {args:?} was killed by signal {signal}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    crate::support::finish(out)
}

#[test]
fn a_truncated_lmdb_store_is_refused_with_what_to_do_and_teardown_removes_it() {
    let (_tmp, repo) = demo_repo();
    let now = crate::support::clock::now().to_rfc3339();
    run(&repo, &["apply"]).success();
    run(&repo, &["materialize-incremental", &now]).success();
    let store = repo.join("data/online_store.lmdb");
    let data = store.join("data.mdb");
    let len = std::fs::metadata(&data).unwrap().len();
    // `truncate -s $(( $(stat -c%s data.mdb)/2 )) data.mdb`, as in issue #21.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let refusal = format!(
        "error: the LMDB online store at {} is damaged: data.mdb is {} bytes, but page ",
        store.display(),
        len / 2
    );
    let advice = "the file has been cut short. Restore it from a backup, or run `edgefeat teardown` (it removes the store and the registry), then `edgefeat apply` and materialize again\n";
    for args in [
        &["serve", "--port", "0", "--no-access-log"][..],
        &["materialize-incremental", &now],
    ] {
        let r = run_to_exit(&repo, args).failure();
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            // (A warning may come first: `EDGEFEAT_CLOCK_SHIFT` is announced on stderr.)
            r.stderr.lines().any(|l| l.starts_with(&refusal)) && r.stderr.ends_with(advice),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::metadata(&data).unwrap().len(),
        len / 2,
        "untouched"
    );

    let r = run_to_exit(&repo, &["teardown"]).success();
    assert!(
        r.stdout.contains(&format!(
            "Removed damaged lmdb online store {}\n",
            store.display()
        )),
        "{}",
        r.stdout
    );
    assert!(!store.exists());

    run(&repo, &["apply"]).success();
    run(&repo, &["materialize-incremental", &now]).success();
    let table = Table {
        project: "demo",
        view: "driver_hourly_stats",
    };
    assert_eq!(open_store(&repo).count(table).unwrap(), 5);
}
