//! `feature_store.yaml`: Feast's repo configuration, with the keys an edge deployment uses.
//!
//! The file is read the way Feast reads it: `$VAR`/`${VAR}` are expanded first (unknown
//! variables are left as written), and `FEATURE_STORE_YAML_BASE64` replaces the file entirely
//! (what Feast's Kubernetes operator sets). Unknown keys only warn, because a file written for
//! Feast carries keys we have no use for; an unknown `type` fails, because silently serving from
//! a store other than the one configured would be worse than not starting.
//!
//! This file holds the config as a whole, its `registry`, `auth` and `plugins` sections and the
//! loading; the `online_store` section is `config_online`'s (re-exported here), the serde
//! shapes are `config_raw`'s and the environment's part is `config_env`'s.

use std::path::{Path, PathBuf};

pub use super::config_env::{YAML_BASE64_ENV, expand_vars};
pub use super::config_online::{
    DEFAULT_MAP_SIZE, KvConfig, KvLmdbConfig, LmdbConfig, MissingEntities, ONLINE_STORE_TYPES,
    OnlineStoreConfig, PluginStoreConfig, RedisConfig, RedisStoreConfig, SqliteConfig, WritePolicy,
};
use super::config_online::{
    FEAST_REDIS_CLASS, FEAST_SQLITE_CLASS, plugin_store_config, redis_store_config,
    size_or_default, sqlite_store_config,
};
use super::config_raw::{
    RawAuth, RawConfig, RawPlugins, RawRegistry, RawSize, parse_size, unknown_key_warnings,
};
use anyhow::{Context, Result, bail};
use base64::Engine as _;

const OFFLINE_STORE_TYPES: [&str; 2] = ["file", "dask"];
const AUTH_TYPES: [&str; 2] = ["no_auth", "oidc"];

/// A loaded and checked `feature_store.yaml`.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    /// The repo directory: relative paths in the config and definitions resolve against it.
    pub repo_path: PathBuf,
    /// The file the config was read from; `None` when it came from the environment. It is
    /// never read as a definitions file, whatever its name.
    pub config_file: Option<PathBuf>,
    /// The project name; every registry object belongs to it.
    pub project: String,
    /// Free text shown by listing commands.
    pub project_description: Option<String>,
    /// Where the registry lives, absolute.
    pub registry_path: PathBuf,
    /// How long a server may serve a registry before re-reading it, in seconds (0 = forever).
    pub registry_cache_ttl_seconds: u64,
    /// The online store.
    pub online_store: OnlineStoreConfig,
    /// The `auth` section: who may call the server.
    pub auth: AuthConfig,
    /// The `feature_server` section, kept whole for the server to read.
    pub feature_server: Option<serde_json::Value>,
    /// The `plugins` section (edgefeat's own): where plugins live and the limits they run under.
    pub plugins: PluginsConfig,
    /// What was tolerated but should be fixed (unknown keys), one line each.
    pub warnings: Vec<String>,
}

/// `plugins` in feature_store.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginsConfig {
    /// The directory of `*.wasm` plugins, absolute (default `plugins`).
    pub path: PathBuf,
    /// Where compiled plugins are cached, absolute (default `data/plugin-cache`).
    pub cache_dir: PathBuf,
    /// The limits of every instance.
    pub limits: crate::plugins::PluginLimits,
    /// How often the server rescans the directory besides change events (`None`: never).
    pub poll: Option<std::time::Duration>,
}

/// The `auth` section (docs/feast-compat.md#auth-config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// `type: no_auth`: no token is read and no permission is checked, as Feast without a
    /// security manager.
    NoAuth,
    /// `type: oidc`: bearer JWTs verified against the issuer's keys, then permissions.
    Oidc(OidcConfig),
}

impl AuthConfig {
    /// The `type` as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthConfig::NoAuth => "no_auth",
            AuthConfig::Oidc(_) => "oidc",
        }
    }
}

/// `auth` with `type: oidc`: Feast's server-side `OidcAuthConfig`, plus `jwks_path` and
/// `roles_claim` for edge nodes and identity providers that Feast's parser does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The OpenID discovery document; its `jwks_uri` names the signing keys.
    pub auth_discovery_url: Option<String>,
    /// A local JWKS file, used instead of the discovery document (offline edge nodes).
    /// Absolute (resolved against the repo).
    pub jwks_path: Option<PathBuf>,
    /// Roles are read from `resource_access.<client_id>.roles` when set.
    pub client_id: Option<String>,
    /// When set, the token's `aud` must contain it.
    pub audience: Option<String>,
    /// When set, the token's `iss` must equal it.
    pub issuer: Option<String>,
    /// How long fetched keys are trusted before they are fetched again (Feast: 300).
    pub jwks_cache_lifespan_seconds: u64,
    /// The timeout of one discovery or JWKS request (Feast: 10).
    pub jwks_request_timeout_seconds: u64,
    /// An extra CA (PEM) trusted for the discovery and JWKS requests, besides the system's.
    pub ca_cert_path: Option<PathBuf>,
    /// An extra claim path holding a list of roles (`realm_access.roles` for Keycloak realm
    /// roles), split on dots.
    pub roles_claim: Option<Vec<String>>,
}

impl RawAuth {
    fn into_config(self, repo_path: &Path, origin: &str) -> Result<AuthConfig> {
        let kind = self.kind.unwrap_or_else(|| "no_auth".to_string());
        check_type("auth.type", &kind, &AUTH_TYPES, origin)?;
        if kind == "no_auth" {
            return Ok(AuthConfig::NoAuth);
        }
        // Empty strings come from `${VAR}` expanded to nothing: treat them as not set.
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let auth_discovery_url = set(self.auth_discovery_url);
        let jwks_path = set(self.jwks_path).map(|p| repo_path.join(p));
        if auth_discovery_url.is_none() && jwks_path.is_none() {
            bail!(
                "{origin}: auth.type `oidc` needs the issuer's keys: set `auth_discovery_url` (the OpenID discovery document) or `jwks_path` (a local JWKS file)"
            );
        }
        if let Some(url) = &auth_discovery_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("{origin}: auth.auth_discovery_url `{url}` must be an http:// or https:// URL");
        }
        if self.verify_ssl == Some(false) {
            bail!(
                "{origin}: auth.verify_ssl: false is not supported: edgefeat always verifies the identity provider's certificate; trust a private CA with `ca_cert_path` instead"
            );
        }
        let lifespan = self.jwks_cache_lifespan_seconds.unwrap_or(300);
        let roles_claim = match set(self.roles_claim) {
            None => None,
            Some(path) => {
                let parts: Vec<String> = path.split('.').map(str::to_string).collect();
                if parts.iter().any(String::is_empty) {
                    bail!(
                        "{origin}: auth.roles_claim `{path}` is not a claim path; write claim names joined by dots, e.g. `realm_access.roles`"
                    );
                }
                Some(parts)
            }
        };
        Ok(AuthConfig::Oidc(OidcConfig {
            auth_discovery_url,
            jwks_path,
            client_id: set(self.client_id),
            audience: set(self.audience),
            issuer: set(self.issuer),
            jwks_cache_lifespan_seconds: lifespan,
            jwks_request_timeout_seconds: self.jwks_request_timeout_seconds.unwrap_or(10).max(1),
            ca_cert_path: set(self.ca_cert_path).map(|p| repo_path.join(p)),
            roles_claim,
        }))
    }
}

impl RepoConfig {
    /// A count or size from the `feature_server` section (`max_request_body_bytes`,
    /// `max_entity_rows`): `None` when absent or not a non-negative integer.
    pub fn feature_server_usize(&self, key: &str) -> Option<usize> {
        self.feature_server
            .as_ref()
            .and_then(|f| f.get(key))
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    }

    /// Loads the config of the repo at `repo_path`. `yaml_path` overrides where the file is
    /// read from (`-f`); `FEATURE_STORE_YAML_BASE64`, when set, overrides both.
    pub fn load(repo_path: &Path, yaml_path: Option<&Path>) -> Result<RepoConfig> {
        let base64_text = std::env::var(YAML_BASE64_ENV).ok();
        let (text, origin, config_file) = match base64_text {
            Some(encoded) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .with_context(|| format!("{YAML_BASE64_ENV} is not valid base64"))?;
                let text = String::from_utf8(bytes)
                    .with_context(|| format!("{YAML_BASE64_ENV} does not decode to UTF-8 text"))?;
                (text, YAML_BASE64_ENV.to_string(), None)
            }
            None => {
                let path = yaml_path.map_or_else(
                    || repo_path.join("feature_store.yaml"),
                    |p| repo_path.join(p),
                );
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        anyhow::anyhow!(
                            "no feature repo here: {} does not exist. Run `edgefeat init NAME` to create one, or point at one with -c/--chdir DIR or -f/--feature-store-yaml FILE",
                            path.display()
                        )
                    } else {
                        anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
                    }
                })?;
                (text, path.display().to_string(), Some(path))
            }
        };
        let expanded = expand_vars(&text, |k| std::env::var(k).ok());
        let mut config = Self::from_text(repo_path, &expanded, &origin)?;
        config.config_file = config_file;
        Ok(config)
    }

    /// Parses config text that has already been read and expanded. `origin` names it in errors.
    pub fn from_text(repo_path: &Path, text: &str, origin: &str) -> Result<RepoConfig> {
        let raw: RawConfig = serde_saphyr::from_str(text)
            .map_err(|e| anyhow::anyhow!("{origin}: {}", crate::repo::yaml_error_text(&e)))?;
        let generic: serde_json::Value = serde_saphyr::from_str(text)
            .map_err(|e| anyhow::anyhow!("{origin}: {}", crate::repo::yaml_error_text(&e)))?;
        let warnings = unknown_key_warnings(&generic, origin);

        let Some(project) = raw.project else {
            bail!("{origin}: `project` is required: add a line like `project: my_project`");
        };
        check_project_name(&project).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;

        if let Some(p) = raw.provider.as_deref()
            && p != "local"
        {
            bail!(
                "{origin}: provider `{p}` is not supported: edgefeat runs everything locally, use `provider: local`"
            );
        }
        if let Some(v) = raw.entity_key_serialization_version
            && v != 3
        {
            bail!(
                "{origin}: entity_key_serialization_version {v} is not supported: edgefeat reads and writes version 3 only (versions below 3 are deprecated in Feast); set it to 3"
            );
        }
        if let Some(t) = raw.offline_store.and_then(|o| o.kind) {
            check_type("offline_store.type", &t, &OFFLINE_STORE_TYPES, origin)?;
        }
        let auth = match raw.auth {
            None => AuthConfig::NoAuth,
            Some(a) => a.into_config(repo_path, origin)?,
        };

        let (registry, cache_ttl) = match raw.registry {
            None => ("data/registry.db".to_string(), 600),
            Some(RawRegistry::Path(p)) => (p, 600),
            Some(RawRegistry::Map {
                registry_type,
                path,
                cache_ttl_seconds,
            }) => {
                if let Some(t) = registry_type.as_deref()
                    && t != "file"
                {
                    let what = match t {
                        "sql" => "Feast's SQL registry is not supported yet",
                        "remote" => {
                            "a remote registry (`feast serve_registry`) is not supported yet"
                        }
                        "snowflake.registry" => "Feast's Snowflake registry is not supported yet",
                        _ => "it is not a registry type Feast knows",
                    };
                    bail!(
                        "{origin}: registry.registry_type `{t}`: {what}; edgefeat reads a registry file on local disk (its own, or Feast's `registry.db`): use `registry_type: file` with a local `path`"
                    );
                }
                (
                    path.unwrap_or_else(|| "data/registry.db".to_string()),
                    cache_ttl_seconds.unwrap_or(600),
                )
            }
        };

        check_registry_path(&registry, origin)?;

        let online = raw.online_store.unwrap_or_default();
        let kind = match online.kind.clone() {
            None => "lmdb".to_string(),
            Some(k) if k == FEAST_SQLITE_CLASS => "sqlite".to_string(),
            Some(k) if k == FEAST_REDIS_CLASS => "redis".to_string(),
            Some(k) => k,
        };
        check_type("online_store.type", &kind, &ONLINE_STORE_TYPES, origin)?;
        let mut warnings = warnings;
        let map_size = size_or_default(online.map_size.as_ref())
            .map_err(|e| anyhow::anyhow!("{origin}: online_store.map_size: {e}"))?;
        let write_policy = match online.write_policy.as_deref() {
            None | Some("newer_wins") => WritePolicy::NewerWins,
            Some("last_write_wins") => WritePolicy::LastWriteWins,
            Some(other) => bail!(
                "{origin}: online_store.write_policy `{other}` is not supported; supported: newer_wins, last_write_wins"
            ),
        };
        let online_store = if kind == "plugin" {
            OnlineStoreConfig::Plugin(
                plugin_store_config(repo_path, online)
                    .map_err(|e| anyhow::anyhow!("{origin}: online_store.{e}"))?,
            )
        } else if kind == "redis" {
            OnlineStoreConfig::Redis(
                redis_store_config(online)
                    .map_err(|e| anyhow::anyhow!("{origin}: online_store.{e}"))?,
            )
        } else if kind == "sqlite" {
            let (config, notes) = sqlite_store_config(repo_path, online)
                .map_err(|e| anyhow::anyhow!("{origin}: online_store.{e}"))?;
            warnings.extend(
                notes
                    .into_iter()
                    .map(|n| format!("{origin}: online_store.{n}")),
            );
            OnlineStoreConfig::Sqlite(config)
        } else {
            OnlineStoreConfig::Lmdb(LmdbConfig {
                path: repo_path.join(
                    online
                        .path
                        .unwrap_or_else(|| "data/online_store.lmdb".to_string()),
                ),
                map_size,
                write_policy,
            })
        };

        let plugins = plugins_config(repo_path, raw.plugins)
            .map_err(|e| anyhow::anyhow!("{origin}: plugins.{e}"))?;

        Ok(RepoConfig {
            repo_path: repo_path.to_path_buf(),
            config_file: None,
            project,
            project_description: raw.project_description,
            registry_path: repo_path.join(registry.strip_prefix("file://").unwrap_or(&registry)),
            registry_cache_ttl_seconds: cache_ttl,
            online_store,
            auth,
            feature_server: raw.feature_server,
            plugins,
            warnings,
        })
    }
}

fn plugins_config(
    repo_path: &Path,
    raw: Option<RawPlugins>,
) -> std::result::Result<PluginsConfig, String> {
    let raw = raw.unwrap_or(RawPlugins {
        path: None,
        cache_dir: None,
        memory_limit: None,
        timeout_ms: None,
        poll_interval_seconds: None,
    });
    let defaults = crate::plugins::PluginLimits::default();
    let memory_bytes = match raw.memory_limit {
        None => defaults.memory_bytes,
        Some(RawSize::Bytes(n)) => {
            usize::try_from(n).map_err(|_| "memory_limit: too large".to_string())?
        }
        Some(RawSize::Text(t)) => {
            usize::try_from(parse_size(&t).map_err(|e| format!("memory_limit: {e}"))?)
                .map_err(|_| "memory_limit: too large".to_string())?
        }
    };
    // A guest needs its stack and data segments; 4 GiB is wasm32's whole address space.
    if !(1 << 20..=4 << 30).contains(&memory_bytes) {
        return Err(format!(
            "memory_limit: {memory_bytes} bytes is out of range; give 1MiB to 4GiB"
        ));
    }
    let timeout_ms = raw
        .timeout_ms
        .unwrap_or(defaults.deadline.as_millis() as u64);
    if !(1..=60_000).contains(&timeout_ms) {
        return Err(format!(
            "timeout_ms: {timeout_ms} is out of range; give 1 to 60000 milliseconds"
        ));
    }
    Ok(PluginsConfig {
        path: repo_path.join(raw.path.unwrap_or_else(|| "plugins".into())),
        cache_dir: repo_path.join(raw.cache_dir.unwrap_or_else(|| "data/plugin-cache".into())),
        limits: crate::plugins::PluginLimits {
            memory_bytes,
            deadline: std::time::Duration::from_millis(timeout_ms),
        },
        poll: match raw.poll_interval_seconds.unwrap_or(5) {
            0 => None,
            n => Some(std::time::Duration::from_secs(n)),
        },
    })
}

/// Refuses registry locations edgefeat cannot read yet, by name: an object store (Feast reads
/// `s3://`, `gs://` and `hdfs://` registries) or any other URL scheme. A Windows drive letter
/// (`C:/…`) is a path, as in Feast.
fn check_registry_path(path: &str, origin: &str) -> Result<()> {
    let Some((scheme, _)) = path.split_once("://") else {
        return Ok(());
    };
    let what = match scheme {
        "s3" => "registries on S3 are not supported yet",
        "gs" => "registries on Google Cloud Storage are not supported yet",
        "hdfs" => "registries on HDFS are not supported yet",
        "file" => return Ok(()),
        _ => "that URL scheme is not a registry store",
    };
    bail!(
        "{origin}: registry `{path}`: {what}; edgefeat reads a registry file on local disk: copy the file next to the server (a sidecar or cron job that syncs it) and point `registry:` at the copy, which edgefeat reloads when it changes"
    )
}

fn check_type(key: &str, value: &str, supported: &[&str], origin: &str) -> Result<()> {
    if supported.contains(&value) {
        return Ok(());
    }
    bail!(
        "{origin}: {key} `{value}` is not supported; supported: {}",
        supported.join(", ")
    )
}

/// Checks a project name the way Feast does: letters, digits, `_` and `-`, not starting with
/// `_` or `-`.
pub fn check_project_name(name: &str) -> std::result::Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name.is_empty() || !valid_chars || name.starts_with(['_', '-']) {
        return Err(format!(
            "project name `{name}` is invalid: use letters, digits, `_` and `-`, not starting with `_` or `-`"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
