//! The SQLite store against the store Feast 0.67 wrote (`tests/fixtures/feast-0.67`): reads
//! of its rows, and writes that reproduce them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::registry::Field;
use crate::types::{DType, serialize_entity_key};

/// The fixture store, copied: the fixture itself is never opened for writing.
fn fixture_copy(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/feast-0.67/data/online_store.db");
    let copy = dir.join("online_store.db");
    std::fs::copy(&fixture, &copy).unwrap();
    copy
}

fn config(path: PathBuf) -> SqliteConfig {
    SqliteConfig {
        path,
        busy_timeout: Duration::from_secs(5),
        journal_mode: None,
    }
}

fn open(path: PathBuf) -> SqliteStore {
    SqliteStore::open(&config(path)).unwrap()
}

const STATS: Table<'static> = Table {
    project: "feature_repo",
    view: "driver_hourly_stats",
};

fn driver(id: i64) -> Vec<u8> {
    serialize_entity_key(&[("driver_id", &Value::Int64(id))]).unwrap()
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

/// The six features of the fixture's `driver_hourly_stats`, with their declared dtypes.
fn schema() -> Vec<(&'static str, DType)> {
    vec![
        ("conv_rate", DType::Float32),
        ("acc_rate", DType::Float32),
        ("avg_daily_trips", DType::Int64),
        ("driver_metadata", DType::Map),
        ("driver_config", DType::Json),
        (
            "driver_profile",
            DType::parse("Struct{name: String, age: String}").unwrap(),
        ),
    ]
}

fn features<'a>(schema: &'a [(&'static str, DType)]) -> Vec<WriteFeature<'a>> {
    schema
        .iter()
        .map(|(name, dtype)| WriteFeature { name, dtype })
        .collect()
}

fn view(name: &str, schema: &[(&str, DType)]) -> FeatureView {
    let field = |name: &str, dtype: DType| Field {
        name: name.into(),
        dtype,
        description: String::new(),
        tags: Default::default(),
        vector_index: None,
    };
    FeatureView {
        name: name.into(),
        entities: vec!["driver".into()],
        entity_columns: vec![field("driver_id", DType::Int64)],
        features: schema.iter().map(|(n, t)| field(n, t.clone())).collect(),
        ttl_seconds: 86_400,
        batch_source: "src".into(),
        stream_source: None,
        online: true,
        offline: true,
        description: String::new(),
        tags: Default::default(),
        owner: String::new(),
    }
}

/// Driver 1001's values in the fixture, as Feast materialized them.
fn driver_1001() -> Vec<Value> {
    vec![
        Value::Float(f32::from_bits(0x3f2a_1806)),
        Value::Float(f32::from_bits(0x3f3d_9935)),
        Value::Int64(108),
        Value::Map(vec![
            ("vehicle_type".into(), s("suv")),
            ("rating".into(), s("3.9")),
        ]),
        Value::Json(r#"{"max_distance_km": 64, "preferred_zones": ["west", "east"]}"#.into()),
        Value::Struct(vec![
            ("age".into(), s("25")),
            ("name".into(), s("driver_1001")),
        ]),
    ]
}

const EVENT_SECONDS: i64 = 1_795_485_600;
const CREATED_SECONDS: i64 = 1_795_490_743;

#[test]
fn reads_what_feast_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(fixture_copy(dir.path()));
    let names = [
        "conv_rate",
        "avg_daily_trips",
        "driver_metadata",
        "driver_config",
        "driver_profile",
        "acc_rate",
        "not_a_feature",
    ];
    let (k1001, k9999, k1003) = (driver(1001), driver(9999), driver(1003));
    let got = store
        .read(STATS, &[&k1001, &k9999, &k1003], &names)
        .unwrap();
    let row = got[0].as_ref().expect("driver 1001 is stored");
    assert_eq!(row.event_ts_micros, EVENT_SECONDS * 1_000_000);
    assert_eq!(row.created_ts_micros, CREATED_SECONDS * 1_000_000);
    let want = driver_1001();
    assert_eq!(
        row.values,
        vec![
            Some(want[0].clone()),
            Some(want[2].clone()),
            Some(want[3].clone()),
            Some(want[4].clone()),
            Some(want[5].clone()),
            Some(want[1].clone()),
            None,
        ]
    );
    // Python prints the widened float32 as 0.6644290685653687.
    let Some(Value::Float(conv)) = &row.values[0] else {
        unreachable!()
    };
    let mut text = Vec::new();
    write_float_repr(f64::from(*conv), &mut text);
    assert_eq!(text, b"0.6644290685653687");
    // An entity with no rows is not found (Feast's `(None, None)`).
    assert_eq!(got[1], None);
    assert_eq!(
        got[2].as_ref().unwrap().values[1],
        Some(Value::Int64(896)),
        "driver 1003"
    );
    // The other view holds the same drivers.
    let fresh = Table {
        project: "feature_repo",
        view: "driver_hourly_stats_fresh",
    };
    let got = store.read(fresh, &[&k1001], &["avg_daily_trips"]).unwrap();
    assert!(got[0].is_some());
}

/// The `sql` text of the fixture's schema objects for a table (the table, then its index).
fn ddl(db: &Path, table: &str) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?1 ORDER BY type DESC, name")
        .unwrap();
    stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn update_creates_feasts_exact_ddl_and_drops_deleted_views() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture_copy(dir.path());
    let fresh = dir.path().join("fresh/online.db");
    let store = open(fresh.clone());
    let stats = view("driver_hourly_stats", &schema());
    let labels = view("driver_quality_labels", &[]);
    let changes = store
        .update("feature_repo", &[&stats, &labels], &[])
        .unwrap();
    assert_eq!(
        changes,
        vec![
            InfraChange("Created sqlite table feature_repo_driver_hourly_stats".into()),
            InfraChange("Created sqlite table feature_repo_driver_quality_labels".into()),
        ]
    );
    for table in [
        "feature_repo_driver_hourly_stats",
        "feature_repo_driver_quality_labels",
    ] {
        let got = ddl(&fresh, table);
        assert_eq!(got, ddl(&fixture, table), "{table}");
        // The table, its primary-key index and `<table>_ek`.
        assert_eq!(got.len(), 3, "{got:?}");
    }
    // Again: nothing to create.
    assert_eq!(store.update("feature_repo", &[&stats], &[]).unwrap(), []);
    // Deleting drops the table and its indexes.
    let changes = store.update("feature_repo", &[], &[&labels]).unwrap();
    assert_eq!(
        changes,
        [InfraChange(
            "Deleted sqlite table feature_repo_driver_quality_labels".into()
        )]
    );
    assert!(ddl(&fresh, "feature_repo_driver_quality_labels").is_empty());
    // A read caches its statement; the table dropped under it reads as empty, not as an error.
    let k = driver(1);
    assert_eq!(store.read(STATS, &[&k], &["conv_rate"]).unwrap(), [None]);
    let changes = store.teardown("feature_repo", &[&stats, &labels]).unwrap();
    assert_eq!(
        changes,
        [InfraChange(
            "Deleted sqlite table feature_repo_driver_hourly_stats".into()
        )]
    );
    assert!(ddl(&fresh, "feature_repo_driver_hourly_stats").is_empty());
    assert_eq!(store.read(STATS, &[&k], &["conv_rate"]).unwrap(), [None]);
    store.check().unwrap();
}

/// Every column of one entity's rows, by feature name: the value parsed too, for comparing
/// maps and structs whose entry order is not part of the format.
type RawRow = (
    Vec<u8>,
    Vec<u8>,
    Option<String>,
    Option<Vec<u8>>,
    (Option<i64>, String),
    (Option<i64>, String),
);

fn raw_rows(db: &Path, table: &str, key: &[u8]) -> Vec<(String, RawRow)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT feature_name, entity_key, value, value_text, vector_value, event_ts, typeof(event_ts), created_ts, typeof(created_ts) FROM {table} WHERE entity_key = ?1 ORDER BY feature_name"
        ))
        .unwrap();
    stmt.query_map([key], |r| {
        Ok((
            r.get(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                (r.get(5)?, r.get(6)?),
                (r.get(7)?, r.get(8)?),
            ),
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[test]
fn writes_rows_identical_to_feasts() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture_copy(dir.path());
    let fresh = dir.path().join("online.db");
    let store = open(fresh.clone());
    let schema = schema();
    store
        .update(
            "feature_repo",
            &[&view("driver_hourly_stats", &schema)],
            &[],
        )
        .unwrap();
    // The values in the order a registry declares them (the struct's fields `name, age`).
    let mut values = driver_1001();
    values[5] = Value::Struct(vec![
        ("name".into(), s("driver_1001")),
        ("age".into(), s("25")),
    ]);
    store
        .write(
            STATS,
            &features(&schema),
            &[WriteRow {
                entity_key: driver(1001),
                event_ts_micros: EVENT_SECONDS * 1_000_000,
                // 03:25:43.336: Feast drops the fraction.
                created_ts_micros: CREATED_SECONDS * 1_000_000 + 336_000,
                values,
            }],
            Durability::Sync,
        )
        .unwrap();
    let table = "feature_repo_driver_hourly_stats";
    let ours = raw_rows(&fresh, table, &driver(1001));
    let feasts = raw_rows(&fixture, table, &driver(1001));
    assert_eq!(ours.len(), 6);
    assert_eq!(ours.len(), feasts.len());
    for ((name, mine), (feast_name, theirs)) in ours.iter().zip(&feasts) {
        assert_eq!(name, feast_name);
        let (key, value, text, vector, event, created) = mine;
        let (feast_key, feast_value, feast_text, feast_vector, feast_event, feast_created) = theirs;
        assert_eq!(key, feast_key, "{name}: entity_key");
        assert_eq!(text, feast_text, "{name}: value_text");
        assert_eq!(vector, feast_vector, "{name}: vector_value");
        assert_eq!(event, feast_event, "{name}: event_ts");
        assert_eq!(created, feast_created, "{name}: created_ts");
        if matches!(name.as_str(), "driver_metadata" | "driver_profile") {
            // Feast's map entry order varies from run to run (protobuf maps are unordered):
            // the same entries in another order are the same value. Compare them parsed, as
            // sets of entries, and check that the bytes are a permutation of the same size.
            let parse = |b: &[u8]| match value_proto::decode_value(b, None).unwrap() {
                Value::Map(mut e) | Value::Struct(mut e) => {
                    e.sort_by(|a, b| a.0.cmp(&b.0));
                    e
                }
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(parse(value), parse(feast_value), "{name}");
            assert_eq!(
                value[..2],
                feast_value[..2],
                "{name}: map_val or struct_val"
            );
            assert_eq!(value.len(), feast_value.len(), "{name}");
        } else {
            assert_eq!(value, feast_value, "{name}: value");
        }
    }
    // And what it wrote reads back as Feast's rows do.
    let names: Vec<&str> = schema.iter().map(|(n, _)| *n).collect();
    let k = driver(1001);
    let read = store.read(STATS, &[&k], &names).unwrap();
    assert_eq!(
        read[0].as_ref().unwrap().created_ts_micros,
        CREATED_SECONDS * 1_000_000
    );
}

#[test]
fn value_text_is_pythons_str() {
    let text = |v: &Value| {
        let mut out = Vec::new();
        value_text(v, &mut out).then(|| String::from_utf8(out).unwrap())
    };
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            Value::Float(f32::from_bits(0x3f3d_9935)),
            Some("0.7406190037727356"),
        ),
        (Value::Float(0.7), Some("0.699999988079071")),
        (Value::Double(1e16), Some("1e+16")),
        (Value::Double(2.0), Some("2.0")),
        (Value::Double(f64::NAN), Some("nan")),
        (Value::Double(f64::NEG_INFINITY), Some("-inf")),
        (Value::Int64(108), Some("108")),
        (Value::Int32(-5), Some("-5")),
        (Value::Bool(true), Some("True")),
        (Value::Bool(false), Some("False")),
        (s("a b"), Some("a b")),
        (s(""), Some("")),
        (Value::Null, None),
        (Value::Bytes(vec![1]), None),
        (Value::UnixTimestamp(1), None),
        (Value::Json("{}".into()), None),
        (Value::Map(vec![]), None),
        (Value::List(vec![Value::Int64(1)]), None),
    ];
    for (value, want) in cases {
        assert_eq!(text(&value).as_deref(), want, "{value:?}");
    }
}

/// A store with the demo view's table, fresh.
fn fresh_store(dir: &Path) -> SqliteStore {
    let store = open(dir.join("online.db"));
    store
        .update(
            "feature_repo",
            &[&view("driver_hourly_stats", &schema())],
            &[],
        )
        .unwrap();
    store
}

fn trips_row(id: i64, event_seconds: i64, trips: i64) -> WriteRow {
    let mut values = driver_1001();
    values[2] = Value::Int64(trips);
    WriteRow {
        entity_key: driver(id),
        event_ts_micros: event_seconds * 1_000_000,
        created_ts_micros: 0,
        values,
    }
}

fn trips(store: &SqliteStore, id: i64) -> Option<(i64, Option<Value>)> {
    let k = driver(id);
    store.read(STATS, &[&k], &["avg_daily_trips"]).unwrap()[0]
        .as_ref()
        .map(|r| (r.event_ts_micros / 1_000_000, r.values[0].clone()))
}

#[test]
fn the_last_write_wins_whatever_its_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let schema = schema();
    let f = features(&schema);
    store
        .write(STATS, &f, &[trips_row(1, 100, 1)], Durability::Sync)
        .unwrap();
    // An older event, written later: Feast's SQLite store keeps it.
    let stats = store
        .write(STATS, &f, &[trips_row(1, 50, 2)], Durability::Deferred)
        .unwrap();
    assert_eq!(
        stats,
        WriteStats {
            written: 1,
            kept_newer: 0
        }
    );
    assert_eq!(trips(&store, 1), Some((50, Some(Value::Int64(2)))));
    // A stored null is a present null, not a missing feature; created unknown is NULL.
    let mut row = trips_row(1, 60, 0);
    row.values[2] = Value::Null;
    store.write(STATS, &f, &[row], Durability::Sync).unwrap();
    assert_eq!(trips(&store, 1), Some((60, Some(Value::Null))));
    let raw = raw_rows(
        &dir.path().join("online.db"),
        "feature_repo_driver_hourly_stats",
        &driver(1),
    );
    let trips_raw = &raw.iter().find(|(n, _)| n == "avg_daily_trips").unwrap().1;
    assert_eq!(trips_raw.1, Vec::<u8>::new(), "a null is the empty blob");
    assert_eq!(trips_raw.2, None, "no value_text for a null");
    assert_eq!(trips_raw.5.1, "null", "created_ts unknown");
    assert_eq!(trips(&store, 2), None);
}

#[test]
fn a_write_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let schema = schema();
    let mut bad = trips_row(2, 100, 5);
    // A string where the view declares Int64 cannot be encoded: the whole call fails.
    bad.values[2] = s("five");
    let err = store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(1, 100, 1), bad],
            Durability::Sync,
        )
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("avg_daily_trips"), "{text}");
    assert!(text.contains("dtype Int64"), "{text}");
    assert_eq!(trips(&store, 1), None, "the first row was rolled back");
    // The connection is usable again.
    store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(1, 100, 1)],
            Durability::Sync,
        )
        .unwrap();
    assert_eq!(trips(&store, 1), Some((100, Some(Value::Int64(1)))));
    // A row of the wrong width is refused before anything is written.
    let mut short = trips_row(3, 1, 1);
    short.values.pop();
    assert!(
        store
            .write(STATS, &features(&schema), &[short], Durability::Sync)
            .is_err()
    );
}

#[test]
fn a_damaged_value_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE feature_repo_driver_hourly_stats SET value = x'35ff' WHERE feature_name = 'conv_rate'",
        [],
    )
    .unwrap();
    drop(conn);
    let store = open(path);
    let k = driver(1001);
    let err = store.read(STATS, &[&k], &["conv_rate"]).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("damaged value of feature `conv_rate`"),
        "{text}"
    );
    assert!(text.contains("feature_repo_driver_hourly_stats"), "{text}");
    assert!(text.contains("truncated"), "{text}");
    // A feature not asked for is not decoded, so the others still read.
    let got = store.read(STATS, &[&k], &["acc_rate"]).unwrap();
    assert!(got[0].as_ref().unwrap().values[0].is_some());
}

#[test]
fn reads_many_keys_duplicates_and_missing_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let schema = schema();
    let rows: Vec<WriteRow> = (0..1200).map(|i| trips_row(i, 10, i)).collect();
    store
        .write(STATS, &features(&schema), &rows, Durability::Deferred)
        .unwrap();
    store.sync().unwrap();
    // More keys than one query binds, every other one missing, and one asked twice.
    let mut ids: Vec<i64> = (0..2400).collect();
    ids.push(7);
    let keys: Vec<Vec<u8>> = ids.iter().map(|&i| driver(i)).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let got = store.read(STATS, &refs, &["avg_daily_trips"]).unwrap();
    for (id, row) in ids.iter().zip(&got) {
        if *id < 1200 {
            assert_eq!(
                row.as_ref().map(|r| r.values[0].clone()),
                Some(Some(Value::Int64(*id))),
                "{id}"
            );
        } else {
            assert_eq!(*row, None, "{id}");
        }
    }
    // A few keys, one of them twice.
    let (k3, k5) = (driver(3), driver(5_000));
    let got = store
        .read(STATS, &[&k3, &k5, &k3], &["avg_daily_trips"])
        .unwrap();
    assert_eq!(got[0], got[2]);
    assert_eq!(got[0].as_ref().unwrap().values, [Some(Value::Int64(3))]);
    assert_eq!(got[1], None);
    // A view never applied to this file has no rows (as in the LMDB store).
    let other = Table {
        project: "feature_repo",
        view: "nope",
    };
    assert_eq!(store.read(other, &[&keys[0]], &["x"]).unwrap(), [None]);
    // Nothing asked, nothing read.
    assert!(store.read(STATS, &[], &["x"]).unwrap().is_empty());
}

#[test]
fn a_write_creates_a_missing_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.db");
    let store = open(path.clone());
    let schema = schema();
    store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(1, 5, 3)],
            Durability::Sync,
        )
        .unwrap();
    assert_eq!(trips(&store, 1), Some((5, Some(Value::Int64(3)))));
    assert_eq!(ddl(&path, "feature_repo_driver_hourly_stats").len(), 3);
}

#[test]
fn a_locked_database_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let schema = schema();
    store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(1, 5, 3)],
            Durability::Sync,
        )
        .unwrap();
    // Another process (Feast materializing) holds the write lock for a while.
    let other = Connection::open(dir.path().join("online.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        other.execute_batch("COMMIT").unwrap();
    });
    rx.recv().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(trips(&store, 1), Some((5, Some(Value::Int64(3)))));
    store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(2, 5, 4)],
            Durability::Sync,
        )
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    holder.join().unwrap();

    // With no patience, the same lock is an error that says so.
    let impatient = SqliteStore::open(&SqliteConfig {
        busy_timeout: Duration::ZERO,
        ..config(dir.path().join("online.db"))
    })
    .unwrap();
    let other = Connection::open(dir.path().join("online.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let k = driver(1);
    let err = impatient
        .read(STATS, &[&k], &["avg_daily_trips"])
        .unwrap_err();
    assert!(format!("{err:#}").contains("locked"), "{err:#}");
    other.execute_batch("COMMIT").unwrap();
}

#[test]
fn the_journal_mode_is_left_alone_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(dir.path());
    let mode = |path: &Path| -> String {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    };
    let store = open(path.clone());
    let schema = schema();
    store
        .write(
            STATS,
            &features(&schema),
            &[trips_row(1, 5, 3)],
            Durability::Sync,
        )
        .unwrap();
    drop(store);
    assert_eq!(mode(&path), "delete");
    let store = SqliteStore::open(&SqliteConfig {
        journal_mode: Some("wal".into()),
        ..config(path.clone())
    })
    .unwrap();
    assert_eq!(trips(&store, 1), Some((5, Some(Value::Int64(3)))));
    drop(store);
    assert_eq!(mode(&path), "wal");
}

#[test]
fn a_file_that_is_not_a_database_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.db");
    std::fs::write(
        &path,
        b"this is not a database, it is some text long enough",
    )
    .unwrap();
    let err = SqliteStore::open(&config(path)).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("not a database"), "{text}");
    assert!(text.contains("online.db"), "{text}");
}

#[test]
fn many_threads_read_while_one_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let schema = schema();
    let f = features(&schema);
    let rows: Vec<WriteRow> = (0..50).map(|i| trips_row(i, 10, i)).collect();
    store.write(STATS, &f, &rows, Durability::Sync).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let store = &store;
            scope.spawn(move || {
                for i in 0..100 {
                    let id = (t * 7 + i) % 50;
                    let (_, v) = trips(store, id).expect("stored");
                    // Either the first write's value or the writer's (id + 1000).
                    assert!(
                        v == Some(Value::Int64(id)) || v == Some(Value::Int64(id + 1000)),
                        "{v:?}"
                    );
                }
            });
        }
        for round in 0..10 {
            let rows: Vec<WriteRow> = (round * 5..round * 5 + 5)
                .map(|i| trips_row(i, 20, i + 1000))
                .collect();
            store.write(STATS, &f, &rows, Durability::Sync).unwrap();
        }
    });
    assert!(store.idle.lock().unwrap().len() <= POOL_IDLE);
}
