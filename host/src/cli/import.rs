//! `edgefeat import --out DIR`: the repo's registry (edgefeat's, or a Feast `registry.db`)
//! written as edgefeat definitions, in a new repo directory whose `apply` registers the same
//! objects and whose `serve` reads the same online store.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::Args;

use crate::registry::{Registry, SourceKind, export_definitions};
use crate::repo::RepoConfig;
use crate::repo::config::{AuthConfig, KvConfig, OnlineStoreConfig, YAML_BASE64_ENV, expand_vars};
use crate::repo::definitions::find_definition_files;
use crate::repo::yaml_emit::{Yaml, to_yaml};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The directory to write the new repo into (created when missing). Relative paths are
    /// taken from the current directory (or -c DIR).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite DIR's feature_definitions.yaml and feature_store.yaml when they exist.
    #[arg(long)]
    pub force: bool,
}

/// The definitions file written into the new repo.
const DEFINITIONS_FILE: &str = "feature_definitions.yaml";
/// The new repo's registry, relative to it (the default path, as `init` writes it).
const REGISTRY_PATH: &str = "data/registry.db";

pub(super) fn run(config: &RepoConfig, cwd: &Path, args: &ImportArgs) -> Result<()> {
    let repo = &config.repo_path;
    let out = normalize(&cwd.join(&args.out));
    if canonical(&out) == canonical(repo) {
        bail!(
            "--out {}: that is this repo; import into a new directory",
            out.display()
        );
    }
    if out.exists() && !out.is_dir() {
        bail!("--out {}: not a directory", out.display());
    }
    let defs_path = out.join(DEFINITIONS_FILE);
    let yaml_path = out.join("feature_store.yaml");
    if !args.force {
        let existing: Vec<String> = [&defs_path, &yaml_path]
            .iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist{}: pass --force to overwrite, or choose another --out",
                existing.join(" and "),
                if existing.len() == 1 { "s" } else { "" }
            );
        }
    }
    // The source registry may be Feast's: the new repo must never write to it.
    let out_registry = out.join(REGISTRY_PATH);
    if canonical(&out_registry) == canonical(&config.registry_path) {
        bail!(
            "the new repo's registry {} would be this repo's registry; choose another --out",
            out_registry.display()
        );
    }

    let mut registry = super::require_registry(config)?;
    absolute_source_paths(&mut registry, repo);
    let exported = export_definitions(&registry);
    let project = registry.project.spec.name.clone();
    let (store_yaml, mut warnings) = feature_store_yaml(config, &project)?;
    warnings.extend(exported.warnings.iter().cloned());
    warnings.extend(plugin_warnings(config, &registry));
    if canonical(&out).starts_with(canonical(repo)) {
        let rel = out.strip_prefix(repo).unwrap_or(&out);
        warnings.push(format!(
            "{} is inside this repo, whose `apply` would read {DEFINITIONS_FILE} there too: add `{}` to {}",
            out.display(),
            rel.display(),
            repo.join(".edgefeatignore").display()
        ));
    }
    if out.is_dir() {
        let others: Vec<String> = find_definition_files(&out, Some(&yaml_path))
            .with_context(|| format!("cannot read {}", out.display()))?
            .into_iter()
            .filter(|f| f.as_os_str() != DEFINITIONS_FILE)
            .map(|f| f.display().to_string())
            .collect();
        if !others.is_empty() {
            warnings.push(format!(
                "`apply` in {} also reads {}",
                out.display(),
                others.join(", ")
            ));
        }
    }

    let mut defs_text = format!(
        "# Written by `edgefeat import` from the registry {} (project {}).\n# `edgefeat apply` here registers the same objects; docs/definitions.md describes each field.\n",
        comment(&config.registry_path.display().to_string()),
        comment(&project)
    );
    if !exported.warnings.is_empty() {
        defs_text.push_str("#\n# Not exactly as in that registry:\n");
        for w in &exported.warnings {
            defs_text.push_str(&format!("# - {}\n", comment(w)));
        }
    }
    defs_text.push('\n');
    defs_text.push_str(&exported.text);

    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(&defs_path, defs_text)
        .with_context(|| format!("cannot write {}", defs_path.display()))?;
    std::fs::write(&yaml_path, store_yaml)
        .with_context(|| format!("cannot write {}", yaml_path.display()))?;

    println!("Wrote {}: {}", defs_path.display(), summary(&registry));
    println!(
        "Wrote {}: project {project}, its own registry {REGISTRY_PATH}, and this repo's online store ({})",
        yaml_path.display(),
        store_text(&config.online_store)
    );
    println!(
        "The two repos share that online store: `edgefeat teardown` in either removes its data."
    );
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    println!("\nNext: cd {} && edgefeat apply", out.display());
    Ok(())
}

/// `1 entity, 3 data sources, ...`.
fn summary(r: &Registry) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    [
        count(r.entities.len(), "entity", "entities"),
        count(r.data_sources.len(), "data source", "data sources"),
        count(r.feature_views.len(), "feature view", "feature views"),
        count(
            r.on_demand_feature_views.len(),
            "on demand feature view",
            "on demand feature views",
        ),
        count(
            r.feature_services.len(),
            "feature service",
            "feature services",
        ),
        count(r.permissions.len(), "permission", "permissions"),
    ]
    .join(", ")
}

fn store_text(store: &OnlineStoreConfig) -> String {
    match store {
        OnlineStoreConfig::Lmdb(c) => format!("lmdb at {}", c.path.display()),
        OnlineStoreConfig::Plugin(p) => format!("store adapter `{}`", p.plugin),
        OnlineStoreConfig::Sqlite(c) => format!("sqlite at {}", c.path.display()),
        OnlineStoreConfig::Redis(c) => c.client.display.clone(),
    }
}

/// Text safe inside a `#` comment: no line breaks or other control characters.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Makes the file sources' relative paths absolute: they are relative to the source repo,
/// and must still resolve from the new one. URLs (`s3://...`) are left as they are.
fn absolute_source_paths(registry: &mut Registry, repo: &Path) {
    for s in registry.data_sources.values_mut() {
        if let SourceKind::File { path, .. } = &mut s.spec.kind {
            let url = path.to_str().is_some_and(|p| p.contains("://"));
            if !path.is_absolute() && !url {
                *path = normalize(&repo.join(&*path));
            }
        }
    }
}

/// The on-demand views computed at request time whose plugin is not in the plugins
/// directory: `apply` refuses them until it is (a Feast repo's views are Python, not plugins).
fn plugin_warnings(config: &RepoConfig, registry: &Registry) -> Vec<String> {
    registry
        .on_demand_feature_views
        .values()
        .map(|o| &o.spec)
        .filter(|o| !o.write_to_online_store)
        .filter_map(|o| {
            let file = config.plugins.path.join(format!("{}.wasm", o.plugin));
            (!file.exists()).then(|| {
                format!(
                    "on demand feature view `{}` is computed by plugin `{}`, and there is no {}: `apply` refuses the view until there is (`edgefeat plugin new {}` starts one)",
                    o.name,
                    o.plugin,
                    file.display(),
                    o.plugin
                )
            })
        })
        .collect()
}

/// The new repo's `feature_store.yaml`: the source's, with the project of the registry, the
/// registry at [`REGISTRY_PATH`] of the new repo, and the paths that name the online store,
/// the plugins and the auth files made absolute, so both repos use the same ones. `$VAR`
/// references are kept as written (unexpanded: no secret is copied), and so is a path
/// holding one. Returns the text and what to tell the user.
fn feature_store_yaml(config: &RepoConfig, project: &str) -> Result<(String, Vec<String>)> {
    let mut warnings = Vec::new();
    let (text, origin) = match &config.config_file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            let encoded = std::env::var(YAML_BASE64_ENV).unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .with_context(|| format!("{YAML_BASE64_ENV} is not valid base64"))?;
            warnings.push(format!(
                "{YAML_BASE64_ENV} is set: unset it before running edgefeat in the new repo, or it replaces the feature_store.yaml written there"
            ));
            (
                String::from_utf8(bytes)
                    .with_context(|| format!("{YAML_BASE64_ENV} does not decode to UTF-8"))?,
                YAML_BASE64_ENV.to_string(),
            )
        }
    };
    if let Some(name) = config.config_file.as_ref().and_then(|p| p.file_name())
        && name != "feature_store.yaml"
    {
        warnings.push(format!(
            "this repo's config is {}; the new repo's is feature_store.yaml, so run edgefeat there without -f (and without FEAST_FS_YAML_FILE_PATH)",
            name.to_string_lossy()
        ));
    }
    // Unexpanded, so that `${VAR}` stays a reference; a file that only parses expanded (a
    // variable inside a flow collection) is copied expanded.
    let value: serde_json::Value = match serde_saphyr::from_str(&text) {
        Ok(v) => v,
        Err(_) => {
            let expanded = expand_vars(&text, |k| std::env::var(k).ok());
            warnings.push(format!(
                "{origin} only parses with its variables expanded: the new feature_store.yaml holds their values"
            ));
            serde_saphyr::from_str(&expanded)
                .map_err(|e| anyhow::anyhow!("{origin}: {}", crate::repo::yaml_error_text(&e)))?
        }
    };
    let Yaml::Map(mut doc) = with_references(&value) else {
        bail!("{origin}: not a mapping of keys");
    };
    set(&mut doc, &["project"], Yaml::str(project));
    match lookup(&mut doc, "registry") {
        Some(Yaml::Map(m)) => set(m, &["path"], Yaml::str(REGISTRY_PATH)),
        _ => set(&mut doc, &["registry"], Yaml::str(REGISTRY_PATH)),
    }
    let absolute = |p: &Path| Yaml::Str(p.to_string_lossy().into_owned());
    match &config.online_store {
        OnlineStoreConfig::Lmdb(c) => {
            set_path(&mut doc, &["online_store", "path"], absolute(&c.path));
        }
        OnlineStoreConfig::Sqlite(c) => {
            set_path(&mut doc, &["online_store", "path"], absolute(&c.path));
        }
        OnlineStoreConfig::Plugin(p) => match &p.kv {
            Some(KvConfig::Lmdb(kv)) => {
                set_path(
                    &mut doc,
                    &["online_store", "kv", "path"],
                    absolute(&kv.path),
                );
            }
            Some(KvConfig::Redis(_)) | None => {}
        },
        OnlineStoreConfig::Redis(_) => {}
    }
    set_path(
        &mut doc,
        &["plugins", "path"],
        absolute(&config.plugins.path),
    );
    match &config.auth {
        AuthConfig::Oidc(o) => {
            if let Some(p) = &o.jwks_path {
                set_path(&mut doc, &["auth", "jwks_path"], absolute(p));
            }
            if let Some(p) = &o.ca_cert_path {
                set_path(&mut doc, &["auth", "ca_cert_path"], absolute(p));
            }
        }
        AuthConfig::NoAuth => {}
    }
    let header = format!(
        "# Written by `edgefeat import` from {}: the same project, online store and plugins\n# (their paths made absolute), and the registry of this directory.\n\n",
        comment(&origin)
    );
    Ok((format!("{header}{}", to_yaml(&doc)), warnings))
}

/// A JSON value as YAML, strings holding `$` written as they are so they expand as before.
fn with_references(value: &serde_json::Value) -> Yaml {
    match value {
        serde_json::Value::String(s) if s.contains('$') => Yaml::Verbatim(s.clone()),
        serde_json::Value::Array(items) => Yaml::Seq(items.iter().map(with_references).collect()),
        serde_json::Value::Object(map) => Yaml::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), with_references(v)))
                .collect(),
        ),
        other => Yaml::from_json(other),
    }
}

fn lookup<'a>(map: &'a mut [(String, Yaml)], key: &str) -> Option<&'a mut Yaml> {
    map.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Sets `keys` (a path of nested mappings, created as needed) to `value`.
fn set(map: &mut Vec<(String, Yaml)>, keys: &[&str], value: Yaml) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if lookup(map, first).is_none() {
        map.push((first.to_string(), Yaml::Map(Vec::new())));
    }
    let Some(slot) = lookup(map, first) else {
        return;
    };
    if rest.is_empty() {
        *slot = value;
        return;
    }
    if !matches!(slot, Yaml::Map(_)) {
        *slot = Yaml::Map(Vec::new());
    }
    if let Yaml::Map(inner) = slot {
        set(inner, rest, value);
    }
}

/// [`set`], unless the path is written with a `$VAR` reference, which is kept.
fn set_path(map: &mut Vec<(String, Yaml)>, keys: &[&str], value: Yaml) {
    let mut node: Option<&Yaml> = None;
    let mut level: &[(String, Yaml)] = map;
    for k in keys {
        node = level.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        match node {
            Some(Yaml::Map(inner)) => level = inner,
            _ => break,
        }
    }
    if !matches!(node, Some(Yaml::Verbatim(_))) {
        set(map, keys, value);
    }
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` with its longest existing ancestor canonicalized (symlinks resolved), so a path
/// that does not exist yet compares with one that does.
fn canonical(path: &Path) -> PathBuf {
    let path = normalize(path);
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(c, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path,
        }
    }
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
