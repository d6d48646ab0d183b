//! `edgefeat plugin build-feast`: the on-demand views of a Feast registry, built from the
//! Python source Feast keeps of each (`body_text`) into sandboxed WebAssembly plugins, so that
//! a Feast repo's transforms serve without anyone porting them.
//!
//! Each view becomes `<plugins.path>/<view>.wasm`: CPython (componentize-py), edgefeat's guest
//! runtime (`pyguest/edgefeat_guest.py`), the pandas subset transforms use
//! (`pyguest/minipandas.py`) and a generated `udf_config.py` with the view's schema and UDF.
//! Before a plugin is installed it is loaded as the server loads it and run once on two rows
//! made from the view's input schema: a UDF that uses a pandas operation the subset lacks is
//! refused then, naming the operation. A plugin is rebuilt only when its inputs (the UDF text,
//! the schema, the runtime) change: a stamp beside it holds their hash.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::plugins::check::available_inputs;
use crate::plugins::{HostColumn, PluginEngine, PluginHost, PluginType};
use crate::registry::{OnDemandFeatureView, PythonUdf, Registry};
use crate::repo::RepoConfig;
use crate::types::Value;

const WIT: &str = include_str!("../../../wit/plugin.wit");
const GUEST: &str = include_str!("pyguest/edgefeat_guest.py");
const MINIPANDAS: &str = include_str!("pyguest/minipandas.py");

/// The componentize-py release the runtime is written and tested against.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The environment variable naming the componentize-py executable.
pub const COMPONENTIZE_PY_ENV: &str = "EDGEFEAT_COMPONENTIZE_PY";

/// `edgefeat plugin build-feast`.
#[derive(Debug, clap::Args)]
pub struct BuildFeastArgs {
    /// Where to write the plugins (default: the repo's plugins.path).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The componentize-py executable (default: $EDGEFEAT_COMPONENTIZE_PY, then
    /// `componentize-py` on PATH).
    #[arg(long)]
    pub componentize_py: Option<PathBuf>,
    /// Rebuild every plugin, even those whose UDF and schema did not change.
    #[arg(long)]
    pub force: bool,
    /// Build only this on-demand view (repeat for more); default: every one with a Python UDF.
    #[arg(long = "view", value_name = "NAME")]
    pub views: Vec<String>,
}

/// One on-demand view to build.
struct Job<'a> {
    odfv: &'a OnDemandFeatureView,
    udf: &'a PythonUdf,
    inputs: Vec<(String, PluginType)>,
    outputs: Vec<(String, PluginType)>,
}

pub(super) fn build_feast(config: &RepoConfig, args: &BuildFeastArgs) -> Result<()> {
    let registry = super::require_registry(config)?;
    let out = args
        .out
        .as_ref()
        .map(|o| config.repo_path.join(o))
        .unwrap_or_else(|| config.plugins.path.clone());
    let mut jobs = jobs(&registry);
    if !args.views.is_empty() {
        for v in &args.views {
            if !jobs.iter().any(|j| &j.odfv.name == v) {
                bail!(
                    "--view {v}: project {} has no on-demand feature view {v} with a Python UDF; it has: {}",
                    config.project,
                    jobs.iter()
                        .map(|j| j.odfv.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        jobs.retain(|j| args.views.contains(&j.odfv.name));
    }
    if jobs.is_empty() {
        println!(
            "No on-demand feature view of project {} has a Python UDF: nothing to build.",
            config.project
        );
        return Ok(());
    }
    let tool = componentize_py(args.componentize_py.as_deref())?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let engine = PluginEngine::new(config.plugins.limits)?;
    let mut failed = Vec::new();
    for job in &jobs {
        let name = &job.odfv.plugin;
        match build_one(job, &tool, &out, &engine, config, args.force) {
            Ok(Outcome::Built(ms)) => println!(
                "Built plugin {name} ({} mode) for on demand feature view {} in {:.1} s: {}",
                job.udf.mode,
                job.odfv.name,
                ms as f64 / 1000.0,
                out.join(format!("{name}.wasm")).display()
            ),
            Ok(Outcome::UpToDate) => println!("Plugin {name} is up to date."),
            Err(e) => {
                eprintln!("error: on demand feature view {}: {e:#}", job.odfv.name);
                failed.push(job.odfv.name.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} plugins did not build: {}",
            failed.len(),
            jobs.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// The views with a Python UDF, in name order, with the columns their plugin declares: every
/// input the view's sources supply by its short name (as Feast's input frame has them), and
/// the view's features as outputs.
fn jobs(registry: &Registry) -> Vec<Job<'_>> {
    let mut out = Vec::new();
    for stored in registry.on_demand_feature_views.values() {
        let odfv = &stored.spec;
        let Some(udf) = &odfv.python_udf else {
            continue;
        };
        let inputs = used_inputs(
            &udf.body_text,
            available_inputs(odfv, registry)
                .into_iter()
                .filter(|(n, _)| !n.contains("__"))
                .map(|(n, d)| (n, PluginType::of(d)))
                .collect(),
        );
        let outputs = odfv
            .features
            .iter()
            .map(|f| (f.name.clone(), PluginType::of(&f.dtype)))
            .collect();
        out.push(Job {
            odfv,
            udf,
            inputs,
            outputs,
        });
    }
    out.sort_by(|a, b| a.odfv.name.cmp(&b.odfv.name));
    out
}

/// The inputs the UDF names in its source (as `inputs["conv_rate"]` or `inputs.conv_rate`), or
/// every input when it names none (a UDF that builds column names at run time). Every column
/// handed over costs its conversion on each call; a JSON column one `json.loads` per row.
fn used_inputs(source: &str, all: Vec<(String, PluginType)>) -> Vec<(String, PluginType)> {
    let named = |name: &str| {
        source.match_indices(name).any(|(at, _)| {
            let before = source[..at].chars().next_back();
            let after = source[at + name.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !word(before) && !word(after)
        })
    };
    let used: Vec<(String, PluginType)> = all.iter().filter(|(n, _)| named(n)).cloned().collect();
    if used.is_empty() { all } else { used }
}

enum Outcome {
    Built(u128),
    UpToDate,
}

fn build_one(
    job: &Job<'_>,
    tool: &Path,
    out: &Path,
    engine: &PluginEngine,
    config: &RepoConfig,
    force: bool,
) -> Result<Outcome> {
    let name = &job.odfv.plugin;
    if !matches!(job.udf.mode.as_str(), "pandas" | "python") {
        bail!(
            "its UDF `{}` is in mode `{}`; edgefeat builds `pandas` and `python` UDFs",
            job.udf.name,
            job.udf.mode
        );
    }
    let hash = hex(&Sha256::digest(
        [
            WIT,
            GUEST,
            MINIPANDAS,
            &udf_config(job, ""),
            COMPONENTIZE_PY_VERSION,
        ]
        .join("\0"),
    ));
    let target = out.join(format!("{name}.wasm"));
    let stamp = out.join(format!(".{name}.wasm.build"));
    if !force && target.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash)
    {
        return Ok(Outcome::UpToDate);
    }
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().context("cannot create a build directory")?;
    std::fs::create_dir_all(dir.path().join("wit"))?;
    std::fs::write(dir.path().join("wit/plugin.wit"), WIT)?;
    std::fs::write(dir.path().join("edgefeat_guest.py"), GUEST)?;
    std::fs::write(dir.path().join("minipandas.py"), MINIPANDAS)?;
    std::fs::write(
        dir.path().join("udf_config.py"),
        udf_config(job, &format!("feast-udf-{}", &hash[..12])),
    )?;
    let wasm = dir.path().join(format!("{name}.wasm"));
    componentize(tool, dir.path(), "edgefeat_guest", &wasm)?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    trial_run(job, &bytes, engine, config)?;
    // Renamed into place: the server's watcher never sees half a file.
    let staged = out.join(format!(".{name}.wasm.tmp"));
    std::fs::write(&staged, &bytes)
        .with_context(|| format!("cannot write {}", staged.display()))?;
    std::fs::rename(&staged, &target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    std::fs::write(&stamp, format!("{hash}\n"))?;
    Ok(Outcome::Built(started.elapsed().as_millis()))
}

/// Loads the plugin as the server does (through the repo's compiled-plugin cache, so that the
/// server's first load is warm) and runs it on two rows made from the input schema. A pandas
/// operation the sandbox lacks refuses the build; any other failure on made-up values (a
/// division by zero, say) is only reported.
fn trial_run(
    job: &Job<'_>,
    bytes: &[u8],
    engine: &PluginEngine,
    config: &RepoConfig,
) -> Result<()> {
    let name = &job.odfv.plugin;
    let scratch = tempfile::tempdir().context("cannot create a temp directory")?;
    std::fs::write(scratch.path().join(format!("{name}.wasm")), bytes)?;
    let host = PluginHost::new(
        engine.clone(),
        scratch.path().to_path_buf(),
        Some(config.plugins.cache_dir.clone()),
    );
    host.rescan();
    let Some(plugin) = host.get(name) else {
        bail!(
            "the built plugin does not load: {}",
            host.missing_reason(name)
        );
    };
    let columns: Vec<HostColumn> = job
        .inputs
        .iter()
        .map(|(n, ty)| HostColumn {
            name: n.clone(),
            ty: *ty,
            values: vec![sample(*ty, 0), sample(*ty, 1)],
        })
        .collect();
    match plugin.transform(2, &columns) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            if let Some(at) = text.find("Unsupported: ") {
                bail!(
                    "its UDF `{}` cannot run in the sandbox: {}",
                    job.udf.name,
                    &text[at + "Unsupported: ".len()..]
                );
            }
            eprintln!(
                "warning: on demand feature view {}: a trial run on made-up inputs failed (the plugin is installed; check the UDF with real data): {}",
                job.odfv.name,
                tail(&text, 600)
            );
            Ok(())
        }
    }
}

/// A made-up value of a plugin type, for the trial run.
fn sample(ty: PluginType, row: usize) -> Value {
    let n = row as i64 + 1;
    match ty {
        PluginType::Bool => Value::Bool(row == 0),
        PluginType::Int32 => Value::Int32(n as i32),
        PluginType::Int64 => Value::Int64(n),
        PluginType::Float32 => Value::Float(n as f32 + 0.5),
        PluginType::Float64 => Value::Double(n as f64 + 0.5),
        PluginType::String => Value::String(format!("s{n}")),
        PluginType::Bytes => Value::Bytes(vec![n as u8]),
        PluginType::UnixTimestamp => Value::UnixTimestamp(1_700_000_000 + n),
        PluginType::Json => Value::Json("{}".into()),
        list => Value::List(
            list.element()
                .map(|e| vec![sample(e, row)])
                .unwrap_or_default(),
        ),
    }
}

/// `udf_config.py`: what the guest runtime needs to know of the view, and the plugin version
/// it reports (derived from the hash of the same text without it).
fn udf_config(job: &Job<'_>, version: &str) -> String {
    let fields = |fs: &[(String, PluginType)]| {
        fs.iter()
            .map(|(n, t)| format!("({}, {})", py_str(n), py_str(t.name())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# Generated by `edgefeat plugin build-feast` from the Feast registry.\nNAME = {}\nVERSION = {}\nMODE = {}\nFUNCTION = {}\nINPUTS = [{}]\nOUTPUTS = [{}]\nSOURCE = {}\n",
        py_str(&job.odfv.plugin),
        py_str(version),
        py_str(&job.udf.mode),
        py_str(&job.udf.name),
        fields(&job.inputs),
        fields(&job.outputs),
        py_str(&job.udf.body_text),
    )
}

/// A Python string literal: JSON's escapes are Python's.
fn py_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut at = text.len() - max;
    while !text.is_char_boundary(at) {
        at += 1;
    }
    &text[at..]
}

/// Compiles the Python module `module` of `dir` (which holds `wit/plugin.wit`) into a
/// component of the `transformer` world at `out`.
pub(super) fn componentize(tool: &Path, dir: &Path, module: &str, out: &Path) -> Result<()> {
    let output = Command::new(tool)
        .current_dir(dir)
        .args(["-d", "wit", "-w", "transformer", "componentize", "-p", "."])
        .arg(module)
        .arg("-o")
        .arg(out)
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !output.status.success() {
        bail!(
            "componentize-py failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            tail(&String::from_utf8_lossy(&output.stderr), 4000)
        );
    }
    Ok(())
}

/// The componentize-py to run: the flag, the environment variable, or the one on PATH.
pub(super) fn componentize_py(flag: Option<&Path>) -> Result<PathBuf> {
    let chosen = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(COMPONENTIZE_PY_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("componentize-py"));
    match Command::new(&chosen).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(chosen),
        _ => bail!(
            "componentize-py is needed to build Python plugins and was not found ({}): install it with `pip install componentize-py=={COMPONENTIZE_PY_VERSION}` (any Python 3.10 or newer; the server itself never needs Python), or name it with --componentize-py or ${COMPONENTIZE_PY_ENV}",
            chosen.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals_escape_what_python_needs() {
        assert_eq!(py_str("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(py_str("café"), "\"café\"");
    }

    #[test]
    fn only_the_inputs_a_udf_names_are_declared() {
        let all = vec![
            ("conv_rate".to_string(), PluginType::Float64),
            ("conv".to_string(), PluginType::Float64),
            ("val_to_add".to_string(), PluginType::Int64),
            ("driver_config".to_string(), PluginType::Json),
        ];
        let names = |src: &str| {
            used_inputs(src, all.clone())
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("df['x'] = inputs[\"conv_rate\"] + inputs.val_to_add"),
            ["conv_rate", "val_to_add"]
        );
        // No column named at all: the UDF gets them all.
        assert_eq!(names("return inputs").len(), 4);
    }

    #[test]
    fn tails_cut_on_character_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}
