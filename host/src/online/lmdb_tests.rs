//! The LMDB store through the `OnlineStore` trait.

use super::*;
use crate::types::{DType, serialize_entity_key};

fn config(dir: &std::path::Path, policy: WritePolicy, map_size: u64) -> LmdbConfig {
    LmdbConfig {
        path: dir.join("online.lmdb"),
        map_size,
        write_policy: policy,
    }
}

fn key(id: i64) -> Vec<u8> {
    serialize_entity_key(&[("driver_id", &Value::Int64(id))]).unwrap()
}

fn row(id: i64, event: i64, created: i64, v: f32) -> WriteRow {
    WriteRow {
        entity_key: key(id),
        event_ts_micros: event,
        created_ts_micros: created,
        values: vec![Value::Float(v), Value::String(format!("s{id}"))],
    }
}

const T: Table<'static> = Table {
    project: "p",
    view: "v",
};
const NAMES: [WriteFeature<'static>; 2] = [
    WriteFeature {
        name: "a",
        dtype: &DType::Float32,
    },
    WriteFeature {
        name: "s",
        dtype: &DType::String,
    },
];

fn read_a(store: &LmdbStore, id: i64) -> Option<Value> {
    let k = key(id);
    store.read(T, &[&k], &["a"]).unwrap()[0]
        .as_ref()
        .and_then(|r| r.values[0].clone())
}

#[test]
fn writes_then_reads_in_request_order_with_missing_entities() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 20)).unwrap();
    let stats = store
        .write(
            T,
            &NAMES,
            &[row(1, 10, 0, 1.0), row(2, 20, 5, 2.0)],
            Durability::Sync,
        )
        .unwrap();
    assert_eq!(
        stats,
        WriteStats {
            written: 2,
            kept_newer: 0
        }
    );
    let (k1, k2, k3) = (key(1), key(2), key(3));
    let got = store
        .read(T, &[&k2, &k3, &k1], &["s", "missing", "a"])
        .unwrap();
    assert_eq!(
        got,
        [
            Some(ReadRow {
                event_ts_micros: 20,
                created_ts_micros: 5,
                values: vec![
                    Some(Value::String("s2".into())),
                    None,
                    Some(Value::Float(2.0))
                ],
            }),
            None,
            Some(ReadRow {
                event_ts_micros: 10,
                created_ts_micros: 0,
                values: vec![
                    Some(Value::String("s1".into())),
                    None,
                    Some(Value::Float(1.0))
                ],
            }),
        ]
    );
    // Another view's table is separate, and unknown tables read as empty.
    let other = Table {
        project: "p",
        view: "w",
    };
    assert_eq!(store.read(other, &[&k1], &["a"]).unwrap(), [None]);
    assert_eq!(store.count(T).unwrap(), 2);
}

#[test]
fn newer_wins_keeps_the_newest_event_then_created() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 20)).unwrap();
    store
        .write(T, &NAMES, &[row(1, 10, 5, 1.0)], Durability::Sync)
        .unwrap();
    let older = store
        .write(T, &NAMES, &[row(1, 9, 99, 2.0)], Durability::Sync)
        .unwrap();
    assert_eq!(
        older,
        WriteStats {
            written: 0,
            kept_newer: 1
        }
    );
    let older_created = store
        .write(T, &NAMES, &[row(1, 10, 4, 3.0)], Durability::Sync)
        .unwrap();
    assert_eq!(older_created.kept_newer, 1);
    assert_eq!(read_a(&store, 1), Some(Value::Float(1.0)));
    // Equal on both: the new write wins (a replay of the same row is idempotent anyway).
    store
        .write(T, &NAMES, &[row(1, 10, 5, 4.0)], Durability::Sync)
        .unwrap();
    assert_eq!(read_a(&store, 1), Some(Value::Float(4.0)));
    store
        .write(T, &NAMES, &[row(1, 11, 0, 5.0)], Durability::Sync)
        .unwrap();
    assert_eq!(read_a(&store, 1), Some(Value::Float(5.0)));
}

#[test]
fn last_write_wins_overwrites_whatever_the_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::LastWriteWins, 1 << 20)).unwrap();
    store
        .write(T, &NAMES, &[row(1, 10, 5, 1.0)], Durability::Sync)
        .unwrap();
    store
        .write(T, &NAMES, &[row(1, 1, 0, 2.0)], Durability::Sync)
        .unwrap();
    assert_eq!(read_a(&store, 1), Some(Value::Float(2.0)));
}

#[test]
fn update_creates_and_drops_tables_and_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 20)).unwrap();
    let view = bare_view;
    let (v, w) = (view("v"), view("w"));
    let changes = store.update("p", &[&v, &w], &[]).unwrap();
    assert_eq!(
        changes,
        [
            InfraChange("Created lmdb table p_v".into()),
            InfraChange("Created lmdb table p_w".into())
        ]
    );
    assert!(store.update("p", &[&v, &w], &[]).unwrap().is_empty());
    store
        .write(T, &NAMES, &[row(1, 10, 0, 1.0)], Durability::Sync)
        .unwrap();
    let changes = store.update("p", &[&w], &[&v]).unwrap();
    assert_eq!(changes, [InfraChange("Deleted lmdb table p_v".into())]);
    assert_eq!(store.count(T).unwrap(), 0);
    // Recreated: a new id, so empty.
    store.update("p", &[&v, &w], &[]).unwrap();
    assert_eq!(read_a(&store, 1), None);
}

#[test]
fn a_full_map_grows_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    // 64 KiB holds only a handful of pages.
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1)).unwrap();
    let rows: Vec<WriteRow> = (0..20_000).map(|i| row(i, 1, 0, i as f32)).collect();
    for chunk in rows.chunks(5_000) {
        store.write(T, &NAMES, chunk, Durability::Deferred).unwrap();
    }
    store.sync().unwrap();
    assert_eq!(store.count(T).unwrap(), 20_000);
    assert_eq!(read_a(&store, 19_999), Some(Value::Float(19_999.0)));
    assert!(store.env.info().map_size > 65_536);
}

#[test]
fn rows_of_the_wrong_width_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 20)).unwrap();
    let mut bad = row(1, 1, 0, 1.0);
    bad.values.pop();
    let e = store
        .write(T, &NAMES, &[bad], Durability::Sync)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a row for table p_v holds 1 values for 2 features"
    );
    assert_eq!(store.count(T).unwrap(), 0);
}

#[test]
fn teardown_removes_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), WritePolicy::NewerWins, 1 << 20);
    let store = LmdbStore::open(&cfg).unwrap();
    store
        .write(T, &NAMES, &[row(1, 10, 0, 1.0)], Durability::Sync)
        .unwrap();
    let changes = store.teardown("p", &[]).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(!cfg.path.exists());
}

#[test]
fn a_truncated_store_is_refused_with_what_to_do_and_its_error_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), WritePolicy::NewerWins, 1 << 20);
    let store = LmdbStore::open(&cfg).unwrap();
    let rows: Vec<WriteRow> = (0..2000).map(|i| row(i, 10, 0, 1.0)).collect();
    store.write(T, &NAMES, &rows, Durability::Sync).unwrap();
    drop(store);
    let half = crate::online::lmdb_file::cut_in_half(&cfg.path);

    let Err(e) = LmdbStore::open(&cfg) else {
        panic!("a store cut in half opened");
    };
    let message = e.to_string();
    assert!(
        message.starts_with(&format!(
            "the LMDB online store at {} is damaged: data.mdb is {} bytes, but page ",
            cfg.path.display(),
            half
        )),
        "{message}"
    );
    assert!(
        message.ends_with("the file has been cut short. Restore it from a backup, or run `edgefeat teardown` (it removes the store and the registry), then `edgefeat apply` and materialize again"),
        "{message}"
    );
    let damaged = e.downcast_ref::<DamagedStore>().expect("a DamagedStore");
    assert_eq!(
        damaged.remove().unwrap(),
        InfraChange(format!(
            "Removed damaged lmdb online store {}",
            cfg.path.display()
        ))
    );
    assert!(!cfg.path.exists());
    let store = LmdbStore::open(&cfg).unwrap();
    assert_eq!(store.count(T).unwrap(), 0);
}

#[test]
fn concurrent_synced_writes_are_group_committed_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 20)).unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let id = t * 1000 + i;
                    let stats = store
                        .write(T, &NAMES, &[row(id, 1, 0, id as f32)], Durability::Sync)
                        .unwrap();
                    assert_eq!(stats.written, 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.count(T).unwrap(), 1600);
    assert_eq!(read_a(&store, 7199), Some(Value::Float(7199.0)));
    assert!(store.queue.lock().unwrap().is_empty());
}

/// The keys `scan_changes` visits from `since`, and whether it was a full scan.
fn changes(store: &LmdbStore, since: Option<TableVersion>) -> (Scan, Vec<Vec<u8>>) {
    let mut keys = Vec::new();
    let scan = store
        .scan_changes(T, &["a"], since, &mut |k, row| {
            assert!(row.is_some());
            keys.push(k.to_vec());
            Ok(())
        })
        .unwrap();
    (scan, keys)
}

#[test]
fn scan_changes_reads_the_change_log_and_rescans_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&config(dir.path(), WritePolicy::NewerWins, 1 << 24)).unwrap();
    // No table: nothing, at the zero version.
    assert_eq!(changes(&store, None).0.version, TableVersion::default());
    store
        .write(
            T,
            &NAMES,
            &[row(1, 10, 0, 1.0), row(2, 10, 0, 2.0)],
            Durability::Sync,
        )
        .unwrap();
    let (first, keys) = changes(&store, None);
    assert_eq!(
        (first.full, first.version.generation, keys.len()),
        (true, 1, 2)
    );
    // Unchanged: nothing visited.
    let (same, keys) = changes(&store, Some(first.version));
    assert_eq!(
        (same, keys.len()),
        (
            Scan {
                version: first.version,
                full: false
            },
            0
        )
    );
    // Two writes: only their keys, each once.
    store
        .write(T, &NAMES, &[row(2, 20, 0, 3.0)], Durability::Sync)
        .unwrap();
    store
        .write(
            T,
            &NAMES,
            &[row(2, 30, 0, 4.0), row(3, 30, 0, 5.0)],
            Durability::Sync,
        )
        .unwrap();
    let (next, keys) = changes(&store, Some(first.version));
    assert_eq!((next.full, next.version.generation), (false, 3));
    assert_eq!(keys, [key(2), key(3)]);
    // A write that stores nothing (an older row under newer_wins) changes nothing.
    store
        .write(T, &NAMES, &[row(3, 1, 0, 9.0)], Durability::Sync)
        .unwrap();
    assert_eq!(changes(&store, Some(next.version)).1.len(), 0);
    // A reader exactly as far behind as the kept log catches up from it; one more write and
    // it rescans everything.
    for i in 0..LOG_KEEP {
        store
            .write(
                T,
                &NAMES,
                &[row(1, 100 + i as i64, 0, 1.0)],
                Durability::Deferred,
            )
            .unwrap();
    }
    assert_eq!(changes(&store, Some(next.version)).1, [key(1)]);
    store
        .write(T, &NAMES, &[row(1, 5000, 0, 1.0)], Durability::Sync)
        .unwrap();
    let (behind, keys) = changes(&store, Some(next.version));
    assert_eq!((behind.full, keys.len()), (true, 3));
    let (recent, keys) = changes(
        &store,
        Some(TableVersion {
            generation: behind.version.generation - 1,
            ..behind.version
        }),
    );
    assert_eq!((recent.full, keys), (false, vec![key(1)]));
    // A view dropped and applied again is another table: a rescan, of nothing.
    let view = bare_view("v");
    store.update("p", &[], &[&view]).unwrap();
    store.update("p", &[&view], &[]).unwrap();
    let (again, keys) = changes(&store, Some(behind.version));
    assert_eq!(
        (again.full, again.version.generation, keys.len()),
        (true, 0, 0)
    );
    assert_ne!(again.version.table_id, behind.version.table_id);
}

/// A view with nothing but a name: the store keys tables by name only.
fn bare_view(name: &str) -> crate::registry::FeatureView {
    crate::registry::FeatureView {
        name: name.into(),
        entities: vec![],
        entity_columns: vec![],
        features: vec![],
        ttl_seconds: 0,
        batch_source: String::new(),
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: Default::default(),
        owner: String::new(),
    }
}
