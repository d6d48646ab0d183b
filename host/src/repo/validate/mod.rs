//! Turns the parsed definition files into the registry model, checking everything at once.
//!
//! Validation never stops at the first problem: a user fixing a repo wants the whole list,
//! each with `file:line:column`, what is wrong and what to do. References are resolved across
//! all files, so the order of files and objects does not matter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

use crate::registry::{
    Action, DataSource, Definitions, Entity, FeatureService, FeatureView, Field, OdfvSource,
    OnDemandFeatureView, Permission, Policy, Project, Projection, ResourceType, SourceKind,
};
use crate::repo::config::check_project_name;
use crate::repo::definitions::{
    DataSourceDef, DurationDef, EntityDef, FeatureServiceDef, FeatureViewDef, FieldDef,
    OnDemandFeatureViewDef, PermissionDef, SourceFile,
};
use crate::repo::source_schema::{Columns, key_dtype_of, read_columns};
use crate::repo::{Diagnostic, RepoConfig};
use crate::types::{DType, parse_duration};
use crate::vector::{Metric, VectorIndex};

/// The outcome of validating a repo: the definitions and the project, or every problem.
pub type Validated = Result<(Definitions, Project), Vec<Diagnostic>>;

/// Validates the parsed `files` of the repo configured by `config`. `parse_errors` are the
/// files that could not be parsed; they are reported with the rest.
pub fn validate(
    config: &RepoConfig,
    files: &[SourceFile],
    parse_errors: Vec<Diagnostic>,
) -> Validated {
    let mut v = Validator {
        repo: &config.repo_path,
        errors: parse_errors,
        columns: BTreeMap::new(),
        inferred: BTreeMap::new(),
    };
    let defs = v.run(config, files);
    if v.errors.is_empty() {
        Ok(defs)
    } else {
        v.errors
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        Err(v.errors)
    }
}

struct Validator<'a> {
    repo: &'a Path,
    errors: Vec<Diagnostic>,
    /// Columns of each file source, read once.
    columns: BTreeMap<String, Option<Columns>>,
    /// Key types learned for entities without a declared `value_type`: from a view's schema
    /// listing the join key, or from a source file's column.
    inferred: BTreeMap<String, DType>,
}

/// An object as declared: where, and its definition.
struct Decl<'a, T> {
    file: &'a Path,
    loc: Location,
    def: &'a T,
}

fn loc<T>(s: &Spanned<T>) -> Location {
    s.referenced
}

/// Collects the objects of one section across files, reporting duplicate names.
fn collect<'a, T>(
    v: &mut Validator<'_>,
    kind: &str,
    files: &'a [SourceFile],
    section: impl Fn(&'a SourceFile) -> &'a [Spanned<T>],
    name: impl Fn(&T) -> &Spanned<String>,
) -> BTreeMap<&'a str, Decl<'a, T>> {
    let mut out: BTreeMap<&'a str, Decl<'a, T>> = BTreeMap::new();
    for f in files {
        for item in section(f) {
            let n = name(&item.value);
            v.check_name(&f.path, n, kind);
            if let Some(first) = out.get(n.value.as_str()) {
                let d = Diagnostic::at(&f.path, loc(n), format!("duplicate {kind} `{}`", n.value))
                    .help(format!(
                        "it is already defined at {}:{}; names must be unique: rename or remove one",
                        first.file.display(),
                        first.loc.line()
                    ));
                v.errors.push(d);
                continue;
            }
            out.insert(
                n.value.as_str(),
                Decl {
                    file: &f.path,
                    loc: loc(n),
                    def: &item.value,
                },
            );
        }
    }
    out
}

fn known(kind: &str, names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
    if names.is_empty() {
        format!("no {kind} is defined")
    } else {
        format!("defined {kind}: {}", names.join(", "))
    }
}

impl Validator<'_> {
    fn err(&mut self, file: &Path, at: Location, msg: impl Into<String>, help: impl Into<String>) {
        self.errors.push(Diagnostic::at(file, at, msg).help(help));
    }

    /// Names end up in feature references (`view:feature`) and in URLs and store keys, so
    /// they are kept to a safe alphabet.
    fn check_name(&mut self, file: &Path, name: &Spanned<String>, kind: &str) {
        let n = &name.value;
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            self.err(
                file,
                loc(name),
                format!("invalid {kind} name `{n}`"),
                "use letters, digits, `_`, `-` and `.` only",
            );
        }
    }

    fn run(&mut self, config: &RepoConfig, files: &[SourceFile]) -> (Definitions, Project) {
        let project = self.project(config, files);
        let entities = collect(self, "entity", files, |f| &f.defs.entities, |e| &e.name);
        let sources = collect(
            self,
            "data source",
            files,
            |f| &f.defs.data_sources,
            |s| &s.name,
        );
        let views = collect(
            self,
            "feature view",
            files,
            |f| &f.defs.feature_views,
            |v| &v.name,
        );
        let odfvs = collect(
            self,
            "on demand feature view",
            files,
            |f| &f.defs.on_demand_feature_views,
            |v| &v.name,
        );
        let services = collect(
            self,
            "feature service",
            files,
            |f| &f.defs.feature_services,
            |s| &s.name,
        );
        let permissions = collect(
            self,
            "permission",
            files,
            |f| &f.defs.permissions,
            |p| &p.name,
        );

        // Feature references (`view:feature`) look views up by name across both kinds.
        for (name, odfv) in &odfvs {
            if let Some(fv) = views.get(name) {
                self.err(
                    odfv.file,
                    odfv.loc,
                    format!("name `{name}` is used by both a feature view and an on demand feature view"),
                    format!(
                        "the feature view is at {}:{}; feature references look views up by name, so rename one",
                        fv.file.display(),
                        fv.loc.line()
                    ),
                );
            }
        }

        let mut defs = Definitions::default();
        for (name, s) in &sources {
            if let Some(src) = self.data_source(s, &sources) {
                defs.data_sources.insert(name.to_string(), src);
            }
        }
        let declared_entities: BTreeMap<&str, (String, Option<DType>)> = entities
            .iter()
            .filter_map(|(name, e)| Some((*name, self.entity(e)?)))
            .collect();
        for (name, fv) in &views {
            if let Some(view) = self.feature_view(fv, &declared_entities, &defs.data_sources) {
                defs.feature_views.insert(name.to_string(), view);
            }
        }
        for (name, e) in &entities {
            let Some((join_key, declared)) = declared_entities.get(name) else {
                continue;
            };
            let value_type = match (declared, self.inferred.get(*name)) {
                (Some(t), _) | (None, Some(t)) => t.clone(),
                (None, None) => {
                    self.err(
                        e.file,
                        e.loc,
                        format!("cannot infer the type of join key `{join_key}` of entity `{name}`"),
                        "no feature view using it has a source file with that column; declare it, e.g. `value_type: Int64`",
                    );
                    continue;
                }
            };
            defs.entities.insert(
                name.to_string(),
                Entity {
                    name: name.to_string(),
                    join_key: join_key.clone(),
                    value_type,
                    description: e.def.description.clone().unwrap_or_default(),
                    tags: e.def.tags.clone(),
                    owner: e.def.owner.clone().unwrap_or_default(),
                },
            );
        }
        // Views typed their entity columns before inference finished; fill those in now.
        for view in defs.feature_views.values_mut() {
            for (entity, col) in view.entities.iter().zip(view.entity_columns.iter_mut()) {
                if let Some(e) = defs.entities.get(entity) {
                    col.dtype = e.value_type.clone();
                }
            }
        }
        for (name, o) in &odfvs {
            if let Some(odfv) = self.odfv(o, &views, &defs.data_sources) {
                defs.on_demand_feature_views.insert(name.to_string(), odfv);
            }
        }
        for (name, s) in &services {
            if let Some(fs) = self.feature_service(s, &defs, &views, &odfvs) {
                defs.feature_services.insert(name.to_string(), fs);
            }
        }
        for (name, p) in &permissions {
            if let Some(perm) = self.permission(p) {
                defs.permissions.insert(name.to_string(), perm);
            }
        }
        defs.project = Some(project.clone());
        (defs, project)
    }

    fn project(&mut self, config: &RepoConfig, files: &[SourceFile]) -> Project {
        let mut project = Project {
            name: config.project.clone(),
            description: config.project_description.clone().unwrap_or_default(),
            tags: Default::default(),
            owner: String::new(),
        };
        let mut seen: Option<(PathBuf, u64)> = None;
        for f in files {
            let Some(p) = &f.defs.project else { continue };
            let name = &p.value.name;
            if let Some((file, line)) = &seen {
                self.err(
                    &f.path,
                    loc(name),
                    "a second `project:` section",
                    format!(
                        "the project is already declared at {}:{line}; keep one",
                        file.display()
                    ),
                );
                continue;
            }
            seen = Some((f.path.clone(), loc(name).line()));
            if let Err(e) = check_project_name(&name.value) {
                self.err(
                    &f.path,
                    loc(name),
                    e,
                    "rename the project here and in feature_store.yaml",
                );
            } else if name.value != config.project {
                self.err(
                    &f.path,
                    loc(name),
                    format!(
                        "project `{}` does not match `project: {}` in feature_store.yaml",
                        name.value, config.project
                    ),
                    "a repo holds one project: make the two names equal",
                );
            }
            if let Some(d) = &p.value.description {
                project.description = d.clone();
            }
            project.tags = p.value.tags.clone();
            project.owner = p.value.owner.clone().unwrap_or_default();
        }
        project
    }

    fn dtype(&mut self, file: &Path, text: &Spanned<String>) -> Option<DType> {
        match DType::parse(&text.value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(
                    file,
                    loc(text),
                    e.to_string(),
                    "see docs/definitions.md#types",
                );
                None
            }
        }
    }

    /// The fields of a schema; `vectors`: whether a field may be a vector field (a feature
    /// view's, at most one).
    fn fields(
        &mut self,
        file: &Path,
        defs: &[Spanned<FieldDef>],
        owner: &str,
        vectors: bool,
    ) -> Option<Vec<Field>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut seen = BTreeSet::new();
        let mut vector_field: Option<&str> = None;
        for f in defs {
            let f = &f.value;
            let dtype = self.dtype(file, &f.dtype);
            let vector_index = match self.vector_index(file, f, dtype.as_ref(), owner, vectors) {
                Ok(v) => v,
                Err(()) => {
                    ok = false;
                    None
                }
            };
            if vector_index.is_some() {
                if let Some(first) = vector_field {
                    self.err(
                        file,
                        loc(&f.name),
                        format!(
                            "{owner} has two vector fields, `{first}` and `{}`",
                            f.name.value
                        ),
                        "a view is searched by one vector field (as in Feast); keep `vector_index: true` on one",
                    );
                    ok = false;
                }
                vector_field = Some(&f.name.value);
            }
            self.check_name(file, &f.name, "field");
            if !seen.insert(f.name.value.as_str()) {
                self.err(
                    file,
                    loc(&f.name),
                    format!(
                        "field `{}` appears twice in the schema of {owner}",
                        f.name.value
                    ),
                    "remove or rename one of them",
                );
                ok = false;
            }
            match dtype {
                Some(dtype) => out.push(Field {
                    name: f.name.value.clone(),
                    dtype,
                    description: f.description.clone().unwrap_or_default(),
                    tags: f.tags.clone(),
                    vector_index,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A field's `vector_index`, `vector_length` and `vector_search_metric`, checked together:
    /// `Err` after reporting a problem.
    fn vector_index(
        &mut self,
        file: &Path,
        f: &FieldDef,
        dtype: Option<&DType>,
        owner: &str,
        allowed: bool,
    ) -> Result<Option<VectorIndex>, ()> {
        let on = f.vector_index.as_ref().is_some_and(|v| v.value);
        if !on {
            let stray = f
                .vector_length
                .as_ref()
                .map(|l| (loc(l), "vector_length"))
                .or_else(|| {
                    f.vector_search_metric
                        .as_ref()
                        .map(|m| (loc(m), "vector_search_metric"))
                });
            if let Some((at, key)) = stray {
                self.err(
                    file,
                    at,
                    format!(
                        "field `{}` of {owner} sets `{key}` but is not a vector field",
                        f.name.value
                    ),
                    "add `vector_index: true` to search it, or remove the key",
                );
                return Err(());
            }
            return Ok(None);
        }
        let at = f.vector_index.as_ref().map_or_else(|| loc(&f.name), loc);
        if !allowed {
            self.err(
                file,
                at,
                format!(
                    "field `{}` of {owner} cannot be a vector field",
                    f.name.value
                ),
                "only a feature view's features are searchable; remove `vector_index`",
            );
            return Err(());
        }
        let mut ok = true;
        if let Some(dtype) = dtype
            && !crate::vector::is_vector_dtype(dtype)
        {
            self.err(
                file,
                loc(&f.dtype),
                format!(
                    "vector field `{}` of {owner} has dtype {dtype}",
                    f.name.value
                ),
                "a vector field is `Array(Float32)` or `Array(Float64)`",
            );
            ok = false;
        }
        let length = match &f.vector_length {
            None => {
                self.err(
                    file,
                    at,
                    format!(
                        "vector field `{}` of {owner} has no `vector_length`",
                        f.name.value
                    ),
                    "give the length of its vectors, e.g. `vector_length: 384`; every write is checked against it",
                );
                ok = false;
                0
            }
            Some(l) => match u32::try_from(l.value) {
                Ok(n) if (1..=crate::vector::MAX_VECTOR_LENGTH).contains(&n) => n,
                _ => {
                    self.err(
                        file,
                        loc(l),
                        format!(
                            "vector field `{}` of {owner} has vector_length {}",
                            f.name.value, l.value
                        ),
                        format!(
                            "a vector holds from 1 to {} numbers",
                            crate::vector::MAX_VECTOR_LENGTH
                        ),
                    );
                    ok = false;
                    0
                }
            },
        };
        let metric = match &f.vector_search_metric {
            None => None,
            Some(m) => match Metric::parse(&m.value) {
                Some(metric) => Some(metric),
                None => {
                    self.err(
                        file,
                        loc(m),
                        format!(
                            "vector field `{}` of {owner} has unknown vector_search_metric `{}`",
                            f.name.value, m.value
                        ),
                        format!("use one of {}", Metric::names()),
                    );
                    ok = false;
                    None
                }
            },
        };
        if !ok {
            return Err(());
        }
        Ok(Some(VectorIndex {
            vector_length: length,
            vector_search_metric: metric,
        }))
    }

    /// Returns the join key and the declared type, if any.
    fn entity(&mut self, e: &Decl<'_, EntityDef>) -> Option<(String, Option<DType>)> {
        let d = e.def;
        let join_key = match (&d.join_keys, &d.join_key) {
            (Some(keys), Some(_)) => {
                self.err(
                    e.file,
                    loc(keys),
                    "both `join_keys` and `join_key` are given",
                    "keep one",
                );
                return None;
            }
            (Some(keys), None) if keys.value.len() != 1 => {
                self.err(
                    e.file,
                    loc(keys),
                    format!("entity `{}` has {} join keys", d.name.value, keys.value.len()),
                    "Feast supports exactly one join key per entity; for a composite key, declare one entity per key and list them all in the feature view",
                );
                return None;
            }
            (Some(keys), None) => keys.value[0].clone(),
            (None, Some(k)) => k.value.clone(),
            (None, None) => d.name.value.clone(),
        };
        let declared = match &d.value_type {
            None => None,
            Some(t) => {
                let dtype = self.dtype(e.file, t)?;
                if !dtype.is_key_type() {
                    self.err(
                        e.file,
                        loc(t),
                        format!("`{dtype}` cannot be an entity key type"),
                        "entity keys are serialized as Int32, Int64, String, Bytes or UnixTimestamp (entity key serialization v3)",
                    );
                    return None;
                }
                Some(dtype)
            }
        };
        Some((join_key, declared))
    }

    fn data_source(
        &mut self,
        s: &Decl<'_, DataSourceDef>,
        all: &BTreeMap<&str, Decl<'_, DataSourceDef>>,
    ) -> Option<DataSource> {
        let d = s.def;
        let kind = d.kind.value.as_str();
        let present: [(&str, Option<Location>); 6] = [
            ("path", d.path.as_ref().map(loc)),
            ("timestamp_field", d.timestamp_field.as_ref().map(loc)),
            (
                "created_timestamp_column",
                d.created_timestamp_column.as_ref().map(loc),
            ),
            ("field_mapping", d.field_mapping.as_ref().map(loc)),
            ("batch_source", d.batch_source.as_ref().map(loc)),
            ("schema", d.schema.as_ref().map(loc)),
        ];
        let allowed: &[&str] = match kind {
            "file" => &[
                "path",
                "timestamp_field",
                "created_timestamp_column",
                "field_mapping",
            ],
            "push" => &["batch_source"],
            "request" => &["schema"],
            other => {
                self.err(
                    s.file,
                    loc(&d.kind),
                    format!("unknown data source type `{other}`"),
                    "use `file` (parquet), `push` or `request`",
                );
                return None;
            }
        };
        let mut ok = true;
        for (field, at) in present {
            if let Some(at) = at
                && !allowed.contains(&field)
            {
                self.err(
                    s.file,
                    at,
                    format!("`{field}` does not apply to a {kind} source"),
                    format!("a {kind} source takes: {}", allowed.join(", ")),
                );
                ok = false;
            }
        }
        let kind = match kind {
            "file" => {
                let Some(path) = &d.path else {
                    self.err(
                        s.file,
                        s.loc,
                        format!("file source `{}` has no `path`", d.name.value),
                        "add `path:`, e.g. `path: data/my_data.parquet`",
                    );
                    return None;
                };
                let Some(ts) = &d.timestamp_field else {
                    self.err(
                        s.file,
                        s.loc,
                        format!("file source `{}` has no `timestamp_field`", d.name.value),
                        "name the event-time column, e.g. `timestamp_field: event_timestamp`",
                    );
                    return None;
                };
                let full = self.repo.join(&path.value);
                if !full.exists() {
                    self.err(
                        s.file,
                        loc(path),
                        format!("source file `{}` does not exist", path.value),
                        "paths are relative to the repo directory; create the file or fix the path",
                    );
                    ok = false;
                }
                SourceKind::File {
                    path: PathBuf::from(&path.value),
                    timestamp_field: ts.value.clone(),
                    created_timestamp_column: d
                        .created_timestamp_column
                        .as_ref()
                        .map(|c| c.value.clone())
                        .unwrap_or_default(),
                    field_mapping: d
                        .field_mapping
                        .as_ref()
                        .map(|m| m.value.clone())
                        .unwrap_or_default(),
                }
            }
            "push" => {
                let Some(batch) = &d.batch_source else {
                    self.err(s.file, s.loc, format!("push source `{}` has no `batch_source`", d.name.value), "name the file source that keeps pushed rows offline, e.g. `batch_source: my_file_source`");
                    return None;
                };
                match all.get(batch.value.as_str()) {
                    Some(b) if b.def.kind.value == "file" => {}
                    Some(b) => {
                        self.err(
                            s.file,
                            loc(batch),
                            format!(
                                "batch source `{}` is a {} source",
                                batch.value, b.def.kind.value
                            ),
                            "a push source's batch_source must be a file source",
                        );
                        ok = false;
                    }
                    None => {
                        let files = all
                            .iter()
                            .filter(|(_, d)| d.def.kind.value == "file")
                            .map(|(n, _)| *n);
                        self.err(
                            s.file,
                            loc(batch),
                            format!(
                                "push source `{}` references unknown data source `{}`",
                                d.name.value, batch.value
                            ),
                            known("file sources", files),
                        );
                        ok = false;
                    }
                }
                SourceKind::Push {
                    batch_source: batch.value.clone(),
                }
            }
            _ => {
                let schema = match &d.schema {
                    Some(schema) if !schema.value.is_empty() => schema,
                    _ => {
                        self.err(s.file, s.loc, format!("request source `{}` has no `schema`", d.name.value), "list the request fields, e.g. `schema: [{name: val_to_add, dtype: Int64}]`");
                        return None;
                    }
                };
                let owner = format!("request source `{}`", d.name.value);
                SourceKind::Request {
                    schema: self.fields(s.file, &schema.value, &owner, false)?,
                }
            }
        };
        ok.then(|| DataSource {
            name: d.name.value.clone(),
            kind,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    /// The columns of a file source, read once; `None` when they cannot be known.
    fn source_columns(&mut self, name: &str, path: &Path) -> Option<Columns> {
        if let Some(c) = self.columns.get(name) {
            return c.clone();
        }
        let full = self.repo.join(path);
        let cols = if full.exists() {
            read_columns(&full).ok().flatten()
        } else {
            None
        };
        self.columns.insert(name.to_string(), cols.clone());
        cols
    }

    fn feature_view(
        &mut self,
        fv: &Decl<'_, FeatureViewDef>,
        entities: &BTreeMap<&str, (String, Option<DType>)>,
        sources: &BTreeMap<String, DataSource>,
    ) -> Option<FeatureView> {
        let d = fv.def;
        let name = &d.name.value;
        let mut ok = true;
        // (entity, its key column), for the entities that exist.
        let mut entity_columns: Vec<(&str, Field)> = Vec::new();
        let mut seen_entities = BTreeSet::new();
        for e in &d.entities {
            if !seen_entities.insert(e.value.as_str()) {
                self.err(
                    fv.file,
                    loc(e),
                    format!("entity `{}` is listed twice", e.value),
                    "list each entity once",
                );
                ok = false;
                continue;
            }
            match entities.get(e.value.as_str()) {
                Some((join_key, declared)) => entity_columns.push((
                    e.value.as_str(),
                    Field {
                        name: join_key.clone(),
                        // Until inference has run; `run` sets the entity's final type.
                        dtype: declared.clone().unwrap_or(DType::Int64),
                        description: String::new(),
                        tags: Default::default(),
                        vector_index: None,
                    },
                )),
                None => {
                    self.err(
                        fv.file,
                        loc(e),
                        format!(
                            "feature view `{name}` references unknown entity `{}`",
                            e.value
                        ),
                        format!(
                            "declare it under `entities:`; {}",
                            known("entities", entities.keys())
                        ),
                    );
                    ok = false;
                }
            }
        }
        let owner = format!("feature view `{name}`");
        let mut schema = self.fields(fv.file, &d.schema, &owner, true);
        // Feast lets a schema list the join keys; they are entity columns, not features, and
        // their dtype types an entity that declares none.
        if let Some(fields) = &mut schema {
            let mut learned = Vec::new();
            fields.retain(
                |f| match entity_columns.iter().find(|(_, c)| c.name == f.name) {
                    Some((entity, _)) => {
                        learned.push((entity.to_string(), f.dtype.clone()));
                        false
                    }
                    None => true,
                },
            );
            for (entity, t) in learned {
                self.inferred.entry(entity).or_insert(t);
            }
        }
        let ttl_seconds = match &d.ttl {
            None => 0,
            Some(t) => match &t.value {
                DurationDef::Seconds(s) => *s,
                DurationDef::Text(text) => match parse_duration(text) {
                    Ok(s) => s,
                    Err(e) => {
                        self.err(fv.file, loc(t), e.to_string(), "e.g. `ttl: 1d`");
                        ok = false;
                        0
                    }
                },
            },
        };
        let (batch_source, stream_source) = match sources.get(&d.source.value).map(|s| &s.kind) {
            Some(SourceKind::File { .. }) => (d.source.value.clone(), None),
            Some(SourceKind::Push { batch_source }) => {
                (batch_source.clone(), Some(d.source.value.clone()))
            }
            Some(SourceKind::Request { .. }) => {
                self.err(
                    fv.file,
                    loc(&d.source),
                    format!("feature view `{name}` cannot read from request source `{}`", d.source.value),
                    "request sources feed on demand feature views; a feature view's source is a file or push source",
                );
                return None;
            }
            None => {
                self.err(
                    fv.file,
                    loc(&d.source),
                    format!(
                        "feature view `{name}` references unknown data source `{}`",
                        d.source.value
                    ),
                    format!(
                        "declare it under `data_sources:`; {}",
                        known("data sources", sources.keys())
                    ),
                );
                return None;
            }
        };
        let features = schema?;
        if features.is_empty() {
            self.err(
                fv.file,
                fv.loc,
                format!("feature view `{name}` has no features"),
                "list at least one feature in `schema:`",
            );
            return None;
        }
        if let Some(SourceKind::File {
            path,
            timestamp_field,
            created_timestamp_column,
            field_mapping,
        }) = sources.get(&batch_source).map(|s| &s.kind)
            && let Some(columns) = self.source_columns(&batch_source, path)
        {
            // field_mapping renames source columns to feature names.
            let source_col = |feature: &str| {
                field_mapping
                    .iter()
                    .find(|(_, to)| to.as_str() == feature)
                    .map_or(feature.to_string(), |(from, _)| from.clone())
            };
            let listing = columns.keys().cloned().collect::<Vec<_>>().join(", ");
            let schema_locs: BTreeMap<&str, Location> = d
                .schema
                .iter()
                .map(|f| (f.value.name.value.as_str(), loc(&f.value.name)))
                .collect();
            let mut wanted: Vec<(String, Location)> = features
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        schema_locs.get(f.name.as_str()).copied().unwrap_or(fv.loc),
                    )
                })
                .collect();
            for (entity, col) in &entity_columns {
                let at = d
                    .entities
                    .iter()
                    .find(|e| e.value == *entity)
                    .map_or(fv.loc, loc);
                wanted.push((col.name.clone(), at));
                if let Some(t) = columns.get(&source_col(&col.name)).and_then(key_dtype_of) {
                    self.inferred.entry(entity.to_string()).or_insert(t);
                }
            }
            wanted.push((timestamp_field.clone(), loc(&d.source)));
            if !created_timestamp_column.is_empty() {
                wanted.push((created_timestamp_column.clone(), loc(&d.source)));
            }
            for (col, at) in wanted {
                let src = source_col(&col);
                if !columns.contains_key(&src) {
                    self.err(
                        fv.file,
                        at,
                        format!("column `{src}` used by feature view `{name}` is not in source `{batch_source}` ({})", path.display()),
                        format!("its columns are: {listing}; fix the name or add a `field_mapping`"),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| FeatureView {
            name: name.clone(),
            entities: entity_columns.iter().map(|(e, _)| e.to_string()).collect(),
            entity_columns: entity_columns.into_iter().map(|(_, c)| c).collect(),
            features,
            ttl_seconds,
            batch_source,
            stream_source,
            online: d.online.unwrap_or(true),
            offline: d.offline.unwrap_or(false),
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    fn odfv(
        &mut self,
        o: &Decl<'_, OnDemandFeatureViewDef>,
        views: &BTreeMap<&str, Decl<'_, FeatureViewDef>>,
        sources: &BTreeMap<String, DataSource>,
    ) -> Option<OnDemandFeatureView> {
        let d = o.def;
        let name = &d.name.value;
        let mut ok = true;
        let mut out_sources = Vec::new();
        if d.sources.is_empty() {
            self.err(
                o.file,
                o.loc,
                format!("on demand feature view `{name}` has no sources"),
                "list feature views and request sources under `sources:`",
            );
            ok = false;
        }
        for s in &d.sources {
            if views.contains_key(s.value.as_str()) {
                out_sources.push(OdfvSource::FeatureView(s.value.clone()));
            } else if let Some(SourceKind::Request { .. }) = sources.get(&s.value).map(|d| &d.kind)
            {
                out_sources.push(OdfvSource::RequestSource(s.value.clone()));
            } else if let Some(src) = sources.get(&s.value) {
                let kind = match src.kind {
                    SourceKind::File { .. } => "file",
                    _ => "push",
                };
                self.err(
                    o.file,
                    loc(s),
                    format!("on demand feature view `{name}` cannot read from {kind} source `{}`", s.value),
                    "its sources are feature views and request sources; read the feature view fed by that source instead",
                );
                ok = false;
            } else {
                let requests = sources
                    .iter()
                    .filter(|(_, d)| matches!(d.kind, SourceKind::Request { .. }))
                    .map(|(n, _)| n.as_str());
                self.err(
                    o.file,
                    loc(s),
                    format!(
                        "on demand feature view `{name}` references unknown source `{}`",
                        s.value
                    ),
                    format!(
                        "{}; {}",
                        known("feature views", views.keys()),
                        known("request sources", requests)
                    ),
                );
                ok = false;
            }
        }
        let owner = format!("on demand feature view `{name}`");
        let features = self.fields(o.file, &d.schema, &owner, false);
        if let Some(p) = &d.plugin {
            self.check_name(o.file, p, "plugin");
        }
        let features = features?;
        if features.is_empty() {
            self.err(
                o.file,
                o.loc,
                format!("{owner} has no output features"),
                "list its outputs in `schema:`",
            );
            return None;
        }
        ok.then(|| OnDemandFeatureView {
            name: name.clone(),
            sources: out_sources,
            features,
            plugin: d
                .plugin
                .as_ref()
                .map_or_else(|| name.clone(), |p| p.value.clone()),
            write_to_online_store: d.write_to_online_store,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    fn feature_service(
        &mut self,
        s: &Decl<'_, FeatureServiceDef>,
        defs: &Definitions,
        views: &BTreeMap<&str, Decl<'_, FeatureViewDef>>,
        odfvs: &BTreeMap<&str, Decl<'_, OnDemandFeatureViewDef>>,
    ) -> Option<FeatureService> {
        let d = s.def;
        let name = &d.name.value;
        let mut ok = true;
        let mut projections = Vec::new();
        let mut served_as: BTreeMap<String, u64> = BTreeMap::new();
        if d.features.is_empty() {
            self.err(
                s.file,
                s.loc,
                format!("feature service `{name}` selects nothing"),
                "list views under `features:`, e.g. `- view: my_view`",
            );
            return None;
        }
        for p in &d.features {
            let p = &p.value;
            let view = p.view.value.as_str();
            // The validated view when it is valid, else the declaration (to still check names).
            let names = |fields: &[Field]| fields.iter().map(|f| f.name.clone()).collect();
            let declared = |schema: &[Spanned<FieldDef>]| {
                schema.iter().map(|f| f.value.name.value.clone()).collect()
            };
            let available: Option<Vec<String>> = defs
                .feature_views
                .get(view)
                .map(|v| names(&v.features))
                .or_else(|| {
                    defs.on_demand_feature_views
                        .get(view)
                        .map(|v| names(&v.features))
                })
                .or_else(|| views.get(view).map(|v| declared(&v.def.schema)))
                .or_else(|| odfvs.get(view).map(|v| declared(&v.def.schema)));
            let Some(available) = available else {
                let all = views.keys().chain(odfvs.keys());
                self.err(
                    s.file,
                    loc(&p.view),
                    format!("feature service `{name}` references unknown view `{view}`"),
                    known("views", all),
                );
                ok = false;
                continue;
            };
            let selected: Vec<String> = match &p.features {
                None => available.clone(),
                Some(list) => {
                    for f in list {
                        if !available.contains(&f.value) {
                            self.err(
                                s.file,
                                loc(f),
                                format!("feature service `{name}` selects `{}`, which view `{view}` does not have", f.value),
                                format!("features of `{view}`: {}", available.join(", ")),
                            );
                            ok = false;
                        }
                    }
                    list.iter().map(|f| f.value.clone()).collect()
                }
            };
            let served = p
                .alias
                .as_ref()
                .map_or(view, |a| a.value.as_str())
                .to_string();
            if let Some(alias) = &p.alias {
                self.check_name(s.file, alias, "alias");
            }
            let here = loc(&p.view).line();
            if let Some(line) = served_as.insert(served.clone(), here) {
                self.err(
                    s.file,
                    loc(&p.view),
                    format!("feature service `{name}` serves `{served}` twice"),
                    format!(
                        "it is already projected at line {line}; give one projection an `alias`"
                    ),
                );
                ok = false;
            }
            projections.push(Projection {
                feature_view_name: view.to_string(),
                feature_view_name_alias: p.alias.as_ref().map(|a| a.value.clone()),
                feature_columns: selected,
                join_key_map: p.join_key_map.clone(),
            });
        }
        ok.then(|| FeatureService {
            name: name.clone(),
            features: projections,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    fn permission(&mut self, p: &Decl<'_, PermissionDef>) -> Option<Permission> {
        let d = p.def;
        let mut ok = true;
        let mut types = Vec::new();
        for t in &d.types {
            if t.value == "ALL_RESOURCE_TYPES" {
                types.extend(ResourceType::ALL);
            } else if let Some(rt) = ResourceType::ALL.iter().find(|r| r.name() == t.value) {
                types.push(*rt);
            } else {
                let names: Vec<&str> = ResourceType::ALL.iter().map(|r| r.name()).collect();
                self.err(
                    p.file,
                    loc(t),
                    format!("unknown resource type `{}`", t.value),
                    format!("use ALL_RESOURCE_TYPES or one of: {}", names.join(", ")),
                );
                ok = false;
            }
        }
        let mut actions = Vec::new();
        for a in &d.actions {
            let group: &[Action] = match a.value.as_str() {
                "ALL_ACTIONS" => &Action::ALL,
                "READ" => &[Action::ReadOffline, Action::ReadOnline],
                "WRITE" => &[Action::WriteOffline, Action::WriteOnline],
                "CRUD" => &[
                    Action::Create,
                    Action::Describe,
                    Action::Update,
                    Action::Delete,
                ],
                other => match Action::ALL.iter().find(|x| x.name() == other) {
                    Some(x) => std::slice::from_ref(x),
                    None => {
                        let names: Vec<&str> = Action::ALL.iter().map(|x| x.name()).collect();
                        self.err(
                            p.file,
                            loc(a),
                            format!("unknown action `{other}`"),
                            format!(
                                "use ALL_ACTIONS, READ, WRITE, CRUD or one of: {}",
                                names.join(", ")
                            ),
                        );
                        ok = false;
                        &[]
                    }
                },
            };
            for x in group {
                if !actions.contains(x) {
                    actions.push(*x);
                }
            }
        }
        for pat in &d.name_patterns {
            if let Err(e) = regex::Regex::new(&pat.value) {
                let text = e.to_string();
                let last = text.lines().last().unwrap_or_default().trim();
                let first = last.strip_prefix("error: ").unwrap_or(last).to_string();
                self.err(
                    p.file,
                    loc(pat),
                    format!("name pattern `{}` is not a valid regular expression: {first}", pat.value),
                    "name_patterns are regular expressions matched against resource names, e.g. `driver_.*`",
                );
                ok = false;
            }
        }
        let policy = match d.policy.as_ref().map(|p| (&p.value, loc(p))) {
            None => Policy::AllowAll,
            Some((pol, at)) => match (&pol.roles, &pol.groups, &pol.namespaces) {
                (None, None, None) => Policy::AllowAll,
                (Some(roles), None, None) => Policy::RoleBased {
                    roles: roles.clone(),
                },
                (None, Some(groups), None) => Policy::GroupBased {
                    groups: groups.clone(),
                },
                (None, None, Some(namespaces)) => Policy::NamespaceBased {
                    namespaces: namespaces.clone(),
                },
                (None, Some(groups), Some(namespaces)) => Policy::CombinedGroupNamespace {
                    groups: groups.clone(),
                    namespaces: namespaces.clone(),
                },
                (Some(_), _, _) => {
                    self.err(
                        p.file,
                        at,
                        "a policy cannot combine `roles` with `groups` or `namespaces`",
                        "Feast policies are role based, group based, namespace based, or groups and namespaces combined: split it into two permissions",
                    );
                    ok = false;
                    Policy::AllowAll
                }
            },
        };
        ok.then(|| Permission {
            name: d.name.value.clone(),
            types,
            name_patterns: d.name_patterns.iter().map(|p| p.value.clone()).collect(),
            required_tags: d.required_tags.clone(),
            actions,
            policy,
            tags: d.tags.clone(),
        })
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
