//! The set of transform plugins a server (or `apply`) uses: loaded from the plugins
//! directory, each validated before it is published, swapped atomically on change, and the
//! previous version kept whenever a new one fails to load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::plugins::breaker::{Breaker, BreakerReport, Outcome, TRIP_HITS, WINDOW};
use crate::plugins::cache;
use crate::plugins::columns::{HostColumn, PluginInfo};
use crate::plugins::engine::PluginEngine;
use crate::plugins::transform::{CallError, TransformPlugin};

/// A published plugin version.
pub struct LoadedPlugin {
    /// The name it is bound by: its file name without `.wasm`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// SHA-256 of the file, hex.
    pub hash: String,
    /// When it was published.
    pub loaded_at: DateTime<Utc>,
    /// Whether the compiled code came from the `.cwasm` cache.
    pub from_cache: bool,
    plugin: TransformPlugin,
    /// Fails this version fast while it keeps running into its deadline.
    breaker: Breaker,
}

impl LoadedPlugin {
    /// What the plugin said of itself.
    pub fn info(&self) -> &PluginInfo {
        self.plugin.info()
    }

    /// Runs the transform (see [`TransformPlugin::transform`]), unless its breaker is open
    /// ([`crate::plugins::breaker`]): then it fails at once with [`CallError::FailingFast`].
    pub fn transform(
        &self,
        rows: usize,
        input: &[HostColumn],
    ) -> Result<Vec<HostColumn>, CallError> {
        if let Err(refused) = self.breaker.admit(Instant::now) {
            metrics::counter!("edgefeat_plugin_calls_refused_total", "plugin" => self.name.clone())
                .increment(1);
            return Err(CallError::FailingFast(refused));
        }
        let result = self.plugin.transform(rows, input);
        let outcome = match result {
            Err(CallError::Deadline(_)) => Outcome::Deadline,
            _ => Outcome::Finished,
        };
        if self.breaker.record(Instant::now, outcome) {
            metrics::counter!("edgefeat_plugin_breaker_trips_total", "plugin" => self.name.clone())
                .increment(1);
            tracing::warn!(
                "plugin `{}` ran past its time limit {TRIP_HITS} times within {} s: its calls fail \
                 fast for a while (GET /plugins shows its breaker)",
                self.name,
                WINDOW.as_secs()
            );
        }
        result
    }

    /// Its circuit breaker's state now.
    pub fn breaker(&self) -> BreakerReport {
        self.breaker.report(Instant::now())
    }
}

/// The state of one plugin name, for `GET /plugins`.
#[derive(Debug, Clone, Default)]
pub struct PluginStatus {
    /// The last load failure of this name (kept until a later load succeeds or the file again
    /// holds the version being served; dropped with the file).
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// Checks a plugin's `describe()` against the definitions that use it; an error keeps the
/// plugin from being published.
pub type Validator = dyn Fn(&str, &PluginInfo) -> Result<(), String> + Send + Sync;

/// What the host knows of a file, to skip unchanged files without re-reading them.
#[derive(Clone, PartialEq)]
struct Seen {
    modified: Option<SystemTime>,
    len: u64,
    /// The inode and ctime change on every rename-into-place even when a deploy tool keeps
    /// the mtime (`rsync -a`, `cp -p`) and the size is the same.
    identity: (u64, i64),
    hash: String,
}

/// The plugins of one directory.
pub struct PluginHost {
    engine: PluginEngine,
    dir: PathBuf,
    cache_dir: Option<PathBuf>,
    loaded: ArcSwap<BTreeMap<String, Arc<LoadedPlugin>>>,
    status: Mutex<BTreeMap<String, PluginStatus>>,
    /// Serializes rescans (the watcher, the poll and an explicit reload may race) and
    /// remembers each file's last seen state.
    scan: Mutex<BTreeMap<PathBuf, Seen>>,
    validator: Mutex<Option<Arc<Validator>>>,
    /// Files of the directory that are not transforms (the store adapter).
    excluded: Vec<String>,
}

impl PluginHost {
    /// A host over `dir` (which need not exist yet). `cache_dir`, when given, keeps compiled
    /// code so that restarts and reverts skip the compiler.
    pub fn new(engine: PluginEngine, dir: PathBuf, cache_dir: Option<PathBuf>) -> PluginHost {
        PluginHost {
            engine,
            dir,
            cache_dir,
            loaded: ArcSwap::from_pointee(BTreeMap::new()),
            status: Mutex::new(BTreeMap::new()),
            scan: Mutex::new(BTreeMap::new()),
            validator: Mutex::new(None),
            excluded: Vec::new(),
        }
    }

    /// Leaves the plugin `name` alone: the store adapter lives in the same directory but is
    /// loaded by the online store, not as a transform.
    pub fn excluding(mut self, name: &str) -> PluginHost {
        self.excluded.push(name.to_string());
        self
    }

    /// The plugins directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the check every new version must pass before it is published.
    pub fn set_validator(&self, validator: Arc<Validator>) {
        *self.validator.lock().unwrap_or_else(|p| p.into_inner()) = Some(validator);
    }

    /// The current version of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.loaded.load().get(name).cloned()
    }

    /// Every published plugin, by name.
    pub fn loaded(&self) -> Arc<BTreeMap<String, Arc<LoadedPlugin>>> {
        self.loaded.load_full()
    }

    /// The load status of every name that has had one.
    pub fn statuses(&self) -> BTreeMap<String, PluginStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Why `name` is not loaded, for error messages.
    pub fn missing_reason(&self, name: &str) -> String {
        let status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match status.get(name).and_then(|s| s.last_error.clone()) {
            Some(e) => format!("plugin `{name}` failed to load: {e}"),
            None => format!(
                "plugin `{name}` is not loaded: there is no {}",
                self.dir.join(format!("{name}.wasm")).display()
            ),
        }
    }

    /// Brings the published set in line with the directory: loads new and changed files,
    /// unloads removed ones. A file that fails keeps its previous version published. Returns
    /// how many versions were published.
    pub fn rescan(&self) -> usize {
        let mut seen = self.scan.lock().unwrap_or_else(|p| p.into_inner());
        let mut files = list_plugins(&self.dir);
        files.retain(|(name, _)| !self.excluded.contains(name));
        let mut published = 0;
        let mut next = (**self.loaded.load()).clone();
        let mut changed = false;
        for (name, path) in &files {
            let meta = std::fs::metadata(path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.as_ref().map_or(0, |m| m.len());
            let identity = meta.as_ref().map_or((0, 0), identity);
            if let Some(s) = seen.get(path)
                && s.modified == modified
                && s.len == len
                && s.identity == identity
            {
                continue;
            }
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    self.fail(name, format!("cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            let hash = hex(&Sha256::digest(&bytes));
            let unchanged = seen.get(path).is_some_and(|s| s.hash == hash);
            seen.insert(
                path.clone(),
                Seen {
                    modified,
                    len,
                    identity,
                    hash: hash.clone(),
                },
            );
            // A rename-based deploy sends several events; the same content is loaded once.
            let served = next.get(name).is_some_and(|p| p.hash == hash);
            if served {
                // The file holds the served version again (a revert after a failed deploy):
                // the failure of the content it replaced is no longer true.
                self.clear(name);
            }
            if unchanged || served {
                continue;
            }
            match self.load(name, path, &bytes, &hash) {
                Ok(p) => {
                    tracing::info!(
                        "plugin {name} {} loaded ({}, sha256 {})",
                        p.info().version,
                        if p.from_cache { "cached" } else { "compiled" },
                        &hash[..12]
                    );
                    next.insert(name.clone(), Arc::new(p));
                    self.clear(name);
                    published += 1;
                    changed = true;
                }
                Err(e) => self.fail(name, e),
            }
        }
        seen.retain(|path, _| files.iter().any(|(_, p)| p == path));
        // A removed file's status (and last error) goes with it.
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|name, _| files.iter().any(|(n, _)| n == name));
        let before = next.len();
        next.retain(|name, _| files.iter().any(|(n, _)| n == name));
        if next.len() != before {
            changed = true;
            tracing::info!("plugins unloaded: their files were removed");
        }
        if changed {
            self.loaded.store(Arc::new(next));
        }
        published
    }

    /// Loads again the files whose last load failed, even if they did not change: what they
    /// were checked against (the registry) may have.
    pub fn retry_failed(&self) -> usize {
        let failed: Vec<String> = self
            .statuses()
            .into_iter()
            .filter(|(_, s)| s.last_error.is_some())
            .map(|(n, _)| n)
            .collect();
        if failed.is_empty() {
            return 0;
        }
        {
            let mut seen = self.scan.lock().unwrap_or_else(|p| p.into_inner());
            seen.retain(|path, _| {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                !failed.iter().any(|f| f == stem)
            });
        }
        self.rescan()
    }

    /// Records that `name`'s file is the version being served, with no load error.
    fn clear(&self, name: &str) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), PluginStatus::default());
    }

    fn fail(&self, name: &str, error: String) {
        // One line: parser errors span several (expected/actual bytes), which reads badly in
        // logs and in `GET /plugins`.
        let error = error.split_whitespace().collect::<Vec<_>>().join(" ");
        tracing::warn!("plugin {name} not loaded (any previous version keeps serving): {error}");
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                name.to_string(),
                PluginStatus {
                    last_error: Some(error),
                    last_error_at: Some(Utc::now()),
                },
            );
    }

    /// Compiles (or takes from the cache), describes and validates one file.
    fn load(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        hash: &str,
    ) -> Result<LoadedPlugin, String> {
        let (component, from_cache) = self.component(bytes, hash)?;
        let plugin =
            TransformPlugin::new(&self.engine, &component).map_err(|e| format!("{e:#}"))?;
        let validator = self
            .validator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(v) = validator {
            v(name, plugin.info())?;
        }
        Ok(LoadedPlugin {
            name: name.to_string(),
            file: path.to_path_buf(),
            hash: hash.to_string(),
            loaded_at: Utc::now(),
            from_cache,
            plugin,
            breaker: Breaker::default(),
        })
    }

    fn component(&self, bytes: &[u8], hash: &str) -> Result<(Component, bool), String> {
        let engine = self.engine.engine();
        let Some(dir) = &self.cache_dir else {
            return Ok((
                self.engine.compile(bytes).map_err(|e| e.to_string())?,
                false,
            ));
        };
        let key = format!("{hash}-{}", self.engine.compat_key());
        let cached = dir.join(format!("{key}.cwasm"));
        match cache::read(&cached, &key) {
            // SAFETY: wasmtime runs deserialized machine code as it finds it, so it must be
            // code this engine compiled: these are the bytes this host sealed when it wrote
            // the file (under a name binding them to the source's hash and the engine's
            // compatibility key), checked against their SHA-256 just now. They are checked
            // and loaded from the same buffer, so nothing can change in between (a mapped
            // file could); wasmtime still checks its own header and refuses a mismatch.
            Ok(Some(artifact)) => match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!("ignoring cached {}: {e}", cached.display()),
            },
            Ok(None) => {}
            Err(why) => {
                // Dropped before compiling, so that if the new file cannot be written either
                // the next start compiles without tripping over this one again.
                tracing::warn!(
                    "discarding cached {}: {why}; compiling the plugin again",
                    cached.display()
                );
                if let Err(e) = std::fs::remove_file(&cached)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!("cannot remove {}: {e}", cached.display());
                }
            }
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| format!("{e:#}"))?;
        if let Err(e) = cache::write(&cached, &key, &compiled) {
            tracing::warn!("cannot cache compiled plugin: {e:#}");
        }
        // SAFETY: `compiled` was produced by this engine a moment ago.
        let component =
            unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| format!("{e:#}"))?;
        Ok((component, false))
    }
}

/// `*.wasm` files of `dir` by plugin name, skipping hidden and temporary files (a deploy
/// writing `.name.wasm.tmp` before its rename must not be loaded half-written).
fn list_plugins(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let file = path.file_name()?.to_str()?.to_string();
            let name = file.strip_suffix(".wasm")?;
            (!file.starts_with('.') && !name.is_empty() && path.is_file())
                .then(|| (name.to_string(), path))
        })
        .collect();
    out.sort();
    out
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, i64) {
    use std::os::unix::fs::MetadataExt;
    (meta.ino(), meta.ctime_nsec() + meta.ctime() * 1_000_000_000)
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, i64) {
    (0, 0)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
