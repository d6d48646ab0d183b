//! Reading a Feast `registry.db` into edgefeat's registry model.
//!
//! The file is one serialized `feast.core.Registry` (no header, no length prefix), holding the
//! objects of every project; each object's `spec.project` says whose it is (copies of data
//! sources embedded in views carry an empty project). What the model needs and where Feast
//! keeps it:
//!
//! - **Key types** come from each view's `entity_columns`: Feast leaves an entity's own
//!   `value_type` unset (INVALID) unless the definitions set it.
//! - **Struct fields** carry their schema in the tag `feast:struct_schema`, a JSON object from
//!   field name to an upper-case value-type name (`{"name": "STRING", "age": "INT64"}`), in
//!   declaration order.
//! - **Projections** name the selected features; their `timestamp_field` is filled by Feast
//!   with the source's created column, so it is never read (the view's source is the truth).
//! - **`__dummy`** (join key `__dummy_id`) is an entity Feast adds for views without entities;
//!   it is not a user's entity and is left out.
//! - **Serving gates**: a `disabled` view, or one whose `meta.state` is neither unspecified
//!   (after `apply`) nor `AVAILABLE_ONLINE` (after `materialize`), is refused by Feast, and so
//!   here (`Registry::not_served`), with Feast's message. So are the kinds edgefeat does not
//!   serve yet: stream feature views and label views.
//! - **On-demand views** keep their Python function (pickled by dill, runnable only by
//!   Python); edgefeat computes them with the WASM plugin of the view's name instead.
//!
//! A file caught while Feast rewrites it (Feast writes in place) is empty or cut short: the
//! first fails here ("empty"), the second fails to decode or lacks the project's record
//! (Feast writes `projects` after every object), and the caller keeps the registry it has.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use prost::Message as _;

use crate::proto::feast::core as pb;
use crate::proto::feast::types::value_type::Enum as PbType;
use crate::registry::{
    Action, DataSource, Entity, FeatureService, FeatureView, Field, MaterializationInterval, Meta,
    OdfvSource, OnDemandFeatureView, Permission, Policy, Project, Projection, PythonUdf, Registry,
    ResourceType, SourceKind, Stored,
};
use crate::types::DType;
use crate::vector::{Metric, VectorIndex};

use super::FEAST_FORMAT;

/// The entity Feast adds for views without entities.
const DUMMY_ENTITY: &str = "__dummy";
/// The tag holding a struct field's schema.
const STRUCT_SCHEMA_TAG: &str = "feast:struct_schema";

/// Decodes a Feast registry file's bytes into the registry of `project`.
pub fn decode_registry(bytes: &[u8], project: &str, path: &Path) -> Result<Registry> {
    if bytes.is_empty() {
        bail!(
            "Feast registry {} is empty (being rewritten by `feast apply`?)",
            path.display()
        );
    }
    let raw = pb::Registry::decode(bytes).map_err(|e| {
        anyhow!(
            "{} is neither an edgefeat registry nor a readable Feast registry (damaged, or caught while Feast rewrote it): {e}",
            path.display()
        )
    })?;
    convert(raw, project).with_context(|| format!("Feast registry {}", path.display()))
}

fn convert(raw: pb::Registry, project: &str) -> Result<Registry> {
    let ours = |p: &str| p == project;
    let project_record = raw
        .projects
        .iter()
        .filter_map(|p| p.spec.as_ref().map(|s| (s, p.meta.as_ref())))
        .find(|(s, _)| s.name == project);
    let Some((spec, meta)) = project_record else {
        let mut known: Vec<&str> = raw
            .projects
            .iter()
            .filter_map(|p| p.spec.as_ref().map(|s| s.name.as_str()))
            .collect();
        known.sort_unstable();
        bail!(
            "it holds no project `{project}` (projects: {}); check `project:` in feature_store.yaml, or the file was cut short while Feast rewrote it",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let project_meta = meta.map_or_else(epoch_meta, |m| {
        meta_of(
            m.created_timestamp.as_ref(),
            m.last_updated_timestamp.as_ref(),
        )
    });
    let mut registry = Registry {
        format: FEAST_FORMAT.to_string(),
        format_version: 0,
        serial: 0,
        last_updated: ts(raw.last_updated.as_ref()),
        project: Stored {
            spec: Project {
                name: spec.name.clone(),
                description: spec.description.clone(),
                tags: sorted(&spec.tags),
                owner: spec.owner.clone(),
            },
            meta: project_meta,
        },
        entities: BTreeMap::new(),
        data_sources: BTreeMap::new(),
        feature_views: BTreeMap::new(),
        on_demand_feature_views: BTreeMap::new(),
        feature_services: BTreeMap::new(),
        permissions: BTreeMap::new(),
        not_served: BTreeMap::new(),
    };

    for ds in raw.data_sources.iter().filter(|d| ours(&d.project)) {
        add_source(&mut registry, ds)?;
    }
    for fv in &raw.feature_views {
        let Some(spec) = fv.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        let view = feature_view(&mut registry, spec)
            .with_context(|| format!("feature view `{}`", spec.name))?;
        let meta = fv.meta.clone().unwrap_or_default();
        if let Some(why) = feature_view_gate(&spec.name, spec.disabled, meta.state) {
            registry.not_served.insert(spec.name.clone(), why);
        }
        let mut stored_meta = meta_of(
            meta.created_timestamp.as_ref(),
            meta.last_updated_timestamp.as_ref(),
        );
        stored_meta.materialization_intervals = meta
            .materialization_intervals
            .iter()
            .map(|i| MaterializationInterval {
                start_time: ts(i.start_time.as_ref()),
                end_time: ts(i.end_time.as_ref()),
            })
            .collect();
        registry.feature_views.insert(
            view.name.clone(),
            Stored {
                spec: view,
                meta: stored_meta,
            },
        );
    }
    for odfv in &raw.on_demand_feature_views {
        let Some(spec) = odfv.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        let view = on_demand_view(&mut registry, spec)
            .with_context(|| format!("on demand feature view `{}`", spec.name))?;
        if spec.disabled {
            registry.not_served.insert(
                spec.name.clone(),
                format!(
                    "On demand feature view {} is disabled and cannot serve features",
                    spec.name
                ),
            );
        }
        let meta = odfv.meta.clone().unwrap_or_default();
        registry.on_demand_feature_views.insert(
            view.name.clone(),
            Stored {
                spec: view,
                meta: meta_of(
                    meta.created_timestamp.as_ref(),
                    meta.last_updated_timestamp.as_ref(),
                ),
            },
        );
    }
    // Entities after the views: an entity's key type is read off the views that use it.
    for e in &raw.entities {
        let Some(spec) = e.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        if spec.name == DUMMY_ENTITY {
            continue;
        }
        let value_type = match value_type(spec.value_type) {
            Some(PbType::Invalid) | None => key_type_from_views(&registry, &spec.join_key),
            Some(t) => {
                dtype(t, &BTreeMap::new()).with_context(|| format!("entity `{}`", spec.name))?
            }
        };
        let meta = e.meta.as_ref();
        registry.entities.insert(
            spec.name.clone(),
            Stored {
                spec: Entity {
                    name: spec.name.clone(),
                    join_key: spec.join_key.clone(),
                    value_type,
                    description: spec.description.clone(),
                    tags: sorted(&spec.tags),
                    owner: spec.owner.clone(),
                },
                meta: meta.map_or_else(epoch_meta, |m| {
                    meta_of(
                        m.created_timestamp.as_ref(),
                        m.last_updated_timestamp.as_ref(),
                    )
                }),
            },
        );
    }
    for fs in &raw.feature_services {
        let Some(spec) = fs.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        let service = FeatureService {
            name: spec.name.clone(),
            features: spec.features.iter().map(projection).collect(),
            description: spec.description.clone(),
            tags: sorted(&spec.tags),
            owner: spec.owner.clone(),
        };
        let meta = fs.meta.as_ref();
        registry.feature_services.insert(
            spec.name.clone(),
            Stored {
                spec: service,
                meta: meta.map_or_else(epoch_meta, |m| {
                    meta_of(
                        m.created_timestamp.as_ref(),
                        m.last_updated_timestamp.as_ref(),
                    )
                }),
            },
        );
    }
    for p in &raw.permissions {
        let Some(spec) = p.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        let permission = permission(spec).with_context(|| format!("permission `{}`", spec.name))?;
        let meta = p.meta.as_ref();
        registry.permissions.insert(
            spec.name.clone(),
            Stored {
                spec: permission,
                meta: meta.map_or_else(epoch_meta, |m| {
                    meta_of(
                        m.created_timestamp.as_ref(),
                        m.last_updated_timestamp.as_ref(),
                    )
                }),
            },
        );
    }
    for sfv in &raw.stream_feature_views {
        let Some(spec) = sfv.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        registry.not_served.insert(
            spec.name.clone(),
            format!(
                "{} is a stream feature view, which edgefeat does not serve yet; serve it with Feast, or define it as a feature view with a push source",
                spec.name
            ),
        );
    }
    for lv in &raw.label_views {
        let Some(spec) = lv.spec.as_ref().filter(|s| ours(&s.project)) else {
            continue;
        };
        registry.not_served.insert(
            spec.name.clone(),
            format!(
                "{} is a label view, which edgefeat does not serve yet",
                spec.name
            ),
        );
    }
    Ok(registry)
}

/// Feast's serving gate for a feature view: `None` when it serves.
fn feature_view_gate(name: &str, disabled: bool, state: i32) -> Option<String> {
    if disabled {
        return Some(format!(
            "Feature view {name} is disabled and cannot serve features"
        ));
    }
    match pb::FeatureViewState::try_from(state) {
        Ok(pb::FeatureViewState::StateUnspecified | pb::FeatureViewState::AvailableOnline) => None,
        Ok(other) => Some(format!(
            "Feature view '{name}' is in state '{}' and cannot serve features.",
            other.as_str_name()
        )),
        Err(_) => Some(format!(
            "Feature view '{name}' is in state '{state}' and cannot serve features."
        )),
    }
}

/// Adds a data source by name, once: the top-level copy wins over copies embedded in views.
fn add_source(registry: &mut Registry, ds: &pb::DataSource) -> Result<String> {
    let name = ds.name.clone();
    if name.is_empty() {
        bail!("a data source without a name");
    }
    if registry.data_sources.contains_key(&name) {
        return Ok(name);
    }
    let kind = source_kind(registry, ds).with_context(|| format!("data source `{name}`"))?;
    let meta = ds.meta.as_ref().map_or_else(epoch_meta, |m| {
        meta_of(
            m.created_timestamp.as_ref(),
            m.last_updated_timestamp.as_ref(),
        )
    });
    registry.data_sources.insert(
        name.clone(),
        Stored {
            spec: DataSource {
                name: name.clone(),
                kind,
                description: ds.description.clone(),
                tags: sorted(&ds.tags),
                owner: ds.owner.clone(),
            },
            meta,
        },
    );
    Ok(name)
}

fn source_kind(registry: &mut Registry, ds: &pb::DataSource) -> Result<SourceKind> {
    use pb::data_source::{Options, SourceType};
    let source_type = SourceType::try_from(ds.r#type).unwrap_or(SourceType::Invalid);
    Ok(match (source_type, &ds.options) {
        (SourceType::BatchFile, Some(Options::FileOptions(file))) if is_parquet(file) => {
            SourceKind::File {
                path: file.uri.clone().into(),
                timestamp_field: ds.timestamp_field.clone(),
                created_timestamp_column: ds.created_timestamp_column.clone(),
                field_mapping: sorted(&ds.field_mapping),
            }
        }
        (SourceType::PushSource, _) => {
            let Some(batch) = ds.batch_source.as_deref() else {
                bail!("a push source without a batch source");
            };
            SourceKind::Push {
                batch_source: add_source(registry, batch)?,
            }
        }
        (SourceType::RequestSource, Some(Options::RequestDataOptions(req))) => {
            let mut schema = req.schema.iter().map(field).collect::<Result<Vec<_>>>()?;
            // Registries of old Feast versions: a name → type map.
            let mut old: Vec<_> = req.deprecated_schema.iter().collect();
            old.sort();
            for (name, t) in old {
                let t = value_type(*t).ok_or_else(|| anyhow!("`{name}`: unknown type {t}"))?;
                schema.push(Field {
                    name: name.clone(),
                    dtype: dtype(t, &BTreeMap::new())?,
                    description: String::new(),
                    tags: Default::default(),
                    vector_index: None,
                });
            }
            SourceKind::Request { schema }
        }
        (t, _) => SourceKind::Other {
            source_type: if t == SourceType::BatchFile {
                "BATCH_FILE (delta)".to_string()
            } else {
                t.as_str_name().to_string()
            },
            timestamp_field: ds.timestamp_field.clone(),
            created_timestamp_column: ds.created_timestamp_column.clone(),
        },
    })
}

/// A file source edgefeat reads: parquet (the default when no format is set).
fn is_parquet(file: &pb::data_source::FileOptions) -> bool {
    !matches!(
        file.file_format.as_ref().and_then(|f| f.format.as_ref()),
        Some(pb::file_format::Format::DeltaFormat(_))
    )
}

fn feature_view(registry: &mut Registry, spec: &pb::FeatureViewSpec) -> Result<FeatureView> {
    let Some(batch) = spec.batch_source.as_ref() else {
        bail!("no batch source");
    };
    let batch_source = add_source(registry, batch)?;
    let stream_source = spec
        .stream_source
        .as_ref()
        .map(|s| add_source(registry, s))
        .transpose()?;
    let (entities, entity_columns) = user_entities(&spec.entities, &spec.entity_columns)?;
    Ok(FeatureView {
        name: spec.name.clone(),
        entities,
        entity_columns,
        features: spec.features.iter().map(field).collect::<Result<_>>()?,
        ttl_seconds: spec.ttl.as_ref().map_or(0, duration_seconds),
        batch_source,
        stream_source,
        online: spec.online,
        offline: spec.offline,
        description: spec.description.clone(),
        tags: sorted(&spec.tags),
        owner: spec.owner.clone(),
    })
}

/// The view's entities and key columns without Feast's `__dummy`.
fn user_entities(
    entities: &[String],
    columns: &[pb::FeatureSpecV2],
) -> Result<(Vec<String>, Vec<Field>)> {
    let entities: Vec<String> = entities
        .iter()
        .filter(|e| *e != DUMMY_ENTITY)
        .cloned()
        .collect();
    let columns = columns
        .iter()
        .filter(|c| c.name != "__dummy_id")
        .map(field)
        .collect::<Result<Vec<_>>>()?;
    Ok((entities, columns))
}

fn on_demand_view(
    registry: &mut Registry,
    spec: &pb::OnDemandFeatureViewSpec,
) -> Result<OnDemandFeatureView> {
    use pb::on_demand_source::Source;
    // A map on disk: sorted by name, so the order does not change from one apply to the next.
    let mut named: Vec<_> = spec.sources.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    let mut sources = Vec::new();
    for (key, source) in named {
        match source.source.as_ref() {
            Some(Source::FeatureViewProjection(p)) => {
                sources.push(OdfvSource::FeatureView(p.feature_view_name.clone()));
            }
            Some(Source::FeatureView(fv)) => {
                let name = fv
                    .spec
                    .as_ref()
                    .map_or_else(|| key.clone(), |s| s.name.clone());
                sources.push(OdfvSource::FeatureView(name));
            }
            Some(Source::RequestDataSource(ds)) => {
                sources.push(OdfvSource::RequestSource(add_source(registry, ds)?));
            }
            None => bail!("source `{key}` is empty"),
        }
    }
    let udf = match spec
        .feature_transformation
        .as_ref()
        .and_then(|t| t.transformation.as_ref())
    {
        Some(pb::feature_transformation_v2::Transformation::UserDefinedFunction(u)) => {
            Some(PythonUdf {
                name: u.name.clone(),
                mode: if u.mode.is_empty() {
                    spec.mode.clone()
                } else {
                    u.mode.clone()
                },
                body_text: u.body_text.clone(),
            })
        }
        Some(pb::feature_transformation_v2::Transformation::SubstraitTransformation(_)) => None,
        // Registries of old Feast versions keep the function in the deprecated field.
        None => spec.user_defined_function.as_ref().map(|u| PythonUdf {
            name: u.name.clone(),
            mode: spec.mode.clone(),
            body_text: u.body_text.clone(),
        }),
    };
    Ok(OnDemandFeatureView {
        name: spec.name.clone(),
        sources,
        features: spec.features.iter().map(field).collect::<Result<_>>()?,
        plugin: spec.name.clone(),
        write_to_online_store: spec.write_to_online_store,
        python_udf: udf,
        description: spec.description.clone(),
        tags: sorted(&spec.tags),
        owner: spec.owner.clone(),
    })
}

fn projection(p: &pb::FeatureViewProjection) -> Projection {
    Projection {
        feature_view_name: p.feature_view_name.clone(),
        feature_view_name_alias: Some(p.feature_view_name_alias.clone()).filter(|a| !a.is_empty()),
        feature_columns: p.feature_columns.iter().map(|c| c.name.clone()).collect(),
        join_key_map: sorted(&p.join_key_map),
    }
}

fn permission(spec: &pb::PermissionSpec) -> Result<Permission> {
    use pb::policy::PolicyType;
    let types = spec
        .types
        .iter()
        .map(|t| {
            usize::try_from(*t)
                .ok()
                .and_then(|i| ResourceType::ALL.get(i).copied())
                .ok_or_else(|| anyhow!("unknown resource type {t}"))
        })
        .collect::<Result<_>>()?;
    let actions = spec
        .actions
        .iter()
        .map(|a| {
            usize::try_from(*a)
                .ok()
                .and_then(|i| Action::ALL.get(i).copied())
                .ok_or_else(|| anyhow!("unknown action {a}"))
        })
        .collect::<Result<_>>()?;
    let policy = match spec.policy.as_ref().and_then(|p| p.policy_type.as_ref()) {
        // Feast stores AllowAll as a present, empty policy.
        None => Policy::AllowAll,
        Some(PolicyType::RoleBasedPolicy(p)) => Policy::RoleBased {
            roles: p.roles.clone(),
        },
        Some(PolicyType::GroupBasedPolicy(p)) => Policy::GroupBased {
            groups: p.groups.clone(),
        },
        Some(PolicyType::NamespaceBasedPolicy(p)) => Policy::NamespaceBased {
            namespaces: p.namespaces.clone(),
        },
        Some(PolicyType::CombinedGroupNamespacePolicy(p)) => Policy::CombinedGroupNamespace {
            groups: p.groups.clone(),
            namespaces: p.namespaces.clone(),
        },
    };
    Ok(Permission {
        name: spec.name.clone(),
        types,
        name_patterns: spec.name_patterns.clone(),
        required_tags: sorted(&spec.required_tags),
        actions,
        policy,
        tags: sorted(&spec.tags),
    })
}

fn field(f: &pb::FeatureSpecV2) -> Result<Field> {
    let t = value_type(f.value_type)
        .ok_or_else(|| anyhow!("field `{}`: unknown value type {}", f.name, f.value_type))?;
    let mut tags = sorted(&f.tags);
    let dtype = dtype(t, &tags).with_context(|| format!("field `{}`", f.name))?;
    // The dtype carries the struct's schema now.
    tags.remove(STRUCT_SCHEMA_TAG);
    let vector_index = if f.vector_index {
        let metric = if f.vector_search_metric.is_empty() {
            None
        } else {
            Some(Metric::parse(&f.vector_search_metric).ok_or_else(|| {
                anyhow!(
                    "field `{}`: unknown vector_search_metric `{}`",
                    f.name,
                    f.vector_search_metric
                )
            })?)
        };
        Some(VectorIndex {
            vector_length: u32::try_from(f.vector_length).unwrap_or(0),
            vector_search_metric: metric,
        })
    } else {
        None
    };
    Ok(Field {
        name: f.name.clone(),
        dtype,
        description: f.description.clone(),
        tags,
        vector_index,
    })
}

fn value_type(t: i32) -> Option<PbType> {
    PbType::try_from(t).ok()
}

/// The dtype of a Feast value type; `tags` holds a struct's schema.
fn dtype(t: PbType, tags: &BTreeMap<String, String>) -> Result<DType> {
    let list = |d: DType| DType::Array(Box::new(d));
    Ok(match t {
        PbType::Bytes => DType::Bytes,
        PbType::String => DType::String,
        PbType::Int32 => DType::Int32,
        PbType::Int64 => DType::Int64,
        PbType::Double => DType::Float64,
        PbType::Float => DType::Float32,
        PbType::Bool => DType::Bool,
        PbType::UnixTimestamp => DType::UnixTimestamp,
        PbType::BytesList => list(DType::Bytes),
        PbType::StringList => list(DType::String),
        PbType::Int32List => list(DType::Int32),
        PbType::Int64List => list(DType::Int64),
        PbType::DoubleList => list(DType::Float64),
        PbType::FloatList => list(DType::Float32),
        PbType::BoolList => list(DType::Bool),
        PbType::UnixTimestampList => list(DType::UnixTimestamp),
        PbType::Map => DType::Map,
        PbType::MapList => list(DType::Map),
        PbType::Json => DType::Json,
        PbType::JsonList => list(DType::Json),
        PbType::Struct => struct_dtype(tags)?,
        PbType::StructList => list(struct_dtype(tags)?),
        other => bail!(
            "value type {} is not supported by edgefeat yet",
            other.as_str_name()
        ),
    })
}

fn struct_dtype(tags: &BTreeMap<String, String>) -> Result<DType> {
    let Some(schema) = tags.get(STRUCT_SCHEMA_TAG) else {
        bail!("a STRUCT without its `{STRUCT_SCHEMA_TAG}` tag");
    };
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(schema)
        .map_err(|e| anyhow!("`{STRUCT_SCHEMA_TAG}` is not a JSON object: {e}"))?;
    let mut out = Vec::with_capacity(fields.len());
    for (name, t) in fields {
        let t = t
            .as_str()
            .and_then(PbType::from_str_name)
            .ok_or_else(|| anyhow!("struct field `{name}`: unknown type {t}"))?;
        out.push((name, dtype(t, &BTreeMap::new())?));
    }
    Ok(DType::Struct(out))
}

/// The type of the key column `join_key` as the views record it; String when no view says.
fn key_type_from_views(registry: &Registry, join_key: &str) -> DType {
    registry
        .feature_views
        .values()
        .flat_map(|v| v.spec.entity_columns.iter())
        .find(|c| c.name == join_key)
        .map_or(DType::String, |c| c.dtype.clone())
}

fn duration_seconds(d: &prost_types::Duration) -> u64 {
    // Feast's ttl is whole seconds in practice; a fraction rounds up so a row never expires
    // early.
    let secs = u64::try_from(d.seconds).unwrap_or(0);
    if d.nanos > 0 { secs + 1 } else { secs }
}

fn ts(t: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn meta_of(
    created: Option<&prost_types::Timestamp>,
    updated: Option<&prost_types::Timestamp>,
) -> Meta {
    Meta {
        created_timestamp: ts(created),
        last_updated_timestamp: ts(updated),
        materialization_intervals: Vec::new(),
    }
}

fn epoch_meta() -> Meta {
    meta_of(None, None)
}

fn sorted(m: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
