//! Golden messages for every kind of validation problem: each case adds one file to a valid
//! repo (the `init` template) and checks the exact diagnostics.

use super::*;
use crate::repo::definitions::load_definitions;
use crate::repo::template::init_repo;

fn template_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T04:00:00Z")
        .unwrap()
        .to_utc();
    let repo = init_repo(tmp.path(), "demo", now).unwrap();
    (tmp, repo)
}

/// Validates the template repo plus `extra.yaml`, returning the rendered problems.
fn problems(extra: &str) -> Vec<String> {
    let (_tmp, repo) = template_repo();
    // `zz_` sorts after the template's file, so duplicates are blamed on the added one. A
    // case starting with `#replace` replaces the template's definitions instead.
    match extra.strip_prefix("#replace\n") {
        Some(defs) => std::fs::write(repo.join("feature_definitions.yaml"), defs).unwrap(),
        None => std::fs::write(repo.join("zz_extra.yaml"), extra).unwrap(),
    }
    let config = RepoConfig::load(&repo, None).unwrap();
    let (files, errors) = load_definitions(&config).unwrap();
    match validate(&config, &files, errors) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_template_is_valid() {
    assert_eq!(problems(""), Vec::<String>::new());
}

#[test]
fn the_template_infers_the_entity_key_type_from_the_parquet_file() {
    let (_tmp, repo) = template_repo();
    let config = RepoConfig::load(&repo, None).unwrap();
    let (files, errors) = load_definitions(&config).unwrap();
    let (defs, project) = validate(&config, &files, errors).unwrap();
    assert_eq!(project.name, "demo");
    assert_eq!(project.description, "A project for driver statistics");
    let driver = &defs.entities["driver"];
    assert_eq!(
        (driver.join_key.as_str(), &driver.value_type),
        ("driver_id", &DType::Int64)
    );
    let fv = &defs.feature_views["driver_hourly_stats_fresh"];
    assert_eq!(fv.entity_columns[0].dtype, DType::Int64);
    assert_eq!(fv.batch_source, "driver_hourly_stats_source");
    assert_eq!(
        fv.stream_source.as_deref(),
        Some("driver_stats_push_source")
    );
    assert_eq!(fv.ttl_seconds, 86_400);
    assert_eq!(
        defs.feature_services["driver_activity_v1"].features[0].feature_columns,
        ["conv_rate"]
    );
}

/// (what the case checks, the extra file, the expected diagnostics)
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "yaml shape: unknown field",
        "entities:\n  - name: rider\n    join_kes: [rider_id]\n",
        &[
            "zz_extra.yaml:3:5: error: unknown field `join_kes`, expected one of name, join_keys, join_key, value_type, description, tags, owner\n  help: see docs/definitions.md for the shape of each section",
        ],
    ),
    (
        "yaml syntax",
        "entities:\n  - name: rider\n   join_key: rider_id\n",
        &[
            "zz_extra.yaml:3:4: error: while parsing a block collection, did not find expected '-' indicator\n  help: see docs/definitions.md for the shape of each section",
        ],
    ),
    (
        "duplicate name across files",
        "entities:\n  - name: driver\n    join_keys: [driver_id]\n",
        &[
            "zz_extra.yaml:2:11: error: duplicate entity `driver`\n  help: it is already defined at feature_definitions.yaml:10; names must be unique: rename or remove one",
        ],
    ),
    (
        "invalid name",
        "entities:\n  - name: \"my driver\"\n    value_type: Int64\n",
        &[
            "zz_extra.yaml:2:11: error: invalid entity name `my driver`\n  help: use letters, digits, `_`, `-` and `.` only",
        ],
    ),
    (
        "feature view and odfv share a name",
        "on_demand_feature_views:\n  - name: driver_hourly_stats\n    sources: [vals_to_add]\n    schema:\n      - {name: out, dtype: Int64}\n",
        &[
            "zz_extra.yaml:2:11: error: name `driver_hourly_stats` is used by both a feature view and an on demand feature view\n  help: the feature view is at feature_definitions.yaml:37; feature references look views up by name, so rename one",
        ],
    ),
    (
        "second project section",
        "project:\n  name: demo\n",
        &[
            "zz_extra.yaml:2:9: error: a second `project:` section\n  help: the project is already declared at feature_definitions.yaml:5; keep one",
        ],
    ),
    (
        "project name mismatch",
        "#replace\nproject:\n  name: other\n",
        &[
            "feature_definitions.yaml:2:9: error: project `other` does not match `project: demo` in feature_store.yaml\n  help: a repo holds one project: make the two names equal",
        ],
    ),
    (
        "both join_keys and join_key",
        "entities:\n  - name: rider\n    join_keys: [rider_id]\n    join_key: rider_id\n    value_type: Int64\n",
        &["zz_extra.yaml:3:16: error: both `join_keys` and `join_key` are given\n  help: keep one"],
    ),
    (
        "several join keys",
        "entities:\n  - name: rider\n    join_keys: [a, b]\n    value_type: Int64\n",
        &[
            "zz_extra.yaml:3:16: error: entity `rider` has 2 join keys\n  help: Feast supports exactly one join key per entity; for a composite key, declare one entity per key and list them all in the feature view",
        ],
    ),
    (
        "entity key type that cannot be a key",
        "entities:\n  - name: rider\n    value_type: Float32\n",
        &[
            "zz_extra.yaml:3:17: error: `Float32` cannot be an entity key type\n  help: entity keys are serialized as Int32, Int64, String, Bytes or UnixTimestamp (entity key serialization v3)",
        ],
    ),
    (
        "entity key type that cannot be inferred",
        "entities:\n  - name: rider\n",
        &[
            "zz_extra.yaml:2:11: error: cannot infer the type of join key `rider` of entity `rider`\n  help: no feature view using it has a source file with that column; declare it, e.g. `value_type: Int64`",
        ],
    ),
    (
        "unknown data source type",
        "data_sources:\n  - name: s\n    type: kafka\n",
        &[
            "zz_extra.yaml:3:11: error: unknown data source type `kafka`\n  help: use `file` (parquet), `push` or `request`",
        ],
    ),
    (
        "field that does not apply to the source type",
        "data_sources:\n  - name: s\n    type: push\n    batch_source: driver_hourly_stats_source\n    path: x.parquet\n",
        &[
            "zz_extra.yaml:5:11: error: `path` does not apply to a push source\n  help: a push source takes: batch_source",
        ],
    ),
    (
        "file source without path",
        "data_sources:\n  - name: s\n    type: file\n    timestamp_field: ts\n",
        &[
            "zz_extra.yaml:2:11: error: file source `s` has no `path`\n  help: add `path:`, e.g. `path: data/my_data.parquet`",
        ],
    ),
    (
        "file source without timestamp_field",
        "data_sources:\n  - name: s\n    type: file\n    path: data/driver_stats.parquet\n",
        &[
            "zz_extra.yaml:2:11: error: file source `s` has no `timestamp_field`\n  help: name the event-time column, e.g. `timestamp_field: event_timestamp`",
        ],
    ),
    (
        "source file missing",
        "data_sources:\n  - name: s\n    type: file\n    path: data/missing.parquet\n    timestamp_field: ts\n",
        &[
            "zz_extra.yaml:4:11: error: source file `data/missing.parquet` does not exist\n  help: paths are relative to the repo directory; create the file or fix the path",
        ],
    ),
    (
        "push source without batch_source",
        "data_sources:\n  - name: s\n    type: push\n",
        &[
            "zz_extra.yaml:2:11: error: push source `s` has no `batch_source`\n  help: name the file source that keeps pushed rows offline, e.g. `batch_source: my_file_source`",
        ],
    ),
    (
        "push source with unknown batch source",
        "data_sources:\n  - name: s\n    type: push\n    batch_source: nope\n",
        &[
            "zz_extra.yaml:4:19: error: push source `s` references unknown data source `nope`\n  help: defined file sources: driver_hourly_stats_source",
        ],
    ),
    (
        "push source whose batch source is not a file",
        "data_sources:\n  - name: s\n    type: push\n    batch_source: vals_to_add\n",
        &[
            "zz_extra.yaml:4:19: error: batch source `vals_to_add` is a request source\n  help: a push source's batch_source must be a file source",
        ],
    ),
    (
        "request source without schema",
        "data_sources:\n  - name: s\n    type: request\n",
        &[
            "zz_extra.yaml:2:11: error: request source `s` has no `schema`\n  help: list the request fields, e.g. `schema: [{name: val_to_add, dtype: Int64}]`",
        ],
    ),
    (
        "bad dtype",
        "data_sources:\n  - name: s\n    type: request\n    schema:\n      - {name: a, dtype: int64}\n",
        &[
            "zz_extra.yaml:5:26: error: invalid dtype `int64`: unknown type `int64`; did you mean `Int64`? valid types are Float32, Float64, Int32, Int64, String, Bytes, Bool, UnixTimestamp, Map, Json, Array(T) and Struct{field: T, ...}\n  help: see docs/definitions.md#types",
        ],
    ),
    (
        "struct dtype not closed",
        "data_sources:\n  - name: s\n    type: request\n    schema:\n      - name: a\n        dtype: Struct{a:Int64\n",
        &[
            "zz_extra.yaml:6:16: error: invalid dtype `Struct{a:Int64`: expected `}` or `,` between struct fields, found the end of the text\n  help: see docs/definitions.md#types",
        ],
    ),
    (
        "struct dtype left unquoted",
        "data_sources:\n  - name: s\n    type: request\n    schema:\n      - name: a\n        dtype: Struct{a: Int64}\n",
        &[
            "zz_extra.yaml:6:24: error: mapping values are not allowed in this context\n  help: a plain YAML value cannot contain `: `; quote it, e.g. dtype: \"Struct{name: String}\"",
        ],
    ),
    (
        "duplicate field",
        "data_sources:\n  - name: s\n    type: request\n    schema:\n      - {name: a, dtype: Int64}\n      - {name: a, dtype: String}\n",
        &[
            "zz_extra.yaml:6:16: error: field `a` appears twice in the schema of request source `s`\n  help: remove or rename one of them",
        ],
    ),
    (
        "feature view with unknown entity",
        "feature_views:\n  - name: v\n    entities: [rider]\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:3:16: error: feature view `v` references unknown entity `rider`\n  help: declare it under `entities:`; defined entities: driver",
        ],
    ),
    (
        "feature view listing an entity twice",
        "feature_views:\n  - name: v\n    entities: [driver, driver]\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:3:24: error: entity `driver` is listed twice\n  help: list each entity once",
        ],
    ),
    (
        "feature view with unknown source",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: nope\n",
        &[
            "zz_extra.yaml:6:13: error: feature view `v` references unknown data source `nope`\n  help: declare it under `data_sources:`; defined data sources: driver_hourly_stats_source, driver_stats_push_source, vals_to_add",
        ],
    ),
    (
        "feature view reading a request source",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: vals_to_add\n",
        &[
            "zz_extra.yaml:6:13: error: feature view `v` cannot read from request source `vals_to_add`\n  help: request sources feed on demand feature views; a feature view's source is a file or push source",
        ],
    ),
    (
        "feature view without features",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - {name: driver_id, dtype: Int64}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:2:11: error: feature view `v` has no features\n  help: list at least one feature in `schema:`",
        ],
    ),
    (
        "feature view column not in the source file",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - {name: conv_rat, dtype: Float32}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:5:16: error: column `conv_rat` used by feature view `v` is not in source `driver_hourly_stats_source` (data/driver_stats.parquet)\n  help: its columns are: acc_rate, avg_daily_trips, conv_rate, created, driver_config, driver_id, driver_metadata, driver_profile, event_timestamp; fix the name or add a `field_mapping`",
        ],
    ),
    (
        "bad ttl",
        "feature_views:\n  - name: v\n    entities: [driver]\n    ttl: 1 day\n    schema:\n      - {name: conv_rate, dtype: Float32}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:4:10: error: invalid duration `1 day`: unknown unit `day`; write a number with a unit, e.g. `1d`, `12h`, `2h30m`, `90s` (units w, d, h, m, s; `0` means forever)\n  help: e.g. `ttl: 1d`",
        ],
    ),
    (
        "odfv without sources",
        "on_demand_feature_views:\n  - name: o\n    sources: []\n    schema:\n      - {name: out, dtype: Float64}\n",
        &[
            "zz_extra.yaml:2:11: error: on demand feature view `o` has no sources\n  help: list feature views and request sources under `sources:`",
        ],
    ),
    (
        "odfv with unknown source",
        "on_demand_feature_views:\n  - name: o\n    sources: [nope]\n    schema:\n      - {name: out, dtype: Float64}\n",
        &[
            "zz_extra.yaml:3:15: error: on demand feature view `o` references unknown source `nope`\n  help: defined feature views: driver_hourly_stats, driver_hourly_stats_fresh; defined request sources: vals_to_add",
        ],
    ),
    (
        "odfv reading a file source",
        "on_demand_feature_views:\n  - name: o\n    sources: [driver_hourly_stats_source]\n    schema:\n      - {name: out, dtype: Float64}\n",
        &[
            "zz_extra.yaml:3:15: error: on demand feature view `o` cannot read from file source `driver_hourly_stats_source`\n  help: its sources are feature views and request sources; read the feature view fed by that source instead",
        ],
    ),
    (
        "odfv without outputs",
        "on_demand_feature_views:\n  - name: o\n    sources: [vals_to_add]\n    schema: []\n",
        &[
            "zz_extra.yaml:2:11: error: on demand feature view `o` has no output features\n  help: list its outputs in `schema:`",
        ],
    ),
    (
        "feature service with unknown view",
        "feature_services:\n  - name: s\n    features:\n      - view: nope\n",
        &[
            "zz_extra.yaml:4:15: error: feature service `s` references unknown view `nope`\n  help: defined views: driver_hourly_stats, driver_hourly_stats_fresh, transformed_conv_rate, transformed_conv_rate_fresh",
        ],
    ),
    (
        "feature service selecting a missing feature",
        "feature_services:\n  - name: s\n    features:\n      - view: driver_hourly_stats\n        features: [conv_rat]\n",
        &[
            "zz_extra.yaml:5:20: error: feature service `s` selects `conv_rat`, which view `driver_hourly_stats` does not have\n  help: features of `driver_hourly_stats`: conv_rate, acc_rate, avg_daily_trips, driver_metadata, driver_config, driver_profile",
        ],
    ),
    (
        "feature service serving a view twice",
        "feature_services:\n  - name: s\n    features:\n      - view: driver_hourly_stats\n      - view: driver_hourly_stats\n",
        &[
            "zz_extra.yaml:5:15: error: feature service `s` serves `driver_hourly_stats` twice\n  help: it is already projected at line 4; give one projection an `alias`",
        ],
    ),
    (
        "feature service selecting nothing",
        "feature_services:\n  - name: s\n    features: []\n",
        &[
            "zz_extra.yaml:2:11: error: feature service `s` selects nothing\n  help: list views under `features:`, e.g. `- view: my_view`",
        ],
    ),
    (
        "permission with unknown type",
        "permissions:\n  - name: p\n    types: [FeatureVew]\n    actions: [READ_ONLINE]\n",
        &[
            "zz_extra.yaml:3:13: error: unknown resource type `FeatureVew`\n  help: use ALL_RESOURCE_TYPES or one of: FeatureView, OnDemandFeatureView, BatchFeatureView, StreamFeatureView, Entity, FeatureService, DataSource, ValidationReference, SavedDataset, Permission, Project, LabelView",
        ],
    ),
    (
        "permission with unknown action",
        "permissions:\n  - name: p\n    types: [FeatureView]\n    actions: [READ_ONLNE]\n",
        &[
            "zz_extra.yaml:4:15: error: unknown action `READ_ONLNE`\n  help: use ALL_ACTIONS, READ, WRITE, CRUD or one of: CREATE, DESCRIBE, UPDATE, DELETE, READ_ONLINE, READ_OFFLINE, WRITE_ONLINE, WRITE_OFFLINE",
        ],
    ),
    (
        "permission with a bad pattern",
        "permissions:\n  - name: p\n    types: [FeatureView]\n    actions: [READ]\n    name_patterns: [\"([\"]\n",
        &[
            "zz_extra.yaml:5:21: error: name pattern `([` is not a valid regular expression: unclosed character class\n  help: name_patterns are regular expressions matched against resource names, e.g. `driver_.*`",
        ],
    ),
    (
        "permission policy mixing roles and groups",
        "permissions:\n  - name: p\n    types: [ALL_RESOURCE_TYPES]\n    actions: [ALL_ACTIONS]\n    policy:\n      roles: [reader]\n      groups: [g]\n",
        &[
            "zz_extra.yaml:6:7: error: a policy cannot combine `roles` with `groups` or `namespaces`\n  help: Feast policies are role based, group based, namespace based, or groups and namespaces combined: split it into two permissions",
        ],
    ),
    (
        "vector keys on a field that is not a vector field",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - name: conv_rate\n        dtype: Float32\n        vector_search_metric: cosine\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:7:31: error: field `conv_rate` of feature view `v` sets `vector_search_metric` but is not a vector field\n  help: add `vector_index: true` to search it, or remove the key",
        ],
    ),
    (
        "a vector field in a request source",
        "data_sources:\n  - name: r\n    type: request\n    schema:\n      - {name: e, dtype: Array(Float32), vector_index: true, vector_length: 2}\n",
        &[
            "zz_extra.yaml:5:56: error: field `e` of request source `r` cannot be a vector field\n  help: only a feature view's features are searchable; remove `vector_index`",
        ],
    ),
    (
        "a vector field with a bad length and metric",
        "feature_views:\n  - name: v\n    entities: [driver]\n    schema:\n      - {name: conv_rate, dtype: Array(Float32), vector_index: true, vector_length: 0, vector_search_metric: hamming}\n    source: driver_hourly_stats_source\n",
        &[
            "zz_extra.yaml:5:85: error: vector field `conv_rate` of feature view `v` has vector_length 0\n  help: a vector holds from 1 to 65536 numbers",
            "zz_extra.yaml:5:110: error: vector field `conv_rate` of feature view `v` has unknown vector_search_metric `hamming`\n  help: use one of `L2`, `cosine`, `inner_product`",
        ],
    ),
];

#[test]
fn every_validation_problem_has_a_golden_message() {
    let mut failures = Vec::new();
    for (what, extra, want) in CASES {
        let got = problems(extra);
        if got != *want {
            failures.push(format!("--- {what}\n{got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
