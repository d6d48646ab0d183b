//! The registry written back as definitions: the YAML that `edgefeat apply` turns into the same
//! objects (what `edgefeat import` writes). The inverse of `repo::definitions` and
//! `repo::validate`, field for field (docs/definitions.md).
//!
//! Every field the model has is written, explicitly where the definitions have a default
//! (`online`, `offline`, an entity's `value_type`, an on-demand view's `plugin`), so the
//! result does not depend on defaults or on type inference from source files. A few shapes
//! of the model have no YAML form, because validation derives them from other fields (a
//! view's key columns from its entities, its batch source from its push source); when the
//! registry holds one that differs from what would be derived, the text says what apply will
//! register, and [`Exported::warnings`] says what differs.

use std::collections::BTreeMap;

use super::{
    DataSource, Definitions, Entity, FeatureService, FeatureView, Field, OdfvSource,
    OnDemandFeatureView, Permission, Policy, Project, Registry, SourceKind,
};
use crate::repo::yaml_emit::{Yaml, to_yaml};
use crate::types::{DType, format_duration};

/// The definitions text, and what it cannot say exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// One definitions file holding every object of the registry.
    pub text: String,
    /// Each place where `apply` on `text` would register something other than the registry
    /// holds, naming the object and what changes. Empty when the round trip is exact.
    pub warnings: Vec<String>,
}

/// Writes the definitions equivalent to `registry`: the project and every object, sections in
/// the order of the definitions format, objects by name.
pub fn export_definitions(registry: &Registry) -> Exported {
    let mut w = Writer {
        registry,
        warnings: Vec::new(),
    };
    let mut doc = vec![("project".to_string(), w.project(&registry.project.spec))];
    let mut section = |name: &str, items: Vec<Yaml>| {
        if !items.is_empty() {
            doc.push((name.to_string(), Yaml::Seq(items)));
        }
    };
    let items = registry
        .entities
        .values()
        .map(|e| w.entity(&e.spec))
        .collect();
    section("entities", items);
    let items = registry
        .data_sources
        .values()
        .map(|s| w.data_source(&s.spec))
        .collect();
    section("data_sources", items);
    let items = registry
        .feature_views
        .values()
        .map(|v| w.feature_view(&v.spec))
        .collect();
    section("feature_views", items);
    let items = registry
        .on_demand_feature_views
        .values()
        .map(|v| w.odfv(&v.spec))
        .collect();
    section("on_demand_feature_views", items);
    let items = registry
        .feature_services
        .values()
        .map(|s| w.feature_service(&s.spec))
        .collect();
    section("feature_services", items);
    let items = registry
        .permissions
        .values()
        .map(|p| w.permission(&p.spec))
        .collect();
    section("permissions", items);
    Exported {
        text: to_yaml(&doc),
        warnings: w.warnings,
    }
}

impl Registry {
    /// The specs alone, as definitions declare them: what two registries of the same
    /// definitions have in common (their metas record when and how often they were applied).
    pub fn specs(&self) -> Definitions {
        fn specs<T: Clone>(m: &BTreeMap<String, super::Stored<T>>) -> BTreeMap<String, T> {
            m.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect()
        }
        Definitions {
            project: Some(self.project.spec.clone()),
            entities: specs(&self.entities),
            data_sources: specs(&self.data_sources),
            feature_views: specs(&self.feature_views),
            on_demand_feature_views: specs(&self.on_demand_feature_views),
            feature_services: specs(&self.feature_services),
            permissions: specs(&self.permissions),
        }
    }
}

/// A dtype in the definitions' syntax. Struct field names that are not identifiers are
/// quoted (`Struct{"a b": Int64}`), which `DType::parse` reads back; `Err` says why a dtype
/// has no such text (an empty struct, a field name that is empty or holds both quote
/// characters), with the closest text as well.
pub fn dtype_text(dtype: &DType) -> Result<String, (String, String)> {
    let mut out = String::new();
    let mut problem = None;
    write_dtype(&mut out, dtype, &mut problem);
    match problem {
        None => Ok(out),
        Some(p) => Err((out, p)),
    }
}

fn write_dtype(out: &mut String, dtype: &DType, problem: &mut Option<String>) {
    match dtype {
        DType::Array(inner) => {
            out.push_str("Array(");
            write_dtype(out, inner, problem);
            out.push(')');
        }
        DType::Struct(fields) => {
            if fields.is_empty() {
                problem.get_or_insert_with(|| "a Struct without fields".to_string());
            }
            out.push_str("Struct{");
            for (i, (name, t)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let ident =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if ident {
                    out.push_str(name);
                } else {
                    let quote = if !name.contains('"') { '"' } else { '\'' };
                    if name.is_empty() || (name.contains('"') && name.contains('\'')) {
                        problem.get_or_insert_with(|| {
                            format!("struct field name {name:?} cannot be written (it is empty, or holds both quote characters)")
                        });
                    }
                    out.push(quote);
                    out.push_str(name);
                    out.push(quote);
                }
                out.push_str(": ");
                write_dtype(out, t, problem);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

struct Writer<'a> {
    registry: &'a Registry,
    warnings: Vec<String>,
}

/// Adds `key: value` when the text is not empty (the definitions' default).
fn text_field(map: &mut Vec<(String, Yaml)>, key: &str, value: &str) {
    if !value.is_empty() {
        map.push((key.to_string(), Yaml::str(value)));
    }
}

fn map_field(map: &mut Vec<(String, Yaml)>, key: &str, tags: &BTreeMap<String, String>) {
    if !tags.is_empty() {
        map.push((key.to_string(), Yaml::str_map(tags)));
    }
}

/// `description`, `tags` and `owner`, which every object but a permission takes.
fn common(
    map: &mut Vec<(String, Yaml)>,
    description: &str,
    tags: &BTreeMap<String, String>,
    owner: &str,
) {
    text_field(map, "description", description);
    map_field(map, "tags", tags);
    text_field(map, "owner", owner);
}

impl Writer<'_> {
    fn warn(&mut self, what: String) {
        self.warnings.push(what);
    }

    fn project(&mut self, p: &Project) -> Yaml {
        // The description is written even when empty: left out, the project would take
        // `project_description` from feature_store.yaml instead.
        let mut m = vec![
            ("name".to_string(), Yaml::str(&p.name)),
            ("description".to_string(), Yaml::str(&p.description)),
        ];
        map_field(&mut m, "tags", &p.tags);
        text_field(&mut m, "owner", &p.owner);
        Yaml::Map(m)
    }

    fn dtype(&mut self, owner: &str, dtype: &DType) -> Yaml {
        match dtype_text(dtype) {
            Ok(t) => Yaml::Str(t),
            Err((t, why)) => {
                self.warn(format!(
                    "{owner}: dtype {t} has no definitions form: {why}; apply will refuse it"
                ));
                Yaml::Str(t)
            }
        }
    }

    fn fields(&mut self, owner: &str, fields: &[Field]) -> Yaml {
        Yaml::Seq(
            fields
                .iter()
                .map(|f| {
                    let mut m = vec![
                        ("name".to_string(), Yaml::str(&f.name)),
                        (
                            "dtype".to_string(),
                            self.dtype(&format!("{owner}, field `{}`", f.name), &f.dtype),
                        ),
                    ];
                    text_field(&mut m, "description", &f.description);
                    map_field(&mut m, "tags", &f.tags);
                    if let Some(v) = &f.vector_index {
                        m.push(("vector_index".into(), Yaml::Bool(true)));
                        m.push((
                            "vector_length".into(),
                            Yaml::UInt(u64::from(v.vector_length)),
                        ));
                        if let Some(metric) = v.vector_search_metric {
                            m.push(("vector_search_metric".into(), Yaml::str(metric.as_str())));
                        }
                    }
                    Yaml::Map(m)
                })
                .collect(),
        )
    }

    fn entity(&mut self, e: &Entity) -> Yaml {
        let owner = format!("entity `{}`", e.name);
        let mut m = vec![
            ("name".to_string(), Yaml::str(&e.name)),
            ("join_keys".to_string(), Yaml::strs([&e.join_key])),
            ("value_type".to_string(), self.dtype(&owner, &e.value_type)),
        ];
        common(&mut m, &e.description, &e.tags, &e.owner);
        Yaml::Map(m)
    }

    fn data_source(&mut self, s: &DataSource) -> Yaml {
        let mut m = vec![("name".to_string(), Yaml::str(&s.name))];
        match &s.kind {
            SourceKind::File {
                path,
                timestamp_field,
                created_timestamp_column,
                field_mapping,
            } => {
                m.push(("type".into(), Yaml::str("file")));
                let text = match path.to_str() {
                    Some(t) => t.to_string(),
                    None => {
                        let lossy = path.to_string_lossy().into_owned();
                        self.warn(format!(
                            "data source `{}`: path {} is not UTF-8 and is written as {lossy:?}",
                            s.name,
                            path.display()
                        ));
                        lossy
                    }
                };
                m.push(("path".into(), Yaml::Str(text)));
                m.push(("timestamp_field".into(), Yaml::str(timestamp_field)));
                text_field(&mut m, "created_timestamp_column", created_timestamp_column);
                map_field(&mut m, "field_mapping", field_mapping);
            }
            SourceKind::Push { batch_source } => {
                m.push(("type".into(), Yaml::str("push")));
                m.push(("batch_source".into(), Yaml::str(batch_source)));
            }
            SourceKind::Request { schema } => {
                m.push(("type".into(), Yaml::str("request")));
                let owner = format!("request source `{}`", s.name);
                m.push(("schema".into(), self.fields(&owner, schema)));
            }
            SourceKind::Other {
                source_type,
                timestamp_field,
                created_timestamp_column,
            } => {
                // Definitions have file sources only: keep the columns, and say where the data
                // has to come from.
                let path = format!("data/{}.parquet", s.name);
                self.warn(format!(
                    "data source `{}` is a Feast {source_type} source, which definitions cannot express: it is written as a file source at {path}; export the table there (or change the path) before materializing",
                    s.name
                ));
                m.push(("type".into(), Yaml::str("file")));
                m.push(("path".into(), Yaml::Str(path)));
                m.push(("timestamp_field".into(), Yaml::str(timestamp_field)));
                text_field(&mut m, "created_timestamp_column", created_timestamp_column);
            }
        }
        common(&mut m, &s.description, &s.tags, &s.owner);
        Yaml::Map(m)
    }

    fn feature_view(&mut self, v: &FeatureView) -> Yaml {
        let owner = format!("feature view `{}`", v.name);
        self.check_entity_columns(&owner, v);
        let source = self.view_source(&owner, v);
        let mut m = vec![("name".to_string(), Yaml::str(&v.name))];
        if !v.entities.is_empty() {
            m.push(("entities".into(), Yaml::strs(&v.entities)));
        }
        if v.ttl_seconds > 0 {
            // `1d2h`: plain, as people write it (never read as a number).
            m.push(("ttl".into(), Yaml::Verbatim(format_duration(v.ttl_seconds))));
        }
        m.push(("schema".into(), self.fields(&owner, &v.features)));
        m.push(("source".into(), Yaml::Str(source)));
        m.push(("online".into(), Yaml::Bool(v.online)));
        m.push(("offline".into(), Yaml::Bool(v.offline)));
        common(&mut m, &v.description, &v.tags, &v.owner);
        Yaml::Map(m)
    }

    /// A view's key columns are its entities' join keys, with their types: the definitions
    /// list entities only.
    fn check_entity_columns(&mut self, owner: &str, v: &FeatureView) {
        if v.entities.len() != v.entity_columns.len() {
            self.warn(format!(
                "{owner}: {} entities but {} key columns; apply will key it by the entities' join keys",
                v.entities.len(),
                v.entity_columns.len()
            ));
        }
        for (entity, col) in v.entities.iter().zip(&v.entity_columns) {
            if let Some(e) = self.registry.entities.get(entity) {
                let e = &e.spec;
                if col.name != e.join_key || col.dtype != e.value_type {
                    self.warn(format!(
                        "{owner}: key column `{}` ({}) of entity `{entity}` differs from the entity's join key `{}` ({}); apply will use the entity's",
                        col.name, col.dtype, e.join_key, e.value_type
                    ));
                }
            }
            if !col.description.is_empty() || !col.tags.is_empty() || col.vector_index.is_some() {
                self.warn(format!(
                    "{owner}: the description, tags and vector index of key column `{}` have no definitions form and are left out",
                    col.name
                ));
            }
        }
        for f in &v.features {
            if v.entity_columns.iter().any(|c| c.name == f.name) {
                self.warn(format!(
                    "{owner}: feature `{}` is named like a join key; apply will read it as that key's column, not as a feature",
                    f.name
                ));
            }
        }
    }

    /// `source:` names the push source for a pushed view (its batch source is the push
    /// source's), else the file source.
    fn view_source(&mut self, owner: &str, v: &FeatureView) -> String {
        let kind = |name: &str| self.registry.data_sources.get(name).map(|s| &s.spec.kind);
        match &v.stream_source {
            Some(push) => {
                if let Some(SourceKind::Push { batch_source }) = kind(push)
                    && *batch_source != v.batch_source
                {
                    self.warn(format!(
                        "{owner}: batch source `{}` differs from push source `{push}`'s `{batch_source}`; apply will use `{batch_source}`",
                        v.batch_source
                    ));
                }
                push.clone()
            }
            None => {
                if let Some(SourceKind::Push { batch_source }) = kind(&v.batch_source) {
                    self.warn(format!(
                        "{owner}: batch source `{}` is a push source; apply will read it as the view's push source, materialized from `{batch_source}`",
                        v.batch_source
                    ));
                }
                v.batch_source.clone()
            }
        }
    }

    fn odfv(&mut self, o: &OnDemandFeatureView) -> Yaml {
        let owner = format!("on demand feature view `{}`", o.name);
        let mut names = Vec::new();
        for s in &o.sources {
            // A source is looked up by name among feature views first, then request sources.
            match s {
                OdfvSource::FeatureView(n) => {
                    if !self.registry.feature_views.contains_key(n)
                        && self.registry.data_sources.contains_key(n)
                    {
                        self.warn(format!("{owner}: source feature view `{n}` is not in the registry but a data source of that name is; apply will read that source"));
                    }
                    names.push(n);
                }
                OdfvSource::RequestSource(n) => {
                    if self.registry.feature_views.contains_key(n) {
                        self.warn(format!("{owner}: request source `{n}` has the name of a feature view; apply will read the feature view"));
                    }
                    names.push(n);
                }
            }
        }
        let mut m = vec![
            ("name".to_string(), Yaml::str(&o.name)),
            ("sources".to_string(), Yaml::strs(names)),
            ("schema".to_string(), self.fields(&owner, &o.features)),
            ("plugin".to_string(), Yaml::str(&o.plugin)),
            (
                "write_to_online_store".to_string(),
                Yaml::Bool(o.write_to_online_store),
            ),
        ];
        common(&mut m, &o.description, &o.tags, &o.owner);
        Yaml::Map(m)
    }

    fn feature_service(&mut self, s: &FeatureService) -> Yaml {
        let projections = s
            .features
            .iter()
            .map(|p| {
                let view = &p.feature_view_name;
                // Left out, `features` means all of the view's, in its order (as validation
                // resolves it: feature views first).
                let all: Option<Vec<&String>> = self
                    .registry
                    .feature_views
                    .get(view)
                    .map(|v| v.spec.features.iter().map(|f| &f.name).collect())
                    .or_else(|| {
                        self.registry
                            .on_demand_feature_views
                            .get(view)
                            .map(|v| v.spec.features.iter().map(|f| &f.name).collect())
                    });
                let mut m = vec![("view".to_string(), Yaml::str(view))];
                let whole = all.is_some_and(|all| all.iter().copied().eq(p.feature_columns.iter()));
                if !whole {
                    m.push(("features".into(), Yaml::strs(&p.feature_columns)));
                }
                if let Some(alias) = &p.feature_view_name_alias {
                    m.push(("alias".into(), Yaml::str(alias)));
                }
                map_field(&mut m, "join_key_map", &p.join_key_map);
                Yaml::Map(m)
            })
            .collect();
        let mut m = vec![
            ("name".to_string(), Yaml::str(&s.name)),
            ("features".to_string(), Yaml::Seq(projections)),
        ];
        common(&mut m, &s.description, &s.tags, &s.owner);
        Yaml::Map(m)
    }

    fn permission(&mut self, p: &Permission) -> Yaml {
        let mut actions = Vec::new();
        for a in &p.actions {
            if actions.contains(&a.name()) {
                self.warn(format!(
                    "permission `{}`: action {} is listed twice; apply keeps it once",
                    p.name,
                    a.name()
                ));
            } else {
                actions.push(a.name());
            }
        }
        let mut m = vec![
            ("name".to_string(), Yaml::str(&p.name)),
            (
                "types".to_string(),
                Yaml::strs(p.types.iter().map(|t| t.name())),
            ),
        ];
        if !p.name_patterns.is_empty() {
            m.push(("name_patterns".into(), Yaml::strs(&p.name_patterns)));
        }
        map_field(&mut m, "required_tags", &p.required_tags);
        m.push(("actions".into(), Yaml::strs(actions)));
        let policy = match &p.policy {
            Policy::AllowAll => None,
            Policy::RoleBased { roles } => Some(vec![("roles".to_string(), Yaml::strs(roles))]),
            Policy::GroupBased { groups } => Some(vec![("groups".to_string(), Yaml::strs(groups))]),
            Policy::NamespaceBased { namespaces } => {
                Some(vec![("namespaces".to_string(), Yaml::strs(namespaces))])
            }
            Policy::CombinedGroupNamespace { groups, namespaces } => Some(vec![
                ("groups".to_string(), Yaml::strs(groups)),
                ("namespaces".to_string(), Yaml::strs(namespaces)),
            ]),
        };
        if let Some(policy) = policy {
            m.push(("policy".into(), Yaml::Map(policy)));
        }
        map_field(&mut m, "tags", &p.tags);
        Yaml::Map(m)
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
