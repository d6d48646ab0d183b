//! `edgefeat plugin new NAME` and `edgefeat plugin check FILE`: writing and vetting plugins
//! (`plugin build-feast` is in `pybuild.rs`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::plugins::{PluginEngine, PluginHost, PluginLimits};

/// `edgefeat plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a transform plugin in ./NAME: a Rust crate (wit-bindgen) or a Python module
    /// (componentize-py), ready for `edgefeat plugin build NAME`.
    New {
        /// The plugin name: on-demand views bind to it with `plugin: NAME`, and it is deployed
        /// as `plugins/NAME.wasm`.
        name: String,
        /// The language: rust or python.
        #[arg(long, value_enum, default_value_t = Lang::Rust)]
        lang: Lang,
    },
    /// Build the plugin in DIR (made by `plugin new`) into a component and check it: Rust
    /// with cargo for wasm32-wasip2, Python with componentize-py.
    Build {
        /// The plugin's directory.
        dir: PathBuf,
        /// Where to write the component (default: DIR/NAME.wasm, NAME being DIR's name).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The componentize-py executable, for Python (default: $EDGEFEAT_COMPONENTIZE_PY,
        /// then `componentize-py` on PATH).
        #[arg(long)]
        componentize_py: Option<PathBuf>,
    },
    /// Load a component as the server would, validate it, and print what it declares.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Build each on-demand feature view of the registry that has a Python UDF (Feast's
    /// `mode="pandas"` or `"python"`) into plugins/<view>.wasm, from the UDF's source, with
    /// componentize-py.
    BuildFeast(super::pybuild::BuildFeastArgs),
}

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate with wit-bindgen.
    Rust,
    /// A Python module for componentize-py.
    Python,
}

const WIT: &str = include_str!("../../../wit/plugin.wit");
const APP_PY: &str = include_str!("plugin_template/app.py.tmpl");
const README_PY: &str = include_str!("plugin_template/README.python.md.tmpl");
const CARGO_TOML: &str = include_str!("plugin_template/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("plugin_template/lib.rs.tmpl");
const README: &str = include_str!("plugin_template/README.md.tmpl");

pub(super) fn run(cwd: &Path, yaml: Option<&Path>, command: &PluginCommand) -> Result<()> {
    match command {
        PluginCommand::New { name, lang } => new(cwd, name, *lang),
        PluginCommand::Build {
            dir,
            out,
            componentize_py,
        } => build(
            &cwd.join(dir),
            out.as_ref().map(|o| cwd.join(o)),
            componentize_py.as_deref(),
        ),
        PluginCommand::Check { file } => check(&cwd.join(file)),
        PluginCommand::BuildFeast(args) => {
            super::pybuild::build_feast(&super::load_config(cwd, yaml)?, args)
        }
    }
}

fn new(cwd: &Path, name: &str, lang: Lang) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid {
        bail!(
            "plugin name `{name}` is invalid: use letters, digits, `_` and `-`, starting with a letter"
        );
    }
    let dir = cwd.join(name);
    if dir.exists() {
        bail!("{} already exists; pick another name", dir.display());
    }
    let krate = name.replace('_', "-");
    let file = name.replace('-', "_");
    // The templates' placeholders are plain `{crate}`, `{name}` and `{file}`: code in a
    // template must not use those names inside its own format strings, or they are filled too.
    let fill = |t: &str| {
        t.replace("{crate}", &krate)
            .replace("{name}", name)
            .replace("{file}", &file)
    };
    // Staged beside the target and renamed into place: a failure leaves nothing behind.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-new-"))
        .tempdir_in(cwd)
        .with_context(|| format!("cannot create a directory in {}", cwd.display()))?;
    std::fs::create_dir_all(tmp.path().join("wit"))?;
    std::fs::write(tmp.path().join("wit/plugin.wit"), WIT)?;
    if lang == Lang::Python {
        std::fs::write(tmp.path().join("app.py"), fill(APP_PY))?;
        std::fs::write(tmp.path().join("README.md"), fill(README_PY))?;
        std::fs::write(tmp.path().join(".gitignore"), "/*.wasm\n")?;
    } else {
        std::fs::create_dir_all(tmp.path().join("src"))?;
        std::fs::write(tmp.path().join("Cargo.toml"), fill(CARGO_TOML))?;
        std::fs::write(tmp.path().join("src/lib.rs"), fill(LIB_RS))?;
        std::fs::write(tmp.path().join("README.md"), fill(README))?;
        std::fs::write(tmp.path().join(".gitignore"), "/target\n")?;
    }
    let staged = tmp.keep();
    std::fs::rename(&staged, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let what = if lang == Lang::Python {
        "Python module"
    } else {
        "crate"
    };
    println!("Created the plugin {what} {}.\n", dir.display());
    println!("Build and check it:\n  edgefeat plugin build {name}");
    println!("Deploy it as plugins/{name}.wasm in the feature repo (README.md says how).");
    Ok(())
}

/// Builds a plugin directory made by `plugin new` and checks the component.
fn build(dir: &Path, out: Option<PathBuf>, componentize_py: Option<&Path>) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{} names no directory", dir.display()))?
        .to_string();
    let out = out.unwrap_or_else(|| dir.join(format!("{name}.wasm")));
    if dir.join("app.py").exists() {
        let tool = super::pybuild::componentize_py(componentize_py)?;
        super::pybuild::componentize(&tool, dir, "app", &out)?;
    } else if dir.join("Cargo.toml").exists() {
        let status =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
                .args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--manifest-path",
                ])
                .arg(dir.join("Cargo.toml"))
                // Where the component is looked for below, whatever CARGO_TARGET_DIR says.
                .arg("--target-dir")
                .arg(dir.join("target"))
                .status()
                .context("cannot run cargo (install Rust with rustup)")?;
        if !status.success() {
            bail!("cargo build failed (rustup target add wasm32-wasip2, if the target is missing)");
        }
        let built = dir
            .join("target/wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        std::fs::copy(&built, &out)
            .with_context(|| format!("cannot copy {} to {}", built.display(), out.display()))?;
    } else {
        bail!(
            "{} holds neither app.py (Python) nor Cargo.toml (Rust): make one with `edgefeat plugin new NAME [--lang python]`",
            dir.display()
        );
    }
    println!("Built {}.", out.display());
    check(&out)
}

fn check(file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let Some(name) = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|_| file.extension().is_some_and(|e| e == "wasm"))
    else {
        bail!("{} is not a .wasm file", file.display());
    };
    // Loaded through a host over a scratch directory, exactly as a server loads it.
    let scratch = tempfile::tempdir().context("cannot create a temp directory")?;
    std::fs::write(scratch.path().join(format!("{name}.wasm")), &bytes)?;
    let engine = PluginEngine::new(PluginLimits::default())?;
    if let Some(shape) = crate::plugins::adapter::adapter_shape(&engine, &bytes) {
        println!(
            "{}: store adapter ({} bytes), world {}",
            file.display(),
            bytes.len(),
            if shape.imports_kv {
                "store-adapter: it imports host-kv, so online_store.kv must be set"
            } else {
                "store-adapter-sockets: it brings its own client"
            }
        );
        if shape.imports_sockets {
            println!(
                "It imports wasi:sockets: it can connect only to the addresses in online_store.allow_connect."
            );
        }
        println!(
            "\nDeploy it as plugins/{name}.wasm with `online_store: {{type: plugin, plugin: {name}}}`; `edgefeat apply` opens it with the repo's config."
        );
        return Ok(());
    }
    let host = PluginHost::new(engine, scratch.path().to_path_buf(), None);
    let started = std::time::Instant::now();
    host.rescan();
    let Some(plugin) = host.get(name) else {
        bail!(
            "{} is not a usable plugin: {}",
            file.display(),
            host.statuses()
                .get(name)
                .and_then(|s| s.last_error.clone())
                .unwrap_or_else(|| "it did not load".into())
        );
    };
    let info = plugin.info();
    println!(
        "{}: plugin `{}` version {} ({} bytes, sha256 {}, loaded in {} ms)",
        file.display(),
        info.name,
        info.version,
        bytes.len(),
        plugin.hash,
        started.elapsed().as_millis()
    );
    let width = info
        .inputs
        .iter()
        .chain(&info.outputs)
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    for (title, fields) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
        println!("{title}:");
        for f in fields {
            println!("  {:width$}  {}", f.name, f.ty.name());
        }
    }
    println!("\nDeploy it as plugins/{name}.wasm: views bind to it with `plugin: {name}`.");
    Ok(())
}
