//! The `edgefeat` command line, in the image of `feast`'s: one subcommand per file here.

mod apply;
mod import;
mod init;
mod list;
mod materialize;
mod plugin;
mod pybuild;
mod serve;
mod teardown;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::repo::RepoConfig;

/// edgefeat: a WASM-pluggable edge feature server, wire-compatible with Feast's feature server.
///
/// Typical flow: `edgefeat init demo`, then in `demo/`: `edgefeat apply` to register the
/// definitions, `edgefeat materialize-incremental $(date -u +%FT%T)` to load the online
/// store, and the listing commands to inspect the registry.
#[derive(Debug, Parser)]
#[command(name = "edgefeat", version, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in this directory (the feature repo). Give it before the command,
    /// as with `feast -c DIR serve`: `serve` has its own `-c` (`--cert`).
    #[arg(short = 'c', long = "chdir", value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// The repo configuration file, relative to the repo [default: feature_store.yaml].
    #[arg(
        short = 'f',
        long = "feature-store-yaml",
        global = true,
        value_name = "FILE",
        env = "FEAST_FS_YAML_FILE_PATH"
    )]
    pub feature_store_yaml: Option<PathBuf>,

    /// Log level: critical, error, warning, info or debug (any case, as Python's logging).
    #[arg(
        long,
        global = true,
        default_value = "warning",
        value_name = "LEVEL",
        ignore_case = true,
        value_parser = ["critical", "error", "warning", "info", "debug"]
    )]
    pub log_level: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new feature repo with the driver example and its data.
    Init(init::InitArgs),
    /// Validate the definitions and register them; prepare the online store.
    Apply,
    /// Show what `apply` would change, without changing anything.
    Plan,
    /// Load the newest row per entity in a time window from the offline sources into the
    /// online store.
    Materialize(materialize::MaterializeArgs),
    /// Like `materialize`, each view starting where its last window ended.
    MaterializeIncremental(materialize::IncrementalArgs),
    /// Serve features over HTTP with Feast's API (127.0.0.1:6566 by default).
    Serve(serve::ServeArgs),
    /// Remove the online store's data and the registry.
    Teardown,
    /// List entities.
    Entities(list::ListCommand),
    /// List feature views (and on-demand feature views).
    FeatureViews(list::ListCommand),
    /// List on-demand feature views.
    OnDemandFeatureViews(list::ListCommand),
    /// List feature services.
    FeatureServices(list::ListCommand),
    /// List data sources.
    DataSources(list::ListCommand),
    /// List permissions.
    Permissions(list::ListCommand),
    /// Print the registry as JSON.
    RegistryDump,
    /// Write the registry (edgefeat's, or a Feast registry.db) as edgefeat definitions in a
    /// new repo directory, with a feature_store.yaml for the same project and online store.
    Import(import::ImportArgs),
    /// Write and vet WebAssembly plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // A malformed clock shift is refused before anything reads the clock.
    crate::types::clock::check_clock_shift().map_err(anyhow::Error::msg)?;
    let cwd = match &cli.chdir {
        Some(dir) => std::fs::canonicalize(dir)
            .with_context(|| format!("-c/--chdir: cannot enter {}", dir.display()))?,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let yaml = cli.feature_store_yaml.as_deref();
    match &cli.command {
        Command::Init(args) => init::run(&cwd, args),
        Command::Apply => apply::run(&load_config(&cwd, yaml)?, apply::Mode::Apply),
        Command::Plan => apply::run(&load_config(&cwd, yaml)?, apply::Mode::Plan),
        Command::Materialize(args) => materialize::run(&load_config(&cwd, yaml)?, args),
        Command::MaterializeIncremental(args) => {
            materialize::run_incremental(&load_config(&cwd, yaml)?, args)
        }
        Command::Serve(args) => serve::run(load_config(&cwd, yaml)?, args, &cli.log_level),
        Command::Teardown => teardown::run(&load_config(&cwd, yaml)?),
        Command::Entities(c) => list::entities(&load_config(&cwd, yaml)?, c),
        Command::FeatureViews(c) => list::feature_views(&load_config(&cwd, yaml)?, c),
        Command::OnDemandFeatureViews(c) => list::odfvs(&load_config(&cwd, yaml)?, c),
        Command::FeatureServices(c) => list::feature_services(&load_config(&cwd, yaml)?, c),
        Command::DataSources(c) => list::data_sources(&load_config(&cwd, yaml)?, c),
        Command::Permissions(c) => list::permissions(&load_config(&cwd, yaml)?, c),
        Command::RegistryDump => list::registry_dump(&load_config(&cwd, yaml)?),
        Command::Import(args) => import::run(&load_config(&cwd, yaml)?, &cwd, args),
        Command::Plugin(c) => plugin::run(&cwd, yaml, c),
    }
}

/// Loads the repo config and prints its warnings.
fn load_config(repo: &Path, yaml: Option<&Path>) -> Result<RepoConfig> {
    let config = RepoConfig::load(repo, yaml)?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

/// The registry, or an error saying to run `apply` first.
fn require_registry(config: &RepoConfig) -> Result<crate::registry::Registry> {
    match crate::registry::load_registry(&config.registry_path, &config.project)? {
        Some(r) => Ok(r),
        None => anyhow::bail!(
            "no registry at {}: run `edgefeat apply` first",
            config.registry_path.display()
        ),
    }
}

/// An error whose message has already been printed in full; `main` only sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);
