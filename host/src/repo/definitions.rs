//! The declarative definitions format: YAML files in the repo that mirror Feast's Python
//! objects field for field (see `docs/definitions.md`).
//!
//! Names and references are read as [`Spanned`] so validation can point at the exact line of
//! every problem; the structs here are only the input form, and [`crate::repo::validate`] turns
//! them into the registry model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
pub use serde_saphyr::Spanned;

use crate::repo::{Diagnostic, RepoConfig};

/// Tags: free-form string labels on any object.
pub type Tags = BTreeMap<String, String>;

/// One definitions file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // each section holds the objects its name says
pub struct DefinitionsFile {
    #[serde(default)]
    pub project: Option<Spanned<ProjectDef>>,
    #[serde(default)]
    pub entities: Vec<Spanned<EntityDef>>,
    #[serde(default)]
    pub data_sources: Vec<Spanned<DataSourceDef>>,
    #[serde(default)]
    pub feature_views: Vec<Spanned<FeatureViewDef>>,
    #[serde(default)]
    pub on_demand_feature_views: Vec<Spanned<OnDemandFeatureViewDef>>,
    #[serde(default)]
    pub feature_services: Vec<Spanned<FeatureServiceDef>>,
    #[serde(default)]
    pub permissions: Vec<Spanned<PermissionDef>>,
}

/// `project:` (Feast's `Project`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ProjectDef {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// An entity (Feast's `Entity`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct EntityDef {
    pub name: Spanned<String>,
    /// Feast's spelling: a list that must hold exactly one key.
    #[serde(default)]
    pub join_keys: Option<Spanned<Vec<String>>>,
    /// The singular spelling, as the registry stores it.
    #[serde(default)]
    pub join_key: Option<Spanned<String>>,
    /// The key's dtype; inferred from a source file when left out, as Feast does.
    #[serde(default)]
    pub value_type: Option<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A data source: `type: file`, `push` or `request` (Feast's `FileSource`, `PushSource`,
/// `RequestSource`). One struct for all three keeps the YAML flat; validation rejects the
/// fields that do not belong to the given type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DataSourceDef {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub timestamp_field: Option<Spanned<String>>,
    #[serde(default)]
    pub created_timestamp_column: Option<Spanned<String>>,
    #[serde(default)]
    pub field_mapping: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub batch_source: Option<Spanned<String>>,
    #[serde(default)]
    pub schema: Option<Spanned<Vec<Spanned<FieldDef>>>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A typed field of a schema (Feast's `Field`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FieldDef {
    pub name: Spanned<String>,
    pub dtype: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    /// Makes the field the view's vector field, searched by `/search` (Feast's `vector_index`).
    #[serde(default)]
    pub vector_index: Option<Spanned<bool>>,
    /// How many numbers each vector holds; required with `vector_index: true`.
    #[serde(default)]
    pub vector_length: Option<Spanned<i64>>,
    /// `L2`, `cosine` or `inner_product`; overrides a request's `distance_metric`.
    #[serde(default)]
    pub vector_search_metric: Option<Spanned<String>>,
}

/// A ttl: `1d`-style text or a number of seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum DurationDef {
    Seconds(u64),
    Text(String),
}

/// A feature view (Feast's `FeatureView`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FeatureViewDef {
    pub name: Spanned<String>,
    #[serde(default)]
    pub entities: Vec<Spanned<String>>,
    pub schema: Vec<Spanned<FieldDef>>,
    pub source: Spanned<String>,
    #[serde(default)]
    pub ttl: Option<Spanned<DurationDef>>,
    #[serde(default)]
    pub online: Option<bool>,
    #[serde(default)]
    pub offline: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// An on-demand feature view, computed per request by a WASM plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OnDemandFeatureViewDef {
    pub name: Spanned<String>,
    /// Feature views and request sources, by name.
    pub sources: Vec<Spanned<String>>,
    pub schema: Vec<Spanned<FieldDef>>,
    /// The plugin that computes it; defaults to the view's name.
    #[serde(default)]
    pub plugin: Option<Spanned<String>>,
    #[serde(default)]
    pub write_to_online_store: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A feature service (Feast's `FeatureService`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FeatureServiceDef {
    pub name: Spanned<String>,
    pub features: Vec<Spanned<ProjectionDef>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub owner: Option<String>,
}

/// One projection of a feature service: a whole view, or some of its features, optionally
/// renamed (`view[["a"]]`, `view.with_name(alias)` and `with_join_key_map` in Python).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ProjectionDef {
    pub view: Spanned<String>,
    #[serde(default)]
    pub features: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub alias: Option<Spanned<String>>,
    #[serde(default)]
    pub join_key_map: BTreeMap<String, String>,
}

/// A permission (Feast's `Permission`), read by the server's access control.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PermissionDef {
    pub name: Spanned<String>,
    pub types: Vec<Spanned<String>>,
    #[serde(default)]
    pub name_patterns: Vec<Spanned<String>>,
    #[serde(default)]
    pub required_tags: Tags,
    pub actions: Vec<Spanned<String>>,
    #[serde(default)]
    pub policy: Option<Spanned<PolicyDef>>,
    #[serde(default)]
    pub tags: Tags,
}

/// Who a permission grants to: roles, groups, namespaces, or groups and namespaces together.
/// Left out, it allows every authenticated user (Feast's `AllowAll`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PolicyDef {
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
}

/// A parsed definitions file and where it came from.
#[derive(Debug)]
pub struct SourceFile {
    /// The path relative to the repo, as diagnostics print it.
    pub path: PathBuf,
    /// Its content.
    pub defs: DefinitionsFile,
}

/// Directories never searched for definitions: VCS and build output, and the repo's data.
const SKIPPED_DIRS: [&str; 4] = ["target", "node_modules", "data", "plugins"];

/// Finds the definition files of a repo: every `*.yaml`/`*.yml` below it except config files
/// (`feature_store*.yaml`, such as a `feature_store.prod.yaml` kept beside the main one, and
/// the config file in use, `config_file`, whatever its name), skipping hidden directories, [`SKIPPED_DIRS`] and the paths listed in
/// `.edgefeatignore` (one repo-relative path per line, `#` comments). Sorted, so the order in
/// which problems are reported is stable.
pub fn find_definition_files(
    repo: &Path,
    config_file: Option<&Path>,
) -> std::io::Result<Vec<PathBuf>> {
    let ignore: Vec<PathBuf> = match std::fs::read_to_string(repo.join(".edgefeatignore")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| PathBuf::from(l.trim_end_matches('/')))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(repo.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let child = rel.join(&*name);
            if name.starts_with('.') || ignore.iter().any(|i| child.starts_with(i)) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !(rel.as_os_str().is_empty() && SKIPPED_DIRS.contains(&name.as_ref())) {
                    stack.push(child);
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && !name.starts_with("feature_store")
                && config_file.is_none_or(|c| repo.join(&child) != c)
            {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and parses every definitions file of the repo. A file that cannot be parsed gives a
/// diagnostic and is left out; the others are still returned so that every problem of a run
/// can be reported at once.
pub fn load_definitions(
    config: &RepoConfig,
) -> Result<(Vec<SourceFile>, Vec<Diagnostic>), std::io::Error> {
    let repo = &config.repo_path;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for rel in find_definition_files(repo, config.config_file.as_deref())? {
        let text = std::fs::read_to_string(repo.join(&rel))?;
        match parse_definitions(&text) {
            Ok(defs) => files.push(SourceFile { path: rel, defs }),
            Err(e) => errors.push(Diagnostic::from_yaml(&rel, &e)),
        }
    }
    Ok((files, errors))
}

/// Parses one definitions file. An empty file (or one of only comments) defines nothing.
pub fn parse_definitions(text: &str) -> Result<DefinitionsFile, serde_saphyr::Error> {
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    if blank {
        return Ok(DefinitionsFile::default());
    }
    serde_saphyr::from_str(text)
}
