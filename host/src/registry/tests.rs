//! Registry round trips and apply diffs, over the `init` template's definitions.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::repo::RepoConfig;
use crate::repo::definitions::load_definitions;
use crate::repo::template::init_repo;
use crate::repo::validate::validate;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z")
        .unwrap()
        .to_utc()
}

fn template_defs() -> (tempfile::TempDir, RepoConfig, Definitions, Project) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = init_repo(tmp.path(), "demo", t0()).unwrap();
    let config = RepoConfig::load(&repo, None).unwrap();
    let (files, errors) = load_definitions(&config).unwrap();
    let (defs, project) = validate(&config, &files, errors).unwrap();
    (tmp, config, defs, project)
}

#[test]
fn save_then_load_round_trips_every_object_kind() {
    let (_tmp, config, mut defs, project) = template_defs();
    defs.permissions.insert(
        "readers".into(),
        Permission {
            name: "readers".into(),
            types: vec![ResourceType::FeatureView, ResourceType::FeatureService],
            name_patterns: vec!["driver_.*".into()],
            required_tags: [("team".to_string(), "x".to_string())].into(),
            actions: vec![Action::ReadOnline],
            policy: Policy::CombinedGroupNamespace {
                groups: vec!["g".into()],
                namespaces: vec!["n".into()],
            },
            tags: Default::default(),
        },
    );
    let (mut registry, _) = diff_and_merge(None, defs, project, t0());
    registry
        .feature_views
        .get_mut("driver_hourly_stats")
        .unwrap()
        .meta
        .materialization_intervals
        .push(MaterializationInterval {
            start_time: t0() - Duration::days(1),
            end_time: t0(),
        });
    save_registry(&config.registry_path, &registry).unwrap();
    let loaded = load_registry(&config.registry_path, &config.project)
        .unwrap()
        .unwrap();
    assert_eq!(loaded, registry);
    // Saving what was loaded gives the same bytes: the format is stable.
    let first = std::fs::read(&config.registry_path).unwrap();
    save_registry(&config.registry_path, &loaded).unwrap();
    assert_eq!(std::fs::read(&config.registry_path).unwrap(), first);
    // No temp file is left beside it.
    let names: Vec<String> = std::fs::read_dir(config.registry_path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn a_missing_registry_is_none_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    assert!(load_registry(&path, "p").unwrap().is_none());

    // Not JSON, so read as Feast's protobuf registry: these bytes are neither.
    std::fs::write(&path, b"\x0a\x04\x08\x01\x12\x00").unwrap();
    let e = load_registry(&path, "p").unwrap_err().to_string();
    assert!(
        e.contains("is neither an edgefeat registry nor a readable Feast registry"),
        "{e}"
    );

    std::fs::write(&path, br#"{"something": "else"}"#).unwrap();
    let e = load_registry(&path, "p").unwrap_err().to_string();
    assert!(e.contains("no `\"format\": \"edgefeat-registry\"`"), "{e}");

    std::fs::write(
        &path,
        br#"{"format": "edgefeat-registry", "format_version": 99}"#,
    )
    .unwrap();
    let e = load_registry(&path, "p").unwrap_err().to_string();
    assert!(
        e.contains("format version 99, this edgefeat reads version 1"),
        "{e}"
    );

    std::fs::write(
        &path,
        br#"{"format": "edgefeat-registry", "format_version": 1}"#,
    )
    .unwrap();
    let e = load_registry(&path, "p").unwrap_err().to_string();
    assert!(e.contains("is damaged"), "{e}");
}

#[test]
fn first_apply_creates_everything_in_feast_order() {
    let (_tmp, _config, defs, project) = template_defs();
    let (registry, diff) = diff_and_merge(None, defs, project, t0());
    let lines: Vec<String> = diff.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "Created project demo",
            "Created data source driver_hourly_stats_source",
            "Created data source driver_stats_push_source",
            "Created data source vals_to_add",
            "Created entity driver",
            "Created feature view driver_hourly_stats",
            "Created feature view driver_hourly_stats_fresh",
            "Created on demand feature view transformed_conv_rate",
            "Created on demand feature view transformed_conv_rate_fresh",
            "Created feature service driver_activity_v1",
            "Created feature service driver_activity_v2",
            "Created feature service driver_activity_v3",
        ]
    );
    assert_eq!(registry.serial, 1);
    assert_eq!(registry.last_updated, t0());
}

#[test]
fn reapplying_the_same_definitions_changes_nothing() {
    let (_tmp, _config, defs, project) = template_defs();
    let (first, _) = diff_and_merge(None, defs.clone(), project.clone(), t0());
    let (second, diff) = diff_and_merge(Some(&first), defs, project, t0() + Duration::hours(1));
    assert!(diff.is_empty(), "{:?}", diff.changes);
    assert_eq!(
        second, first,
        "meta and serial are kept when nothing changed"
    );
}

#[test]
fn updates_and_deletes_keep_creation_times_and_reset_intervals() {
    let (_tmp, _config, defs, project) = template_defs();
    let (mut first, _) = diff_and_merge(None, defs.clone(), project.clone(), t0());
    let interval = MaterializationInterval {
        start_time: t0() - Duration::days(1),
        end_time: t0(),
    };
    for fv in first.feature_views.values_mut() {
        fv.meta.materialization_intervals.push(interval.clone());
    }

    let mut changed = defs;
    changed
        .feature_views
        .get_mut("driver_hourly_stats")
        .unwrap()
        .ttl_seconds = 7200;
    changed.feature_services.remove("driver_activity_v2");
    let later = t0() + Duration::hours(1);
    let (second, diff) = diff_and_merge(Some(&first), changed, project, later);
    let lines: Vec<String> = diff.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "Updated feature view driver_hourly_stats",
            "Deleted feature service driver_activity_v2",
        ]
    );
    assert_eq!(second.serial, first.serial + 1);
    assert_eq!(second.last_updated, later);
    let updated = &second.feature_views["driver_hourly_stats"].meta;
    assert_eq!(updated.created_timestamp, t0());
    assert_eq!(updated.last_updated_timestamp, later);
    assert!(updated.materialization_intervals.is_empty());
    let untouched = &second.feature_views["driver_hourly_stats_fresh"].meta;
    assert_eq!(untouched.materialization_intervals, [interval]);
    assert_eq!(untouched.last_updated_timestamp, t0());
}
