//! `edgefeat import`: a repo's registry written as definitions into a new repo, whose `apply`
//! registers the same objects and whose `serve` answers the same.

use std::path::{Path, PathBuf};

use edgefeat::registry::{Registry, SourceKind, load_registry};
use edgefeat::repo::RepoConfig;

use crate::http::Server;
use crate::support::{Run, demo_repo, run};

/// The registry `repo`'s feature_store.yaml points at (edgefeat's, or Feast's once the
/// registry reader knows it).
pub fn registry_of(repo: &Path) -> Registry {
    let config = RepoConfig::load(repo, None).unwrap();
    load_registry(&config.registry_path, &config.project)
        .unwrap()
        .unwrap_or_else(|| panic!("no registry at {}", config.registry_path.display()))
}

/// An import and the apply of its output.
pub struct Imported {
    /// The new repo.
    pub out: PathBuf,
    /// What `import` printed.
    pub import: Run,
    /// What `apply` in the new repo printed.
    pub apply: Run,
}

/// Runs `edgefeat import --out <parent>/imported` in `repo`, then `edgefeat apply` in the new
/// repo; both must succeed. The new repo shares `repo`'s online store, which its `apply`
/// prepares: give it a copy of a checked-in fixture repo, never the fixture itself.
pub fn import_and_apply(repo: &Path, parent: &Path) -> Imported {
    let out = parent.join("imported");
    let import = run(repo, &["import", "--out", out.to_str().unwrap()]).success();
    let apply = run(&out, &["apply"]).success();
    Imported { out, import, apply }
}

/// Asserts that two repos' registries hold the same objects, object by object: every spec
/// equal (metas, which record when they were applied, left out), a file source's path
/// compared as the file it names from its own repo.
pub fn assert_same_objects(source_repo: &Path, imported_repo: &Path) {
    let resolved = |repo: &Path, r: Registry| {
        let mut specs = r.specs();
        for s in specs.data_sources.values_mut() {
            if let SourceKind::File { path, .. } = &mut s.kind {
                let full = repo.join(&*path);
                *path = std::fs::canonicalize(&full).unwrap_or(full);
            }
        }
        // A Feast registry keeps its on-demand views' Python source for reference; edgefeat's
        // definitions bind the plugin instead, which is compared.
        for o in specs.on_demand_feature_views.values_mut() {
            o.python_udf = None;
        }
        specs
    };
    let a = resolved(source_repo, registry_of(source_repo));
    let b = resolved(imported_repo, registry_of(imported_repo));
    assert_eq!(a.project, b.project, "the project");
    fn same<T: PartialEq + std::fmt::Debug>(
        kind: &str,
        a: &std::collections::BTreeMap<String, T>,
        b: &std::collections::BTreeMap<String, T>,
    ) {
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "the {kind} names"
        );
        for (name, spec) in a {
            assert_eq!(Some(spec), b.get(name), "{kind} `{name}`");
        }
    }
    same("entity", &a.entities, &b.entities);
    same("data source", &a.data_sources, &b.data_sources);
    same("feature view", &a.feature_views, &b.feature_views);
    same(
        "on demand feature view",
        &a.on_demand_feature_views,
        &b.on_demand_feature_views,
    );
    same("feature service", &a.feature_services, &b.feature_services);
    same("permission", &a.permissions, &b.permissions);
}

/// Objects beside the demo's whose strings YAML misreads when written plain, and every
/// optional field the definitions have.
const TRICKY: &str = r##"
entities:
  - name: "yes"
    join_keys: [driver_id]
    value_type: Int64
    description: "key: the driver # not a comment"
    tags: {"no": "off", "key: x": " lead", "ünï": "日本 🦀"}
    owner: "ops@example.com"

data_sources:
  - name: stats.copy
    type: file
    path: "data/stats #2.parquet"
    timestamp_field: event_timestamp
    field_mapping: {conv_rate: conversion}
    description: "[not a list]"

feature_views:
  - name: "null"
    entities: ["yes"]
    ttl: 3h
    schema:
      - {name: conversion, dtype: Float32, description: "- dash", tags: {"~": "true"}}
      - {name: avg_daily_trips, dtype: Int64}
      - {name: driver_profile, dtype: "Struct({'name': String, 'age': String})"}
    source: stats.copy
    online: true
    offline: true
    description: "two\nlines"
    owner: "  spaced"

feature_services:
  - name: "1e3"
    features:
      - view: "null"
        features: [conversion]
        alias: "on"
        join_key_map: {driver_id: rider}
      - view: driver_hourly_stats
    tags: {"#": "[x]"}

permissions:
  - name: readers
    types: [FeatureView, FeatureService]
    name_patterns: ["driver_.*", "^a: b$"]
    required_tags: {team: "driver: ops"}
    actions: [READ, DESCRIBE]
    policy: {groups: ["g: 1"], namespaces: ["ns #2"]}
  - name: admins
    types: [ALL_RESOURCE_TYPES]
    actions: [ALL_ACTIONS]
    policy: {roles: [admin]}
"##;

#[test]
fn the_imported_repo_applies_to_the_same_objects() {
    let (tmp, repo) = demo_repo();
    std::fs::copy(
        repo.join("data/driver_stats.parquet"),
        repo.join("data/stats #2.parquet"),
    )
    .unwrap();
    std::fs::write(repo.join("tricky.yaml"), TRICKY).unwrap();
    run(&repo, &["apply"]).success();

    let imported = import_and_apply(&repo, tmp.path());
    assert_eq!(imported.import.stderr, "", "no warnings");
    let out = imported.out.display();
    assert_eq!(
        imported.import.stdout,
        format!(
            "\
Wrote {out}/feature_definitions.yaml: 2 entities, 4 data sources, 3 feature views, 2 on demand feature views, 4 feature services, 2 permissions
Wrote {out}/feature_store.yaml: project demo, its own registry data/registry.db, and this repo's online store (lmdb at {store})
The two repos share that online store: `edgefeat teardown` in either removes its data.

Next: cd {out} && edgefeat apply
",
            store = repo.join("data/online_store.lmdb").display()
        )
    );
    assert!(
        !imported.apply.stdout.contains("Created lmdb table"),
        "the online store's tables exist already: {}",
        imported.apply.stdout
    );
    assert_same_objects(&repo, &imported.out);
    assert!(imported.out.join("data/registry.db").is_file());

    // The new repo is a repo of its own: applying it again changes nothing, and the source's
    // registry was never written.
    let before = std::fs::read(repo.join("data/registry.db")).unwrap();
    let again = run(&imported.out, &["apply"]).success();
    assert_eq!(
        again.stdout,
        "Applying changes for project demo\nNo changes to registry\n"
    );
    assert_eq!(
        std::fs::read(repo.join("data/registry.db")).unwrap(),
        before
    );
}

#[test]
fn the_imported_repo_serves_the_same_features() {
    let (tmp, repo) = demo_repo();
    crate::support::apply_and_materialize(&repo);
    let imported = import_and_apply(&repo, tmp.path());
    let body = r#"{"feature_service":"driver_activity_v1","entities":{"driver_id":[1001,1002,9999],"val_to_add":[1,2,3],"val_to_add_2":[10,20,30]}}"#;
    let answer = |dir: &Path| {
        let server = Server::start(dir, &[]);
        let r = server.post_json("/get-online-features", body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
    let original = answer(&repo);
    assert!(original.contains("\"PRESENT\""), "{original}");
    assert_eq!(answer(&imported.out), original);
}

#[test]
fn import_refuses_to_overwrite_and_to_write_into_the_repo() {
    let (tmp, repo) = demo_repo();
    let out = tmp.path().join("out");
    let out_arg = out.to_str().unwrap();
    let r = run(&repo, &["import", "--out", out_arg]).failure();
    assert!(
        r.stderr.contains("no registry at") && r.stderr.contains("run `edgefeat apply` first"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing written");

    run(&repo, &["apply"]).success();
    run(&repo, &["import", "--out", out_arg]).success();
    let yaml = out.join("feature_store.yaml");
    std::fs::write(&yaml, "# mine\n").unwrap();
    let r = run(&repo, &["import", "--out", out_arg]).failure();
    assert!(
        r.stderr
            .contains("already exist: pass --force to overwrite"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&yaml).unwrap(), "# mine\n");
    run(&repo, &["import", "--out", out_arg, "--force"]).success();
    assert!(
        std::fs::read_to_string(&yaml)
            .unwrap()
            .contains("project: demo")
    );

    let r = run(&repo, &["import", "--out", "."]).failure();
    assert!(r.stderr.contains("that is this repo"), "{}", r.stderr);
}

#[test]
fn import_warns_about_on_demand_views_without_their_plugin() {
    let (tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    std::fs::remove_file(repo.join("plugins/transformed_conv_rate.wasm")).unwrap();
    let out = tmp.path().join("out");
    let r = run(&repo, &["import", "--out", out.to_str().unwrap()]).success();
    let plugin = repo.join("plugins/transformed_conv_rate.wasm");
    for view in ["transformed_conv_rate", "transformed_conv_rate_fresh"] {
        let warning = format!(
            "warning: on demand feature view `{view}` is computed by plugin `transformed_conv_rate`, and there is no {}: `apply` refuses the view until there is",
            plugin.display()
        );
        assert!(r.stderr.contains(&warning), "{}", r.stderr);
    }
    let r = run(&out, &["apply"]).failure();
    assert!(r.stderr.contains("transformed_conv_rate"), "{}", r.stderr);
}
