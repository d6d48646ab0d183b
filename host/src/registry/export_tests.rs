use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::registry::{Action, Projection, ResourceType, diff_and_merge};
use crate::repo::RepoConfig;
use crate::repo::definitions::load_definitions;
use crate::repo::validate::validate;
use crate::repo::yaml_emit::scalar_text;
use crate::vector::{Metric, VectorIndex};

/// Writes `registry` as definitions into a fresh repo (with an empty file at each file
/// source's path) and validates it as `apply` does: the definitions apply would register.
fn round_trip(registry: &Registry) -> Result<Definitions, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    round_trip_in(dir.path(), registry)
}

fn round_trip_in(repo: &Path, registry: &Registry) -> Result<Definitions, String> {
    for s in registry.data_sources.values() {
        if let SourceKind::File { path, .. } = &s.spec.kind {
            let full = repo.join(path);
            if !full.exists() {
                if let Some(parent) = full.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(&full, b"").map_err(|e| e.to_string())?;
            }
        }
    }
    let exported = export_definitions(registry);
    if !exported.warnings.is_empty() {
        return Err(format!("warnings: {:?}", exported.warnings));
    }
    std::fs::write(repo.join("imported.yaml"), &exported.text).map_err(|e| e.to_string())?;
    let yaml = format!("project: {}\n", scalar_text(&registry.project.spec.name));
    let config = RepoConfig::from_text(repo, &yaml, "test").map_err(|e| e.to_string())?;
    let (files, parse_errors) = load_definitions(&config).map_err(|e| e.to_string())?;
    let (defs, _) = validate(&config, &files, parse_errors).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        format!("{}\n---\n{}", list.join("\n"), exported.text)
    })?;
    Ok(defs)
}

fn registry_of(defs: Definitions) -> Registry {
    let project = defs.project.clone().expect("a project");
    diff_and_merge(None, defs, project, chrono::DateTime::UNIX_EPOCH).0
}

fn field(name: &str, dtype: DType) -> Field {
    Field {
        name: name.into(),
        dtype,
        description: String::new(),
        tags: BTreeMap::new(),
        vector_index: None,
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A small registry of every kind, with a few values YAML misreads when written plain.
fn sample() -> Registry {
    let mut d = Definitions {
        project: Some(Project {
            name: "yes".into(),
            description: String::new(),
            tags: tags(&[("team", "no")]),
            owner: "a@b.c".into(),
        }),
        ..Definitions::default()
    };
    d.entities.insert(
        "driver".into(),
        Entity {
            name: "driver".into(),
            join_key: "driver_id".into(),
            value_type: DType::Int64,
            description: "a driver: the one who drives".into(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.data_sources.insert(
        "stats".into(),
        DataSource {
            name: "stats".into(),
            kind: SourceKind::File {
                path: "data/stats #1.parquet".into(),
                timestamp_field: "event_timestamp".into(),
                created_timestamp_column: "created".into(),
                field_mapping: tags(&[("trips_raw", "trips")]),
            },
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.data_sources.insert(
        "pushed".into(),
        DataSource {
            name: "pushed".into(),
            kind: SourceKind::Push {
                batch_source: "stats".into(),
            },
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.data_sources.insert(
        "req".into(),
        DataSource {
            name: "req".into(),
            kind: SourceKind::Request {
                schema: vec![field("val", DType::Int64)],
            },
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    let mut vector = field("embedding", DType::Array(Box::new(DType::Float32)));
    vector.vector_index = Some(VectorIndex {
        vector_length: 4,
        vector_search_metric: Some(Metric::Cosine),
    });
    d.feature_views.insert(
        "stats_view".into(),
        FeatureView {
            name: "stats_view".into(),
            entities: vec!["driver".into()],
            entity_columns: vec![field("driver_id", DType::Int64)],
            features: vec![
                field("trips", DType::Int64),
                field(
                    "profile",
                    DType::Struct(vec![
                        ("name".into(), DType::String),
                        ("home town".into(), DType::String),
                    ]),
                ),
                vector,
            ],
            ttl_seconds: 90_061,
            batch_source: "stats".into(),
            stream_source: None,
            online: true,
            offline: false,
            description: String::new(),
            tags: tags(&[("on", "off")]),
            owner: String::new(),
        },
    );
    d.feature_views.insert(
        "fresh".into(),
        FeatureView {
            name: "fresh".into(),
            entities: vec![],
            entity_columns: vec![],
            features: vec![field("trips", DType::Int64)],
            ttl_seconds: 0,
            batch_source: "stats".into(),
            stream_source: Some("pushed".into()),
            online: false,
            offline: true,
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.on_demand_feature_views.insert(
        "plus".into(),
        OnDemandFeatureView {
            name: "plus".into(),
            sources: vec![
                OdfvSource::FeatureView("stats_view".into()),
                OdfvSource::RequestSource("req".into()),
            ],
            features: vec![field("trips_plus", DType::Float64)],
            plugin: "adder".into(),
            write_to_online_store: false,
            python_udf: None,
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.feature_services.insert(
        "svc".into(),
        FeatureService {
            name: "svc".into(),
            features: vec![
                Projection {
                    feature_view_name: "stats_view".into(),
                    feature_view_name_alias: None,
                    feature_columns: vec!["trips".into(), "profile".into(), "embedding".into()],
                    join_key_map: BTreeMap::new(),
                },
                Projection {
                    feature_view_name: "stats_view".into(),
                    feature_view_name_alias: Some("other".into()),
                    feature_columns: vec!["trips".into()],
                    join_key_map: tags(&[("driver_id", "rider_id")]),
                },
            ],
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.permissions.insert(
        "readers".into(),
        Permission {
            name: "readers".into(),
            types: vec![ResourceType::FeatureView, ResourceType::FeatureService],
            name_patterns: vec![".*_fresh".into()],
            required_tags: tags(&[("team", "driver")]),
            actions: vec![Action::ReadOnline, Action::ReadOffline],
            policy: Policy::RoleBased {
                roles: vec!["reader".into()],
            },
            tags: BTreeMap::new(),
        },
    );
    registry_of(d)
}

const SAMPLE_TEXT: &str = r#"project:
  name: "yes"
  description: ""
  tags:
    team: "no"
  owner: "a@b.c"

entities:
  - name: driver
    join_keys: [driver_id]
    value_type: Int64
    description: "a driver: the one who drives"

data_sources:
  - name: pushed
    type: push
    batch_source: stats

  - name: req
    type: request
    schema:
      - name: val
        dtype: Int64

  - name: stats
    type: file
    path: "data/stats #1.parquet"
    timestamp_field: event_timestamp
    created_timestamp_column: created
    field_mapping:
      trips_raw: trips

feature_views:
  - name: fresh
    schema:
      - name: trips
        dtype: Int64
    source: pushed
    online: false
    offline: true

  - name: stats_view
    entities: [driver]
    ttl: 1d1h1m1s
    schema:
      - name: trips
        dtype: Int64
      - name: profile
        dtype: "Struct{name: String, \"home town\": String}"
      - name: embedding
        dtype: "Array(Float32)"
        vector_index: true
        vector_length: 4
        vector_search_metric: cosine
    source: stats
    online: true
    offline: false
    tags:
      "on": "off"

on_demand_feature_views:
  - name: plus
    sources: [stats_view, req]
    schema:
      - name: trips_plus
        dtype: Float64
    plugin: adder
    write_to_online_store: false

feature_services:
  - name: svc
    features:
      - view: stats_view
      - view: stats_view
        features: [trips]
        alias: other
        join_key_map:
          driver_id: rider_id

permissions:
  - name: readers
    types: [FeatureView, FeatureService]
    name_patterns: [".*_fresh"]
    required_tags:
      team: driver
    actions: [READ_ONLINE, READ_OFFLINE]
    policy:
      roles: [reader]
"#;

#[test]
fn a_registry_of_every_kind_is_written_as_readable_definitions() {
    let exported = export_definitions(&sample());
    assert_eq!(exported.warnings, Vec::<String>::new());
    assert_eq!(exported.text, SAMPLE_TEXT);
}

#[test]
fn the_written_definitions_apply_to_the_same_specs() {
    let registry = sample();
    assert_eq!(round_trip(&registry).unwrap(), registry.specs());
}

#[test]
fn the_init_demo_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let repo =
        crate::repo::template::init_repo(dir.path(), "demo", crate::types::clock::now()).unwrap();
    let config = RepoConfig::load(&repo, None).unwrap();
    let (files, errors) = load_definitions(&config).unwrap();
    let (defs, project) = validate(&config, &files, errors).unwrap();
    let registry = diff_and_merge(None, defs, project, chrono::Utc::now()).0;
    std::fs::remove_file(repo.join("feature_definitions.yaml")).unwrap();
    assert_eq!(round_trip_in(&repo, &registry).unwrap(), registry.specs());
}

#[test]
fn dtypes_quote_struct_field_names_that_are_not_identifiers() {
    let s = |fields: &[(&str, DType)]| {
        DType::Struct(
            fields
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect(),
        )
    };
    let cases = [
        (s(&[("a_1", DType::Int64)]), "Struct{a_1: Int64}"),
        (s(&[("a b", DType::Bool)]), r#"Struct{"a b": Bool}"#),
        (
            s(&[("say \"hi\"", DType::Map)]),
            r#"Struct{'say "hi"': Map}"#,
        ),
        (
            DType::Array(Box::new(s(&[("x:}", DType::Array(Box::new(DType::Json)))]))),
            r#"Array(Struct{"x:}": Array(Json)})"#,
        ),
    ];
    for (dtype, text) in cases {
        assert_eq!(dtype_text(&dtype).unwrap(), text);
        assert_eq!(DType::parse(text).unwrap(), dtype);
    }
    assert!(dtype_text(&DType::Struct(vec![])).is_err());
    assert!(dtype_text(&s(&[("", DType::Int64)])).is_err());
    assert!(dtype_text(&s(&[("both \" and '", DType::Int64)])).is_err());
}

#[test]
fn what_the_definitions_cannot_say_is_warned_about() {
    let mut r = sample();
    // A key column other than the entity's join key.
    let view = &mut r.feature_views.get_mut("stats_view").unwrap().spec;
    view.entity_columns[0].dtype = DType::String;
    view.entity_columns[0].description = "the key".into();
    // A pushed view materialized from another file source than its push source's.
    let fresh = &mut r.feature_views.get_mut("fresh").unwrap().spec;
    fresh.batch_source = "elsewhere".into();
    // A feature named like a join key.
    fresh.entities = vec!["driver".into()];
    fresh.entity_columns = vec![field("driver_id", DType::Int64)];
    fresh.features.push(field("driver_id", DType::Int64));
    // A request source named like a feature view, an action twice, an empty struct.
    let odfv = &mut r.on_demand_feature_views.get_mut("plus").unwrap().spec;
    odfv.sources.push(OdfvSource::RequestSource("fresh".into()));
    odfv.features[0].dtype = DType::Struct(vec![]);
    let perm = &mut r.permissions.get_mut("readers").unwrap().spec;
    perm.actions.push(Action::ReadOnline);
    let warnings = export_definitions(&r).warnings;
    let expected = [
        "feature view `fresh`: feature `driver_id` is named like a join key",
        "feature view `fresh`: batch source `elsewhere` differs from push source `pushed`'s `stats`",
        "feature view `stats_view`: key column `driver_id` (String) of entity `driver` differs",
        "feature view `stats_view`: the description, tags and vector index of key column `driver_id`",
        "on demand feature view `plus`: request source `fresh` has the name of a feature view",
        "on demand feature view `plus`, field `trips_plus`: dtype Struct{} has no definitions form",
        "permission `readers`: action READ_ONLINE is listed twice",
    ];
    assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
    for (w, e) in warnings.iter().zip(expected) {
        assert!(w.starts_with(e), "{w}\nexpected to start with\n{e}");
    }
}

// The property test: every free-text value drawn from strings YAML misreads, any Unicode, and
// names from the whole name alphabet, placed in every field of every kind of object.

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "", " ", "yes", "No", "on", "null", "~", "true", "1", "-1.5", "0x1f", "1e3", "12:30",
            "a: b", "a #b", "#", "- x", "[x]", "{x}", "'q'", "\"q\"", "\\", "\n", "\t tab",
            "\u{85}", "\u{2028}", "\u{feff}", "ünï", "日本", "🦀",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

/// Valid object names, YAML's special words among them.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "yes", "no", "y", "n", "on", "off", "null", "true", "False", "1", "1e3", "0x1", "-",
            "-a", ".5", ".inf", "_", "a.b", "12-30",
        ])
        .prop_map(str::to_string),
        "[A-Za-z0-9_.-]{1,8}",
    ]
}

fn dtype() -> impl Strategy<Value = DType> {
    let leaf = prop::sample::select(vec![
        DType::Float32,
        DType::Float64,
        DType::Int32,
        DType::Int64,
        DType::String,
        DType::Bytes,
        DType::Bool,
        DType::UnixTimestamp,
        DType::Map,
        DType::Json,
    ]);
    let field_name = any::<String>().prop_filter("expressible", |s| {
        !(s.is_empty() || s.contains('"') && s.contains('\''))
    });
    leaf.prop_recursive(3, 12, 3, move |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| DType::Array(Box::new(t))),
            prop::collection::btree_map(field_name.clone(), inner, 1..3)
                .prop_map(|m| DType::Struct(m.into_iter().collect())),
        ]
    })
}

fn key_dtype() -> impl Strategy<Value = DType> {
    prop::sample::select(vec![
        DType::Int32,
        DType::Int64,
        DType::String,
        DType::Bytes,
        DType::UnixTimestamp,
    ])
}

fn text_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(text(), text(), 0..3)
}

/// A file name for the file source, from characters a file name may hold.
fn file_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z #:'\"é日\\-]{1,8}(/[a-z #:]{1,4})?\\.parquet",
        Just("yes".to_string()),
        Just(" lead".to_string()),
    ]
}

/// The generated parts of a registry; [`build`] places them.
#[derive(Debug, Clone)]
struct Parts {
    project: String,
    /// Distinct names for the objects, fields and aliases.
    names: Vec<String>,
    texts: Vec<String>,
    maps: Vec<BTreeMap<String, String>>,
    dtypes: Vec<DType>,
    keys: (DType, DType),
    path: String,
    ttl: u64,
    flags: [bool; 4],
    vector: (u32, Option<Metric>, bool),
    types: Vec<ResourceType>,
    actions: Vec<Action>,
    policy: u8,
}

fn parts() -> impl Strategy<Value = Parts> {
    let project = prop_oneof![
        prop::sample::select(vec!["yes", "null", "1e3", "on"]).prop_map(str::to_string),
        "[a-z0-9][a-z0-9_-]{0,8}",
    ];
    (
        (
            project,
            prop::collection::btree_set(name(), 20).prop_map(|s| s.into_iter().collect::<Vec<_>>()),
            prop::collection::vec(text(), 24),
            prop::collection::vec(text_map(), 20),
            prop::collection::vec(dtype(), 4),
            (key_dtype(), key_dtype()),
        ),
        (
            file_path(),
            any::<u64>(),
            any::<[bool; 4]>(),
            (
                1..=crate::vector::MAX_VECTOR_LENGTH,
                prop::option::of(prop::sample::select(Metric::ALL.to_vec())),
                any::<bool>(),
            ),
            prop::collection::vec(prop::sample::select(ResourceType::ALL.to_vec()), 0..4),
            prop::sample::subsequence(Action::ALL.to_vec(), 0..=8),
            0u8..5,
        ),
    )
        .prop_map(
            |(
                (project, names, texts, maps, dtypes, keys),
                (path, ttl, flags, vector, types, actions, policy),
            )| Parts {
                project,
                names,
                texts,
                maps,
                dtypes,
                keys,
                path,
                ttl,
                flags,
                vector,
                types,
                actions,
                policy,
            },
        )
}

/// Every kind of object, every field set, from `p`.
fn build(p: &Parts) -> Definitions {
    let n = |i: usize| p.names[i].clone();
    let t = |i: usize| p.texts[i].clone();
    let m = |i: usize| p.maps[i].clone();
    let with = |f: Field, i: usize| Field {
        description: t(i),
        tags: m(i),
        ..f
    };
    let (e1, e2, file, push, req, v1, v2, odfv, svc, perm) =
        (n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9));
    let (f1, f2, f3, vec_field, alias, plugin) = (n(10), n(11), n(12), n(13), n(14), n(15));
    // Join keys are free text, kept apart from the feature names.
    let (k1, k2) = (format!("{}\u{1}", t(0)), format!("{}\u{2}", t(1)));
    let mut d = Definitions {
        project: Some(Project {
            name: p.project.clone(),
            description: t(2),
            tags: m(0),
            owner: t(3),
        }),
        ..Definitions::default()
    };
    for (e, k, dtype, i) in [(&e1, &k1, &p.keys.0, 4), (&e2, &k2, &p.keys.1, 5)] {
        d.entities.insert(
            e.clone(),
            Entity {
                name: e.clone(),
                join_key: k.clone(),
                value_type: dtype.clone(),
                description: t(i),
                tags: m(i),
                owner: t(i + 2),
            },
        );
    }
    let source = |name: &String, kind: SourceKind, i: usize| DataSource {
        name: name.clone(),
        kind,
        description: t(i),
        tags: m(i),
        owner: t(i + 1),
    };
    d.data_sources.insert(
        file.clone(),
        source(
            &file,
            SourceKind::File {
                path: PathBuf::from(&p.path),
                timestamp_field: t(8),
                created_timestamp_column: t(9),
                field_mapping: m(3),
            },
            10,
        ),
    );
    d.data_sources.insert(
        push.clone(),
        source(
            &push,
            SourceKind::Push {
                batch_source: file.clone(),
            },
            11,
        ),
    );
    d.data_sources.insert(
        req.clone(),
        source(
            &req,
            SourceKind::Request {
                schema: vec![with(field(&f1, p.dtypes[0].clone()), 12)],
            },
            12,
        ),
    );
    let (length, metric, float64) = p.vector;
    let mut vector = field(
        &vec_field,
        DType::Array(Box::new(if float64 {
            DType::Float64
        } else {
            DType::Float32
        })),
    );
    vector.vector_index = Some(VectorIndex {
        vector_length: length,
        vector_search_metric: metric,
    });
    let v1_features = vec![
        with(field(&f1, p.dtypes[1].clone()), 13),
        field(&f2, p.dtypes[2].clone()),
        vector,
    ];
    d.feature_views.insert(
        v1.clone(),
        FeatureView {
            name: v1.clone(),
            entities: vec![e1.clone(), e2.clone()],
            entity_columns: vec![field(&k1, p.keys.0.clone()), field(&k2, p.keys.1.clone())],
            features: v1_features.clone(),
            ttl_seconds: p.ttl,
            batch_source: file.clone(),
            stream_source: None,
            online: p.flags[0],
            offline: p.flags[1],
            description: t(14),
            tags: m(4),
            owner: t(15),
        },
    );
    d.feature_views.insert(
        v2.clone(),
        FeatureView {
            name: v2.clone(),
            entities: vec![],
            entity_columns: vec![],
            features: vec![field(&f3, p.dtypes[3].clone())],
            ttl_seconds: 0,
            batch_source: file.clone(),
            stream_source: Some(push.clone()),
            online: true,
            offline: false,
            description: String::new(),
            tags: BTreeMap::new(),
            owner: String::new(),
        },
    );
    d.on_demand_feature_views.insert(
        odfv.clone(),
        OnDemandFeatureView {
            name: odfv.clone(),
            sources: vec![
                OdfvSource::FeatureView(v1.clone()),
                OdfvSource::RequestSource(req.clone()),
            ],
            features: vec![with(field(&f3, p.dtypes[0].clone()), 16)],
            plugin,
            write_to_online_store: p.flags[2],
            python_udf: None,
            description: t(17),
            tags: m(5),
            owner: t(18),
        },
    );
    d.feature_services.insert(
        svc.clone(),
        FeatureService {
            name: svc.clone(),
            features: vec![
                Projection {
                    feature_view_name: v1.clone(),
                    feature_view_name_alias: None,
                    feature_columns: v1_features.iter().map(|f| f.name.clone()).collect(),
                    join_key_map: BTreeMap::new(),
                },
                Projection {
                    feature_view_name: v1.clone(),
                    feature_view_name_alias: Some(alias),
                    feature_columns: vec![f2.clone()],
                    join_key_map: m(6),
                },
                Projection {
                    feature_view_name: odfv.clone(),
                    feature_view_name_alias: None,
                    feature_columns: if p.flags[3] { vec![] } else { vec![f3.clone()] },
                    join_key_map: BTreeMap::new(),
                },
            ],
            description: t(19),
            tags: m(7),
            owner: t(20),
        },
    );
    let lists = |i: usize| vec![t(i), t(i + 1)];
    d.permissions.insert(
        perm.clone(),
        Permission {
            name: perm,
            types: p.types.clone(),
            name_patterns: vec![regex::escape(&t(21))],
            required_tags: m(8),
            actions: p.actions.clone(),
            policy: match p.policy {
                0 => Policy::AllowAll,
                1 => Policy::RoleBased { roles: lists(21) },
                2 => Policy::GroupBased { groups: lists(22) },
                3 => Policy::NamespaceBased {
                    namespaces: lists(20),
                },
                _ => Policy::CombinedGroupNamespace {
                    groups: lists(19),
                    namespaces: vec![],
                },
            },
            tags: m(9),
        },
    );
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_registry_the_definitions_can_hold_round_trips_through_apply(p in parts()) {
        let registry = registry_of(build(&p));
        let back = round_trip(&registry).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, registry.specs());
    }
}
