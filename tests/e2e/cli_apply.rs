//! `apply`, `plan`, `teardown`, the listing commands and `registry-dump`, run on the demo.

use crate::support::{demo_repo, run};

const FIRST_APPLY: &str = "\
Applying changes for project demo
Created project demo
Created data source driver_hourly_stats_source
Created data source driver_stats_push_source
Created data source vals_to_add
Created entity driver
Created feature view driver_hourly_stats
Created feature view driver_hourly_stats_fresh
Created on demand feature view transformed_conv_rate
Created on demand feature view transformed_conv_rate_fresh
Created feature service driver_activity_v1
Created feature service driver_activity_v2
Created feature service driver_activity_v3
";

/// What the online store reports after the registry lines of the first apply.
const FIRST_APPLY_INFRA: &str = "
Created lmdb table demo_driver_hourly_stats
Created lmdb table demo_driver_hourly_stats_fresh
";

#[test]
fn init_then_apply_registers_the_demo_and_a_second_apply_changes_nothing() {
    let (_tmp, repo) = demo_repo();
    let r = run(&repo, &["apply"]).success();
    assert_eq!(r.stdout, format!("{FIRST_APPLY}{FIRST_APPLY_INFRA}"));
    assert!(repo.join("data/online_store.lmdb/data.mdb").is_file());
    let registry = repo.join("data/registry.db");
    let first = std::fs::read(&registry).unwrap();

    let r = run(&repo, &["apply"]).success();
    assert_eq!(
        r.stdout,
        "Applying changes for project demo\nNo changes to registry\n"
    );
    assert_eq!(std::fs::read(&registry).unwrap(), first, "not rewritten");

    let r = run(&repo, &["feature-views", "list"]).success();
    assert_eq!(
        r.stdout,
        "\
NAME                         ENTITIES    TYPE
driver_hourly_stats          {'driver'}  FeatureView
driver_hourly_stats_fresh    {'driver'}  FeatureView
transformed_conv_rate        n/a         OnDemandFeatureView
transformed_conv_rate_fresh  n/a         OnDemandFeatureView
"
    );
    let r = run(&repo, &["entities", "list"]).success();
    assert_eq!(
        r.stdout,
        "NAME    DESCRIPTION  TYPE\ndriver               ValueType.INT64\n"
    );
    let r = run(&repo, &["data-sources", "list"]).success();
    assert!(
        r.stdout.contains("driver_stats_push_source    PushSource"),
        "{}",
        r.stdout
    );
    let r = run(&repo, &["feature-services", "list"]).success();
    assert!(
        r.stdout.contains("driver_activity_v1  driver_hourly_stats:conv_rate, transformed_conv_rate:conv_rate_plus_val1, transformed_conv_rate:conv_rate_plus_val2"),
        "{}",
        r.stdout
    );
    let r = run(&repo, &["on-demand-feature-views", "list"]).success();
    assert_eq!(
        r.stdout,
        "NAME\ntransformed_conv_rate\ntransformed_conv_rate_fresh\n"
    );
    let r = run(&repo, &["permissions", "list"]).success();
    assert_eq!(r.stdout, "NAME  TYPES  NAME_PATTERNS  ACTIONS  POLICY\n");

    let r = run(&repo, &["feature-views", "describe", "driver_hourly_stats"]).success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["spec"]["ttl_seconds"], 86400);
    assert_eq!(
        v["spec"]["features"][5]["dtype"],
        "Struct{name: String, age: String}"
    );
    let r = run(&repo, &["feature-views", "describe", "nope"]).failure();
    assert!(
        r.stderr
            .contains("feature view `nope` is not in the registry"),
        "{}",
        r.stderr
    );

    let r = run(&repo, &["registry-dump"]).success();
    let dump: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(dump["format"], "edgefeat-registry");
    assert_eq!(dump["project"]["spec"]["name"], "demo");
    assert_eq!(dump["entities"]["driver"]["spec"]["value_type"], "Int64");
}

#[test]
fn broken_definitions_report_every_problem_and_leave_the_registry_untouched() {
    let (_tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    let registry = repo.join("data/registry.db");
    let before = std::fs::read(&registry).unwrap();

    std::fs::write(
        repo.join("more.yaml"),
        "feature_views:\n  - name: rider_stats\n    entities: [rider]\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: driver_hourly_stats_source\n",
    )
    .unwrap();
    std::fs::create_dir(repo.join("services")).unwrap();
    std::fs::write(
        repo.join("services/extra.yml"),
        "feature_services:\n  - name: s\n    features:\n      - view: driver_hourly_stats\n        features: [conv_rat]\n",
    )
    .unwrap();
    let r = run(&repo, &["apply"]).failure();
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "\
more.yaml:3:16: error: feature view `rider_stats` references unknown entity `rider`
  help: declare it under `entities:`; defined entities: driver

services/extra.yml:5:20: error: feature service `s` selects `conv_rat`, which view `driver_hourly_stats` does not have
  help: features of `driver_hourly_stats`: conv_rate, acc_rate, avg_daily_trips, driver_metadata, driver_config, driver_profile

error: 2 problems in the definitions; nothing was applied
"
    );
    assert_eq!(std::fs::read(&registry).unwrap(), before, "byte-identical");

    // `plan` reports the same problems; with them fixed it shows the diff and writes nothing.
    run(&repo, &["plan"]).failure();
    std::fs::remove_file(repo.join("more.yaml")).unwrap();
    std::fs::write(
        repo.join("services/extra.yml"),
        "feature_services:\n  - name: s\n    features:\n      - view: driver_hourly_stats\n        features: [conv_rate]\n",
    )
    .unwrap();
    let r = run(&repo, &["plan"]).success();
    assert_eq!(r.stdout, "Created feature service s\n");
    assert_eq!(std::fs::read(&registry).unwrap(), before);

    // `.edgefeatignore` hides files from the definitions.
    std::fs::write(repo.join(".edgefeatignore"), "# not ready\nservices/\n").unwrap();
    let r = run(&repo, &["plan"]).success();
    assert_eq!(r.stdout, "No changes to registry\n");
}

#[test]
fn apply_reports_updates_and_deletions() {
    let (_tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    let defs = repo.join("feature_definitions.yaml");
    let text = std::fs::read_to_string(&defs).unwrap();
    let v3 = text.find("  - name: driver_activity_v3").unwrap();
    let changed = text[..v3].replacen("ttl: 1d", "ttl: 2h", 1);
    std::fs::write(&defs, changed).unwrap();
    let r = run(&repo, &["apply"]).success();
    assert_eq!(
        r.stdout,
        "Applying changes for project demo\nUpdated feature view driver_hourly_stats\nDeleted feature service driver_activity_v3\n"
    );
    let r = run(&repo, &["feature-views", "describe", "driver_hourly_stats"]).success();
    assert!(r.stdout.contains("\"ttl_seconds\": 7200"), "{}", r.stdout);
}

#[test]
fn plan_on_a_fresh_repo_writes_nothing_and_teardown_removes_the_registry() {
    let (_tmp, repo) = demo_repo();
    let r = run(&repo, &["plan"]).success();
    assert_eq!(
        r.stdout,
        FIRST_APPLY.replace("Applying changes for project demo\n", "")
    );
    assert!(!repo.join("data/registry.db").exists());

    let r = run(&repo, &["entities", "list"]).failure();
    assert!(
        r.stderr.contains("run `edgefeat apply` first"),
        "{}",
        r.stderr
    );

    run(&repo, &["apply"]).success();
    assert!(repo.join("data/registry.db").exists());
    let r = run(&repo, &["teardown"]).success();
    assert!(
        r.stdout.contains("Removed lmdb online store"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Removed registry"), "{}", r.stdout);
    assert!(!repo.join("data/registry.db").exists());
    assert!(!repo.join("data/online_store.lmdb").exists());
    let r = run(&repo, &["teardown"]).success();
    assert!(r.stdout.starts_with("No registry at"), "{}", r.stdout);
    assert!(!repo.join("data/online_store.lmdb").exists());
    // The data survives a teardown: it is the offline store, not ours to delete.
    assert!(repo.join("data/driver_stats.parquet").exists());
}

#[test]
fn a_feast_registry_at_the_path_is_never_overwritten() {
    let (_tmp, repo) = demo_repo();
    let registry = repo.join("data/registry.db");
    let feast_bytes = b"\x0a\x04\x08\x01\x12\x00\xff";
    std::fs::write(&registry, feast_bytes).unwrap();
    let r = run(&repo, &["apply"]).failure();
    assert!(
        r.stderr
            .contains("is Feast's registry: `feast apply` writes it"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&registry).unwrap(), feast_bytes);
}
