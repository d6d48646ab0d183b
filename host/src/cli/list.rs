//! The listing commands (`entities list`, `feature-views list`, ...) and `registry-dump`,
//! printed as Feast prints them: a plain table with upper-case headers.

use std::io::Write;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::require_registry;
use crate::registry::{Policy, Registry, SourceKind, Stored};
use crate::repo::RepoConfig;

/// `list`, or `describe NAME`.
#[derive(Debug, Args)]
pub struct ListCommand {
    #[command(subcommand)]
    action: ListAction,
}

#[derive(Debug, Subcommand)]
enum ListAction {
    /// List them, one per line.
    List,
    /// Print one as JSON.
    Describe {
        /// Its name.
        name: String,
    },
}

/// Writes `text` to stdout. Unlike `println!`, which panics when the reader has gone
/// (`edgefeat registry-dump | head -1` on a large registry), a closed pipe comes back as an
/// error that `main` turns into a quiet exit.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints rows under headers, columns padded to their widest cell, two spaces apart.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text.push_str(padded.join("  ").trim_end());
        text.push('\n');
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
    emit(&text)
}

fn describe<T: Serialize>(
    kind: &str,
    map: &std::collections::BTreeMap<String, Stored<T>>,
    name: &str,
) -> Result<()> {
    match map.get(name) {
        Some(obj) => emit(&format!("{}\n", serde_json::to_string_pretty(obj)?)),
        None => bail!("{kind} `{name}` is not in the registry"),
    }
}

fn braces(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

macro_rules! list_or_describe {
    ($fn:ident, $kind:literal, $field:ident, $headers:expr, $row:expr) => {
        /// Lists or describes the objects of one kind.
        pub(super) fn $fn(config: &RepoConfig, cmd: &ListCommand) -> Result<()> {
            let r = require_registry(config)?;
            match &cmd.action {
                ListAction::Describe { name } => describe($kind, &r.$field, name),
                ListAction::List => {
                    let row = $row;
                    print_table(
                        &$headers,
                        r.$field.values().map(|o| row(&r, &o.spec)).collect(),
                    )
                }
            }
        }
    };
}

list_or_describe!(
    entities,
    "entity",
    entities,
    ["NAME", "DESCRIPTION", "TYPE"],
    |_: &Registry, e: &crate::registry::Entity| {
        vec![
            e.name.clone(),
            e.description.clone(),
            format!("ValueType.{}", e.value_type.value_type()),
        ]
    }
);

list_or_describe!(
    odfvs,
    "on demand feature view",
    on_demand_feature_views,
    ["NAME"],
    |_: &Registry, v: &crate::registry::OnDemandFeatureView| { vec![v.name.clone()] }
);

list_or_describe!(
    feature_services,
    "feature service",
    feature_services,
    ["NAME", "FEATURES"],
    |_: &Registry, s: &crate::registry::FeatureService| {
        let refs: Vec<String> = s
            .features
            .iter()
            .flat_map(|p| {
                let view = p
                    .feature_view_name_alias
                    .as_deref()
                    .unwrap_or(&p.feature_view_name);
                p.feature_columns.iter().map(move |f| format!("{view}:{f}"))
            })
            .collect();
        vec![s.name.clone(), refs.join(", ")]
    }
);

list_or_describe!(
    data_sources,
    "data source",
    data_sources,
    ["NAME", "CLASS"],
    |_: &Registry, s: &crate::registry::DataSource| {
        let class = match &s.kind {
            SourceKind::File { .. } => "FileSource",
            SourceKind::Push { .. } => "PushSource",
            SourceKind::Request { .. } => "RequestSource",
            // A Feast registry's warehouse or stream source: Feast's type name.
            SourceKind::Other { source_type, .. } => source_type,
        };
        vec![s.name.clone(), class.to_string()]
    }
);

list_or_describe!(
    permissions,
    "permission",
    permissions,
    ["NAME", "TYPES", "NAME_PATTERNS", "ACTIONS", "POLICY"],
    |_: &Registry, p: &crate::registry::Permission| {
        let types: Vec<String> = p.types.iter().map(|t| t.name().to_string()).collect();
        let actions: Vec<String> = p.actions.iter().map(|a| a.name().to_string()).collect();
        let policy = match &p.policy {
            Policy::AllowAll => "allow all".to_string(),
            Policy::RoleBased { roles } => format!("roles: {}", roles.join(", ")),
            Policy::GroupBased { groups } => format!("groups: {}", groups.join(", ")),
            Policy::NamespaceBased { namespaces } => {
                format!("namespaces: {}", namespaces.join(", "))
            }
            Policy::CombinedGroupNamespace { groups, namespaces } => {
                format!(
                    "groups: {}; namespaces: {}",
                    groups.join(", "),
                    namespaces.join(", ")
                )
            }
        };
        vec![
            p.name.clone(),
            types.join(", "),
            p.name_patterns.join(", "),
            actions.join(", "),
            policy,
        ]
    }
);

/// `feature-views list` shows on-demand views too, with their type, as Feast's does.
pub(super) fn feature_views(config: &RepoConfig, cmd: &ListCommand) -> Result<()> {
    let r = require_registry(config)?;
    if let ListAction::Describe { name } = &cmd.action {
        return match r.on_demand_feature_views.get(name) {
            Some(_) => describe("on demand feature view", &r.on_demand_feature_views, name),
            None => describe("feature view", &r.feature_views, name),
        };
    }
    let mut rows: Vec<Vec<String>> = r
        .feature_views
        .values()
        .map(|v| {
            vec![
                v.spec.name.clone(),
                braces(&v.spec.entities),
                "FeatureView".to_string(),
            ]
        })
        .collect();
    rows.extend(r.on_demand_feature_views.values().map(|v| {
        vec![
            v.spec.name.clone(),
            "n/a".to_string(),
            "OnDemandFeatureView".to_string(),
        ]
    }));
    print_table(&["NAME", "ENTITIES", "TYPE"], rows)
}

/// `registry-dump`: the whole registry as JSON.
pub(super) fn registry_dump(config: &RepoConfig) -> Result<()> {
    let text = serde_json::to_string_pretty(&require_registry(config)?)?;
    emit(&format!("{text}\n"))
}
