//! `edgefeat init`: a new repo equivalent to Feast's `local` template
//! (docs/feast-compat.md#the-local-template): the driver entity, its two feature views, the push
//! and request sources, the two on-demand views, the three feature services, and a generated
//! `data/driver_stats.parquet`. With `--template rag`,
//! a documents view with a vector field and `data/documents.parquet` instead (see
//! [`crate::repo::rag_data`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::repo::config::check_project_name;
use crate::repo::driver_data::write_driver_stats;

/// The definitions file of the template, with `{project}` to fill in.
const DEFINITIONS: &str = include_str!("template/feature_definitions.yaml");
const FEATURE_STORE_YAML: &str = include_str!("template/feature_store.yaml");
const README: &str = include_str!("template/README.md");
const GITIGNORE: &str = "data/online_store.lmdb/\ndata/registry.db\ndata/registry.db.lock\n";
const RAG_DEFINITIONS: &str = include_str!("template_rag/feature_definitions.yaml");
const RAG_FEATURE_STORE_YAML: &str = include_str!("template_rag/feature_store.yaml");
const RAG_README: &str = include_str!("template_rag/README.md");

/// Which repo `init` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Template {
    /// Feast's `local` template: the driver demo.
    #[default]
    Local,
    /// Documents with a vector field, for `/search`.
    Rag,
}

/// Creates the repo `name` from `template` inside `parent` and returns its path; see
/// [`init_repo`].
pub fn init_template(
    parent: &Path,
    name: &str,
    now: DateTime<Utc>,
    template: Template,
) -> Result<PathBuf> {
    match template {
        Template::Local => init_repo(parent, name, now),
        Template::Rag => staged(parent, name, |dir| {
            let fill = |text: &str| text.replace("{project}", name);
            std::fs::write(dir.join("feature_store.yaml"), fill(RAG_FEATURE_STORE_YAML))?;
            std::fs::write(dir.join("feature_definitions.yaml"), fill(RAG_DEFINITIONS))?;
            std::fs::write(dir.join("README.md"), fill(RAG_README))?;
            std::fs::write(dir.join(".gitignore"), GITIGNORE)?;
            // An hour back, so that a materialization up to "now" (to the second) has them.
            let stamped = now - chrono::Duration::hours(1);
            crate::repo::rag_data::write_documents(
                &dir.join("data/documents.parquet"),
                &crate::repo::rag_data::documents(),
                stamped,
            )?;
            Ok(())
        }),
    }
}

/// Builds the repo `name` in a temp directory beside it and renames it into place, so a failed
/// init leaves nothing half-written behind. Refuses an existing directory.
fn staged(parent: &Path, name: &str, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    check_project_name(name)
        .map_err(|e| anyhow::anyhow!("{e} (the repo name is the project name)"))?;
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists; init never overwrites: pick another name or remove it",
            dir.display()
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-init-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    fill(tmp.path())?;
    let staged = tmp.keep();
    std::fs::rename(&staged, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Creates the repo `name` inside `parent` and returns its path. Refuses to touch an existing
/// directory: init never overwrites anything.
pub fn init_repo(parent: &Path, name: &str, now: DateTime<Utc>) -> Result<PathBuf> {
    staged(parent, name, |dir| {
        let fill = |text: &str| text.replace("{project}", name);
        std::fs::write(dir.join("feature_store.yaml"), fill(FEATURE_STORE_YAML))?;
        std::fs::write(dir.join("feature_definitions.yaml"), fill(DEFINITIONS))?;
        std::fs::write(dir.join("README.md"), fill(README))?;
        std::fs::write(dir.join(".gitignore"), GITIGNORE)?;
        write_driver_stats(&dir.join("data/driver_stats.parquet"), now, seed_from(now))?;
        // The demo's transform, compiled into this binary by build.rs (see plugins/README.md).
        if !crate::plugins::DEMO_PLUGIN.is_empty() {
            std::fs::create_dir_all(dir.join("plugins"))?;
            std::fs::write(
                dir.join("plugins/transformed_conv_rate.wasm"),
                crate::plugins::DEMO_PLUGIN,
            )?;
        } else {
            eprintln!(
                "warning: this edgefeat was built without the wasm32-wasip2 target, so the repo gets no plugins/transformed_conv_rate.wasm and `apply` will refuse its on demand views; run `rustup target add wasm32-wasip2`, rebuild edgefeat, and init again (or build plugins/transformed-conv-rate yourself)"
            );
        }
        Ok(())
    })
}

/// A random-looking name like Feast's (`<adjective>_<animal>`), for `init` without a name.
pub fn random_name(now: DateTime<Utc>) -> String {
    const ADJECTIVES: [&str; 8] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "lucky", "quick",
    ];
    const ANIMALS: [&str; 8] = [
        "otter", "falcon", "lynx", "heron", "badger", "koala", "panda", "wombat",
    ];
    let n = seed_from(now);
    format!(
        "{}_{}",
        ADJECTIVES[(n % 8) as usize],
        ANIMALS[((n >> 8) % 8) as usize]
    )
}

fn seed_from(now: DateTime<Utc>) -> u64 {
    now.timestamp_nanos_opt().unwrap_or_default().unsigned_abs() ^ u64::from(std::process::id())
}
