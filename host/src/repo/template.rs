//! `edgefeat init`: a new repo equivalent to Feast's `local` template (spec §11): the driver
//! entity, its two feature views, the push and request sources, the two on-demand views, the
//! three feature services, and a generated `data/driver_stats.parquet`.

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

/// Creates the repo `name` inside `parent` and returns its path. Refuses to touch an existing
/// directory: init never overwrites anything.
pub fn init_repo(parent: &Path, name: &str, now: DateTime<Utc>) -> Result<PathBuf> {
    check_project_name(name)
        .map_err(|e| anyhow::anyhow!("{e} (the repo name is the project name)"))?;
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists; init never overwrites: pick another name or remove it",
            dir.display()
        );
    }
    // Build the repo in a temp directory beside it and rename it into place, so a failed
    // init leaves nothing half-written behind.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-init-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    let fill = |text: &str| text.replace("{project}", name);
    std::fs::write(
        tmp.path().join("feature_store.yaml"),
        fill(FEATURE_STORE_YAML),
    )?;
    std::fs::write(
        tmp.path().join("feature_definitions.yaml"),
        fill(DEFINITIONS),
    )?;
    std::fs::write(tmp.path().join("README.md"), fill(README))?;
    std::fs::write(tmp.path().join(".gitignore"), GITIGNORE)?;
    write_driver_stats(
        &tmp.path().join("data/driver_stats.parquet"),
        now,
        seed_from(now),
    )?;
    // The demo's transform, compiled into this binary by build.rs (see plugins/README.md).
    if !crate::plugins::DEMO_PLUGIN.is_empty() {
        std::fs::create_dir_all(tmp.path().join("plugins"))?;
        std::fs::write(
            tmp.path().join("plugins/transformed_conv_rate.wasm"),
            crate::plugins::DEMO_PLUGIN,
        )?;
    } else {
        eprintln!(
            "warning: this edgefeat was built without the wasm32-wasip2 target, so the repo gets no plugins/transformed_conv_rate.wasm and `apply` will refuse its on demand views; run `rustup target add wasm32-wasip2`, rebuild edgefeat, and init again (or build plugins/transformed-conv-rate yourself)"
        );
    }
    let staged = tmp.keep();
    std::fs::rename(&staged, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
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
