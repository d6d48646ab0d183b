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

mod entities;
mod fields;
mod permissions;
mod services;
mod sources;
mod views;

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
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
