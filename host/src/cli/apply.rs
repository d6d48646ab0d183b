//! `edgefeat apply` and `edgefeat plan`.

use anyhow::{Context, Result};

use super::Reported;
use crate::online;
use crate::registry::{
    FeatureView, Registry, RegistryLock, diff_and_merge, is_feast_registry, load_registry,
    save_registry,
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
    if is_feast_registry(&config.registry_path) {
        anyhow::bail!(
            "{} is Feast's registry: `feast apply` writes it, and edgefeat never rewrites definitions there. Run `feast apply` as before and `edgefeat serve` reads the result; or, to leave Python definitions behind, `edgefeat import --out DIR` writes them as YAML for an edgefeat repo of its own",
            config.registry_path.display()
        );
    }
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
    let old = load_registry(&config.registry_path, &config.project)?;
    let (new, diff) = diff_and_merge(old.as_ref(), defs, project, chrono::Utc::now());

    check_plugins(config, &new)?;
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
    let keep: Vec<&FeatureView> = keep.iter().collect();
    let delete: Vec<&FeatureView> = delete.iter().collect();
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

/// Loads the plugin of every on-demand view computed at request time and checks its
/// `describe()` against the view: a missing plugin or a mismatch is refused here, not found
/// by the first request.
fn check_plugins(config: &RepoConfig, new: &Registry) -> Result<()> {
    let mut bound: Vec<(&str, &str)> = new
        .on_demand_feature_views
        .values()
        .filter(|o| !o.spec.write_to_online_store)
        .map(|o| (o.spec.name.as_str(), o.spec.plugin.as_str()))
        .collect();
    if bound.is_empty() {
        return Ok(());
    }
    bound.sort_by_key(|(_, p)| *p);
    let engine = crate::plugins::PluginEngine::new(config.plugins.limits)?;
    let host = crate::plugins::transform_host(engine, config);
    host.rescan();
    let mut problems = Vec::new();
    let mut checked: Vec<&str> = Vec::new();
    for (view, plugin) in bound {
        if checked.contains(&plugin) {
            continue;
        }
        match host.get(plugin) {
            None => problems.push(format!(
                "on demand feature view `{view}`: {}",
                host.missing_reason(plugin)
            )),
            Some(p) => {
                checked.push(plugin);
                problems.extend(crate::plugins::check::registry_problems(
                    new,
                    plugin,
                    p.info(),
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!(
            "error: {p}
"
        );
    }
    let n = problems.len();
    Err(Reported(format!(
        "error: {n} plugin problem{}; nothing was applied (`edgefeat plugin check FILE` shows what a plugin declares)",
        if n == 1 { "" } else { "s" }
    ))
    .into())
}

/// The views the online store keeps, and those whose data it drops: removed from the
/// registry, or no longer served online.
fn online_views(old: Option<&Registry>, new: &Registry) -> (Vec<FeatureView>, Vec<FeatureView>) {
    let keep: Vec<FeatureView> = stored_views(new);
    let delete = old
        .map(|o| {
            stored_views(o)
                .into_iter()
                .filter(|v| !keep.iter().any(|k| k.name == v.name))
                .collect()
        })
        .unwrap_or_default();
    (keep, delete)
}

/// Every table a registry has in the online store: its online feature views, and its
/// on-demand views that store their values.
fn stored_views(registry: &Registry) -> Vec<FeatureView> {
    let views = registry
        .feature_views
        .values()
        .map(|v| &v.spec)
        .filter(|v| v.online)
        .cloned();
    let odfvs = registry
        .on_demand_feature_views
        .values()
        .filter(|o| o.spec.write_to_online_store)
        .map(|o| registry.stored_odfv_view(&o.spec));
    views.chain(odfvs).collect()
}
