//! The serving core over an in-memory store: resolution, coercion, statuses, ttl, collisions.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::online::{Durability, InfraChange, ReadRow, WriteFeature, WriteRow, WriteStats};
use crate::serving::plan::ServingOptions;

/// Features of dtype Int64 (the in-memory store ignores the dtype).
fn int64s<'a>(names: &[&'a str]) -> Vec<WriteFeature<'a>> {
    names
        .iter()
        .map(|&name| WriteFeature {
            name,
            dtype: &DType::Int64,
        })
        .collect()
}
use crate::registry::{Definitions, Entity, FeatureView, Field, Projection, diff_and_merge};
use crate::registry::{FeatureService, Project};

/// A stored row: event time and named values.
type MemRow = (i64, Vec<(String, Value)>);

/// Rows by (view, serialized key).
#[derive(Default)]
struct MemStore {
    rows: Mutex<HashMap<(String, Vec<u8>), MemRow>>,
}

impl OnlineStore for MemStore {
    fn update(
        &self,
        _: &str,
        _: &[&FeatureView],
        _: &[&FeatureView],
    ) -> anyhow::Result<Vec<InfraChange>> {
        Ok(vec![])
    }
    fn teardown(&self, _: &str, _: &[&FeatureView]) -> anyhow::Result<Vec<InfraChange>> {
        Ok(vec![])
    }
    fn read(
        &self,
        table: Table<'_>,
        keys: &[&[u8]],
        features: &[&str],
    ) -> anyhow::Result<Vec<Option<ReadRow>>> {
        let rows = self.rows.lock().unwrap();
        Ok(keys
            .iter()
            .map(|k| {
                rows.get(&(table.view.to_string(), k.to_vec()))
                    .map(|(ts, values)| ReadRow {
                        event_ts_micros: *ts,
                        created_ts_micros: 0,
                        values: features
                            .iter()
                            .map(|f| values.iter().find(|(n, _)| n == f).map(|(_, v)| v.clone()))
                            .collect(),
                    })
            })
            .collect())
    }
    fn write(
        &self,
        table: Table<'_>,
        features: &[WriteFeature<'_>],
        rows: &[WriteRow],
        _: Durability,
    ) -> anyhow::Result<WriteStats> {
        let mut all = self.rows.lock().unwrap();
        for r in rows {
            let values = features
                .iter()
                .map(|f| f.name.to_string())
                .zip(r.values.iter().cloned())
                .collect();
            all.insert(
                (table.view.to_string(), r.entity_key.clone()),
                (r.event_ts_micros, values),
            );
        }
        Ok(WriteStats {
            written: rows.len(),
            kept_newer: 0,
        })
    }
    fn sync(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

fn field(name: &str, dtype: DType) -> Field {
    Field {
        name: name.into(),
        dtype,
        description: String::new(),
        tags: Default::default(),
        vector_index: None,
    }
}

fn view(name: &str, keys: &[(&str, &str, DType)], features: &[&str], ttl: u64) -> FeatureView {
    FeatureView {
        name: name.into(),
        entities: keys.iter().map(|(e, _, _)| e.to_string()).collect(),
        entity_columns: keys.iter().map(|(_, k, t)| field(k, t.clone())).collect(),
        features: features.iter().map(|f| field(f, DType::Int64)).collect(),
        ttl_seconds: ttl,
        batch_source: "src".into(),
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: Default::default(),
        owner: String::new(),
    }
}

const HOUR: i64 = 3_600_000_000;

fn setup() -> (Snapshot, MemStore) {
    let mut defs = Definitions::default();
    for (name, key, t) in [
        ("driver", "driver_id", DType::Int64),
        ("zone", "zone_id", DType::String),
    ] {
        defs.entities.insert(
            name.into(),
            Entity {
                name: name.into(),
                join_key: key.into(),
                value_type: t,
                description: String::new(),
                tags: Default::default(),
                owner: String::new(),
            },
        );
    }
    let d = ("driver", "driver_id", DType::Int64);
    let z = ("zone", "zone_id", DType::String);
    defs.feature_views.insert(
        "a".into(),
        view("a", std::slice::from_ref(&d), &["x", "y"], 3600),
    );
    defs.feature_views
        .insert("b".into(), view("b", std::slice::from_ref(&d), &["x"], 0));
    defs.feature_views
        .insert("dz".into(), view("dz", &[d, z], &["n"], 0));
    defs.feature_services.insert(
        "svc".into(),
        FeatureService {
            name: "svc".into(),
            features: vec![Projection {
                feature_view_name: "a".into(),
                feature_view_name_alias: None,
                feature_columns: vec!["y".into()],
                join_key_map: [("driver_id".to_string(), "rider".to_string())].into(),
            }],
            description: String::new(),
            tags: Default::default(),
            owner: String::new(),
        },
    );
    let project = Project {
        name: "p".into(),
        description: String::new(),
        tags: Default::default(),
        owner: String::new(),
    };
    let (registry, _) = diff_and_merge(None, defs, project, chrono::Utc::now());
    let store = MemStore::default();
    let key =
        |id: i64| crate::types::serialize_entity_key(&[("driver_id", &Value::Int64(id))]).unwrap();
    let t = Table {
        project: "p",
        view: "a",
    };
    store
        .write(
            t,
            &int64s(&["x", "y"]),
            &[WriteRow {
                entity_key: key(1),
                event_ts_micros: 10 * HOUR,
                created_ts_micros: 0,
                values: vec![Value::Int64(11), Value::Null],
            }],
            Durability::Sync,
        )
        .unwrap();
    let dz = crate::types::serialize_entity_key(&[
        ("driver_id", &Value::Int64(1)),
        ("zone_id", &Value::String("n".into())),
    ])
    .unwrap();
    store
        .write(
            Table {
                project: "p",
                view: "dz",
            },
            &int64s(&["n"]),
            &[WriteRow {
                entity_key: dz,
                event_ts_micros: HOUR,
                created_ts_micros: 0,
                values: vec![Value::Int64(7)],
            }],
            Durability::Sync,
        )
        .unwrap();
    (
        Snapshot::new(std::sync::Arc::new(registry), ServingOptions::default()),
        store,
    )
}

fn entities(cols: &[(&str, serde_json::Value)]) -> Vec<(String, Vec<serde_json::Value>)> {
    cols.iter()
        .map(|(n, v)| (n.to_string(), v.as_array().unwrap().clone()))
        .collect()
}

fn serve(
    snap: &Snapshot,
    store: &MemStore,
    features: &[&str],
    ents: &[(&str, serde_json::Value)],
    full: bool,
    now: i64,
) -> Result<OnlineResponse, ServingError> {
    let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
    let ents = entities(ents);
    get_online_features(
        snap,
        store,
        None,
        &OnlineRequest {
            entities: &ents,
            feature_service: None,
            features: &features,
            full_feature_names: full,
        },
        now,
    )
}

#[test]
fn a_stored_null_is_present_and_a_missing_row_not_found() {
    let (snap, store) = setup();
    let r = serve(
        &snap,
        &store,
        &["a:y", "a:x"],
        &[("driver_id", serde_json::json!([1, 2]))],
        false,
        0,
    )
    .unwrap();
    assert_eq!(r.feature_names, ["driver_id", "y", "x"]);
    assert_eq!(r.columns[1].values, [Value::Null, Value::Null]);
    assert_eq!(
        r.columns[1].statuses,
        [FieldStatus::Present, FieldStatus::NotFound]
    );
    assert_eq!(r.columns[2].values, [Value::Int64(11), Value::Null]);
    assert_eq!(r.columns[2].event_ts_micros, [10 * HOUR, 0]);
}

#[test]
fn ttl_is_ignored_unless_enforced_then_old_values_are_outside_max_age() {
    let (snap, store) = setup();
    let late = 12 * HOUR; // 2 h after the row, ttl 1 h
    let r = serve(
        &snap,
        &store,
        &["a:x"],
        &[("driver_id", serde_json::json!([1]))],
        false,
        late,
    )
    .unwrap();
    assert_eq!(r.columns[1].statuses, [FieldStatus::Present]);
    let strict = Snapshot::new(snap.registry.clone(), ServingOptions { enforce_ttl: true });
    let r = serve(
        &strict,
        &store,
        &["a:x"],
        &[("driver_id", serde_json::json!([1]))],
        false,
        late,
    )
    .unwrap();
    assert_eq!(r.columns[1].statuses, [FieldStatus::OutsideMaxAge]);
    assert_eq!(
        r.columns[1].values,
        [Value::Int64(11)],
        "the value is still returned"
    );
    let r = serve(
        &strict,
        &store,
        &["a:x"],
        &[("driver_id", serde_json::json!([1]))],
        false,
        10 * HOUR + 1,
    )
    .unwrap();
    assert_eq!(r.columns[1].statuses, [FieldStatus::Present]);
    // A view without ttl never expires.
    let r = serve(
        &strict,
        &store,
        &["dz:n"],
        &[
            ("driver_id", serde_json::json!([1])),
            ("zone_id", serde_json::json!(["n"])),
        ],
        false,
        i64::MAX,
    )
    .unwrap();
    assert_eq!(r.columns[2].statuses, [FieldStatus::Present]);
}

#[test]
fn composite_keys_use_both_columns_and_a_missing_part_just_misses() {
    let (snap, store) = setup();
    // Sent in the other order, and zone as a number: coerced to its String dtype.
    let r = serve(
        &snap,
        &store,
        &["dz:n"],
        &[
            ("zone_id", serde_json::json!(["n"])),
            ("driver_id", serde_json::json!([1])),
        ],
        false,
        0,
    )
    .unwrap();
    assert_eq!(r.feature_names, ["zone_id", "driver_id", "n"]);
    assert_eq!(r.columns[2].values, [Value::Int64(7)]);
    let r = serve(
        &snap,
        &store,
        &["dz:n"],
        &[("driver_id", serde_json::json!([1]))],
        false,
        0,
    )
    .unwrap();
    assert_eq!(r.columns[1].statuses, [FieldStatus::NotFound]);
}

#[test]
fn same_feature_names_collide_unless_full_names() {
    let (snap, store) = setup();
    let e = serve(
        &snap,
        &store,
        &["a:x", "b:x"],
        &[("driver_id", serde_json::json!([1]))],
        false,
        0,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ServingError::Feast {
                class: "FeatureNameCollisionError",
                status: 500,
                ..
            }
        ),
        "{e:?}"
    );
    let r = serve(
        &snap,
        &store,
        &["a:x", "b:x"],
        &[("driver_id", serde_json::json!([1]))],
        true,
        0,
    )
    .unwrap();
    assert_eq!(r.feature_names, ["driver_id", "a__x", "b__x"]);
}

#[test]
fn a_service_join_key_map_reads_the_mapped_request_column() {
    let (snap, store) = setup();
    let ents = entities(&[("rider", serde_json::json!([1]))]);
    let r = get_online_features(
        &snap,
        &store,
        None,
        &OnlineRequest {
            entities: &ents,
            feature_service: Some("svc"),
            features: &[],
            full_feature_names: false,
        },
        0,
    )
    .unwrap();
    assert_eq!(r.feature_names, ["rider", "y"]);
    assert_eq!(r.columns[1].statuses, [FieldStatus::Present]);
}

#[test]
fn plans_are_cached_per_snapshot() {
    let (snap, _store) = setup();
    let refs = vec!["a:x".to_string()];
    let p1 = snap.plan(None, &refs, false).unwrap();
    let p2 = snap.plan(None, &refs, false).unwrap();
    assert!(std::sync::Arc::ptr_eq(&p1, &p2));
    let p3 = snap.plan(None, &refs, true).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&p1, &p3));
    let fresh = Snapshot::new(snap.registry.clone(), ServingOptions::default());
    assert!(!std::sync::Arc::ptr_eq(
        &p1,
        &fresh.plan(None, &refs, false).unwrap()
    ));
}

#[test]
fn bad_entity_values_are_500_messages() {
    let (snap, store) = setup();
    for bad in [
        serde_json::json!([null]),
        serde_json::json!(["1.5"]),
        serde_json::json!([[1]]),
    ] {
        let e = serve(
            &snap,
            &store,
            &["a:x"],
            &[("driver_id", bad.clone())],
            false,
            0,
        )
        .unwrap_err();
        assert!(matches!(e, ServingError::Other(_)), "{bad}: {e:?}");
    }
    let e = serve(&snap, &store, &["a:x"], &[], false, 0).unwrap_err();
    assert!(matches!(e, ServingError::Other(_)));
}
