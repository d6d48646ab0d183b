//! The decoder against a real Feast 0.67 `registry.db` (tests/fixtures/feast-0.67): the objects
//! Feast's own Python decoding of the same file lists (`registry.json` beside it).
//!
//! The dates asserted here are the ones recorded in that file when Feast wrote it (its apply
//! time and its materialization window): they are compared only with the file's own bytes,
//! never with the clock, so no outcome depends on today's date.

use std::path::{Path, PathBuf};

use chrono::DateTime;

use super::decode_registry;
use crate::registry::{OdfvSource, Policy, Registry, SourceKind};
use crate::types::DType;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/feast-0.67/data/registry.db")
}

fn decoded() -> Registry {
    let path = fixture();
    decode_registry(&std::fs::read(&path).unwrap(), "feature_repo", &path).unwrap()
}

fn t(s: &str) -> DateTime<chrono::Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[test]
fn the_fixture_decodes_to_its_objects() {
    let r = decoded();
    assert!(r.is_feast());
    assert_eq!(r.project.spec.name, "feature_repo");
    assert_eq!(
        r.project.spec.description,
        "A project for driver statistics"
    );
    // As registry.json (Python's decoding of the same file) gives it.
    assert_eq!(r.last_updated, t("2026-12-01T20:54:05.348868Z"));

    // `__dummy` is Feast's, not the user's.
    assert_eq!(r.entities.keys().collect::<Vec<_>>(), ["driver"]);
    let driver = &r.entities["driver"].spec;
    assert_eq!(driver.join_key, "driver_id");
    // Unset in the entity: taken from the views' key columns.
    assert_eq!(driver.value_type, DType::Int64);

    assert_eq!(
        r.feature_views.keys().collect::<Vec<_>>(),
        ["driver_hourly_stats", "driver_hourly_stats_fresh"]
    );
    let fv = &r.feature_views["driver_hourly_stats"];
    assert_eq!(fv.spec.entities, ["driver"]);
    assert_eq!(fv.spec.entity_columns[0].name, "driver_id");
    assert_eq!(fv.spec.entity_columns[0].dtype, DType::Int64);
    let schema: Vec<(&str, String)> = fv
        .spec
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.dtype.to_string()))
        .collect();
    assert_eq!(
        schema,
        [
            ("conv_rate", "Float32".to_string()),
            ("acc_rate", "Float32".to_string()),
            ("avg_daily_trips", "Int64".to_string()),
            ("driver_metadata", "Map".to_string()),
            ("driver_config", "Json".to_string()),
            (
                "driver_profile",
                "Struct{name: String, age: String}".to_string()
            ),
        ]
    );
    assert_eq!(fv.spec.features[2].description, "Average daily trips");
    // The struct's schema tag became its dtype.
    assert!(fv.spec.features[5].tags.is_empty());
    assert_eq!(fv.spec.ttl_seconds, 86_400);
    assert!(fv.spec.online && !fv.spec.offline);
    assert_eq!(fv.spec.tags["team"], "driver_performance");
    assert_eq!(fv.spec.batch_source, "driver_hourly_stats_source");
    assert_eq!(fv.spec.stream_source, None);
    assert_eq!(fv.meta.materialization_intervals.len(), 1);
    assert_eq!(
        fv.meta.materialization_intervals[0].start_time,
        t("2021-01-01T00:00:00Z")
    );
    assert_eq!(
        fv.meta.materialization_intervals[0].end_time,
        t("2026-12-01T20:29:32Z")
    );
    let fresh = &r.feature_views["driver_hourly_stats_fresh"].spec;
    assert_eq!(fresh.batch_source, "driver_hourly_stats_source");
    assert_eq!(
        fresh.stream_source.as_deref(),
        Some("driver_stats_push_source")
    );

    assert_eq!(
        r.data_sources.keys().collect::<Vec<_>>(),
        [
            "driver_hourly_stats_source",
            "driver_quality_labels_batch",
            "driver_quality_labels_push",
            "driver_stats_push_source",
            "vals_to_add",
        ]
    );
    match &r.data_sources["driver_hourly_stats_source"].spec.kind {
        SourceKind::File {
            path,
            timestamp_field,
            created_timestamp_column,
            field_mapping,
        } => {
            assert_eq!(path, Path::new("data/driver_stats.parquet"));
            assert_eq!(timestamp_field, "event_timestamp");
            assert_eq!(created_timestamp_column, "created");
            assert!(field_mapping.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r.data_sources["driver_stats_push_source"].spec.kind,
        SourceKind::Push {
            batch_source: "driver_hourly_stats_source".into()
        }
    );
    match &r.data_sources["vals_to_add"].spec.kind {
        SourceKind::Request { schema } => {
            let names: Vec<_> = schema.iter().map(|f| (&*f.name, &f.dtype)).collect();
            assert_eq!(
                names,
                [
                    ("val_to_add", &DType::Int64),
                    ("val_to_add_2", &DType::Int64)
                ]
            );
        }
        other => panic!("{other:?}"),
    }

    let odfv = &r.on_demand_feature_views["transformed_conv_rate"].spec;
    assert_eq!(
        odfv.sources,
        [
            OdfvSource::FeatureView("driver_hourly_stats".into()),
            OdfvSource::RequestSource("vals_to_add".into()),
        ]
    );
    let outputs: Vec<_> = odfv.features.iter().map(|f| (&*f.name, &f.dtype)).collect();
    assert_eq!(
        outputs,
        [
            ("conv_rate_plus_val1", &DType::Float64),
            ("conv_rate_plus_val2", &DType::Float64)
        ]
    );
    // Computed by the plugin of its name; the Python function is kept for reference.
    assert_eq!(odfv.plugin, "transformed_conv_rate");
    let udf = odfv.python_udf.as_ref().unwrap();
    assert_eq!(udf.name, "transformed_conv_rate");
    assert_eq!(udf.mode, "pandas");
    assert!(
        udf.body_text.starts_with("@on_demand_feature_view("),
        "{}",
        udf.body_text
    );
    assert!(!odfv.write_to_online_store);
    assert!(
        r.on_demand_feature_views
            .contains_key("transformed_conv_rate_fresh")
    );

    assert_eq!(
        r.feature_services.keys().collect::<Vec<_>>(),
        [
            "driver_activity_v1",
            "driver_activity_v2",
            "driver_activity_v3"
        ]
    );
    let v1 = &r.feature_services["driver_activity_v1"].spec;
    let projections: Vec<(&str, Vec<&str>)> = v1
        .features
        .iter()
        .map(|p| {
            (
                p.feature_view_name.as_str(),
                p.feature_columns.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        projections,
        [
            ("driver_hourly_stats", vec!["conv_rate"]),
            (
                "transformed_conv_rate",
                vec!["conv_rate_plus_val1", "conv_rate_plus_val2"]
            ),
        ]
    );
    assert!(
        v1.features
            .iter()
            .all(|p| p.feature_view_name_alias.is_none())
    );
    assert_eq!(
        r.feature_services["driver_activity_v2"].spec.features[0]
            .feature_columns
            .len(),
        6
    );

    assert!(r.permissions.is_empty());
    // The label view is known by name, and refused when asked for.
    assert_eq!(
        r.not_served.keys().collect::<Vec<_>>(),
        ["driver_quality_labels"]
    );
}

#[test]
fn another_project_is_refused_with_the_ones_there() {
    let path = fixture();
    let e = decode_registry(&std::fs::read(&path).unwrap(), "other", &path).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("holds no project `other` (projects: feature_repo)"),
        "{e}"
    );
}

#[test]
fn a_torn_registry_is_refused_whatever_the_cut() {
    let path = fixture();
    let bytes = std::fs::read(&path).unwrap();
    // Every prefix a reader can see while Feast rewrites the file in place: none may decode
    // into a registry that lacks objects (Feast writes the project record after every object).
    let full = decoded();
    for cut in (0..bytes.len()).step_by(7) {
        match decode_registry(&bytes[..cut], "feature_repo", &path) {
            Err(_) => {}
            Ok(r) => {
                assert_eq!(r.feature_views, full.feature_views, "cut at {cut}");
                assert_eq!(r.feature_services, full.feature_services, "cut at {cut}");
                assert_eq!(
                    r.on_demand_feature_views, full.on_demand_feature_views,
                    "cut at {cut}"
                );
            }
        }
    }
    let e = decode_registry(&[], "feature_repo", &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is empty"), "{e}");
    let mut corrupt = bytes.clone();
    corrupt[1] = 0xff; // the first entity's length runs past the end
    let e = decode_registry(&corrupt, "feature_repo", &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nor a readable Feast registry"), "{e}");
}

#[test]
fn permissions_and_gates_decode() {
    use crate::proto::feast::core as pb;
    use prost::Message as _;
    let path = fixture();
    let mut raw = pb::Registry::decode(&*std::fs::read(&path).unwrap()).unwrap();
    // A permission as Feast's Python writes `AllowAll`: a present, empty policy.
    raw.permissions.push(pb::Permission {
        spec: Some(pb::PermissionSpec {
            name: "everyone".into(),
            project: "feature_repo".into(),
            types: vec![0, 5],
            name_patterns: vec!["driver_.*".into()],
            actions: vec![4],
            policy: Some(pb::Policy::default()),
            ..Default::default()
        }),
        meta: None,
    });
    raw.permissions.push(pb::Permission {
        spec: Some(pb::PermissionSpec {
            name: "readers".into(),
            project: "feature_repo".into(),
            types: vec![0],
            actions: vec![4],
            policy: Some(pb::Policy {
                policy_type: Some(pb::policy::PolicyType::RoleBasedPolicy(
                    pb::RoleBasedPolicy {
                        roles: vec!["reader".into()],
                    },
                )),
                ..Default::default()
            }),
            ..Default::default()
        }),
        meta: None,
    });
    // A disabled view and one being materialized are refused with Feast's messages.
    let spec = raw.feature_views[0].spec.as_mut().unwrap();
    spec.disabled = true;
    let disabled = spec.name.clone();
    raw.feature_views[1].meta.as_mut().unwrap().state = pb::FeatureViewState::Materializing as i32;
    let materializing = raw.feature_views[1].spec.as_ref().unwrap().name.clone();
    let r = decode_registry(&raw.encode_to_vec(), "feature_repo", &path).unwrap();

    let everyone = &r.permissions["everyone"].spec;
    assert_eq!(everyone.policy, Policy::AllowAll);
    assert_eq!(
        everyone.types,
        [
            crate::registry::ResourceType::FeatureView,
            crate::registry::ResourceType::FeatureService
        ]
    );
    assert_eq!(everyone.actions, [crate::registry::Action::ReadOnline]);
    assert_eq!(
        r.permissions["readers"].spec.policy,
        Policy::RoleBased {
            roles: vec!["reader".into()]
        }
    );
    assert_eq!(
        r.not_served[&disabled],
        format!("Feature view {disabled} is disabled and cannot serve features")
    );
    assert_eq!(
        r.not_served[&materializing],
        format!(
            "Feature view '{materializing}' is in state 'MATERIALIZING' and cannot serve features."
        )
    );
}
