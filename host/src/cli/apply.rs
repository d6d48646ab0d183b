//! `edgefeat apply` and `edgefeat plan`.

use anyhow::{Context, Result};

use super::Reported;
use crate::online;
use crate::registry::{
    FeatureView, Registry, RegistryLock, diff_and_merge, load_registry, save_registry,
};
use crate::repo::RepoConfig;
use crate::repo::definitions::load_definitions;
use crate::repo::validate::validate;

/// Whether to change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Apply,
    Plan,
}

pub(super) fn run(config: &RepoConfig, mode: Mode) -> Result<()> {
    let (files, parse_errors) = load_definitions(config).with_context(|| {
        format!(
            "cannot read the definitions in {}",
            config.repo_path.display()
        )
    })?;
    let (defs, project) = match validate(config, &files, parse_errors) {
        Ok(ok) => ok,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}\n");
            }
            let n = problems.len();
            let what = if mode == Mode::Apply {
                "nothing was applied"
            } else {
                "no plan"
            };
            return Err(Reported(format!(
                "error: {n} problem{} in the definitions; {what}",
                if n == 1 { "" } else { "s" }
            ))
            .into());
        }
    };
    // Held until the new registry is saved: nobody else rewrites it in between.
    let _lock = match mode {
        Mode::Apply => Some(RegistryLock::acquire(&config.registry_path)?),
        Mode::Plan => None,
    };
    let old = load_registry(&config.registry_path)?;
    let (new, diff) = diff_and_merge(old.as_ref(), defs, project, chrono::Utc::now());

    if mode == Mode::Apply {
        println!("Applying changes for project {}", config.project);
    }
    for change in &diff.changes {
        println!("{change}");
    }
    if diff.is_empty() {
        println!("No changes to registry");
    }
    if mode == Mode::Plan {
        return Ok(());
    }

    let (keep, delete) = online_views(old.as_ref(), &new);
    let store = online::open(config)?;
    let infra = store.update(&config.project, &keep, &delete)?;
    if !infra.is_empty() {
        println!();
        for change in infra {
            println!("{}", change.0);
        }
    }
    // Nothing changed: leave the file (and its mtime, which servers watch) alone.
    if old.is_none() || !diff.is_empty() {
        save_registry(&config.registry_path, &new)?;
    }
    Ok(())
}

/// The views the online store keeps, and those whose data it drops: removed from the
/// registry, or no longer served online.
fn online_views<'a>(
    old: Option<&'a Registry>,
    new: &'a Registry,
) -> (Vec<&'a FeatureView>, Vec<&'a FeatureView>) {
    let keep: Vec<&FeatureView> = new
        .feature_views
        .values()
        .map(|v| &v.spec)
        .filter(|v| v.online)
        .collect();
    let delete = old
        .map(|o| {
            o.feature_views
                .values()
                .map(|v| &v.spec)
                .filter(|v| v.online && !keep.iter().any(|k| k.name == v.name))
                .collect()
        })
        .unwrap_or_default();
    (keep, delete)
}
