//! The serde shapes `feature_store.yaml` is read into before [`super::config::RepoConfig`] is
//! built from them, the keys known per section for the unknown-key warnings, and sizes as
//! they are written (`512MiB`), which more than one section takes.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct RawAuth {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) auth_discovery_url: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) jwks_path: Option<String>,
    pub(super) jwks_cache_lifespan_seconds: Option<u64>,
    pub(super) jwks_request_timeout_seconds: Option<u64>,
    pub(super) verify_ssl: Option<bool>,
    pub(super) ca_cert_path: Option<String>,
    pub(super) roles_claim: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawConfig {
    pub(super) project: Option<String>,
    pub(super) project_description: Option<String>,
    pub(super) registry: Option<RawRegistry>,
    pub(super) provider: Option<String>,
    pub(super) online_store: Option<RawOnlineStore>,
    pub(super) offline_store: Option<RawTyped>,
    pub(super) entity_key_serialization_version: Option<u32>,
    pub(super) auth: Option<RawAuth>,
    pub(super) feature_server: Option<serde_json::Value>,
    pub(super) plugins: Option<RawPlugins>,
}

#[derive(Deserialize)]
pub(super) struct RawPlugins {
    pub(super) path: Option<String>,
    pub(super) cache_dir: Option<String>,
    pub(super) memory_limit: Option<RawSize>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) poll_interval_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawRegistry {
    Path(String),
    Map {
        registry_type: Option<String>,
        path: Option<String>,
        cache_ttl_seconds: Option<u64>,
    },
}

#[derive(Deserialize, Default)]
pub(super) struct RawOnlineStore {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) path: Option<String>,
    pub(super) map_size: Option<RawSize>,
    pub(super) write_policy: Option<String>,
    pub(super) plugin: Option<String>,
    pub(super) config: Option<BTreeMap<String, RawScalar>>,
    pub(super) kv: Option<RawKv>,
    pub(super) allow_connect: Option<Vec<String>>,
    pub(super) busy_timeout_ms: Option<u64>,
    pub(super) journal_mode: Option<String>,
    pub(super) vector_enabled: Option<bool>,
    pub(super) enable_openai_compatible_store: Option<bool>,
    pub(super) redis_type: Option<String>,
    pub(super) connection_string: Option<String>,
    pub(super) key_ttl_seconds: Option<i64>,
    pub(super) full_scan_for_deletion: Option<bool>,
    pub(super) skip_dedup: Option<bool>,
    pub(super) client: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) missing_entities: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawKv {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) path: Option<String>,
    pub(super) map_size: Option<RawSize>,
    pub(super) connection_string: Option<String>,
    pub(super) redis_type: Option<String>,
    pub(super) timeout_ms: Option<u64>,
}

/// A scalar of a free-form map, kept as the text the adapter will get.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawScalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl RawScalar {
    pub(super) fn into_text(self) -> String {
        match self {
            RawScalar::Bool(b) => b.to_string(),
            RawScalar::Int(i) => i.to_string(),
            RawScalar::Float(f) => f.to_string(),
            RawScalar::Text(t) => t,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawSize {
    Bytes(u64),
    Text(String),
}

/// Reads a size such as `512MiB`, `10GiB`, `1GB` or a number of bytes.
pub(super) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().map_err(|_| {
        format!("`{text}` is not a size; write e.g. `10GiB`, `512MiB` or a number of bytes")
    })?;
    let scale: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        "TiB" | "T" | "TB" => 1 << 40,
        unit => {
            return Err(format!(
                "unknown size unit `{unit}` in `{text}`; use KiB, MiB, GiB or TiB"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[derive(Deserialize)]
pub(super) struct RawTyped {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

/// Keys known per section, for the unknown-key warnings. Feast's own keys are listed even
/// where edgefeat ignores them, so a Feast file loads without noise.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "project",
            "project_description",
            "registry",
            "provider",
            "online_store",
            "offline_store",
            "batch_engine",
            "entity_key_serialization_version",
            "auth",
            "feature_server",
            "materialization",
            "coerce_tz_aware",
            "flags",
            "repo_path",
            "embedding_model",
            "openlineage",
            "mlflow",
            "data_quality_monitoring",
            // edgefeat's own
            "plugins",
        ],
    ),
    (
        "plugins",
        &[
            "path",
            "cache_dir",
            "memory_limit",
            "timeout_ms",
            "poll_interval_seconds",
        ],
    ),
    (
        "registry",
        &[
            "registry_type",
            "path",
            "cache_ttl_seconds",
            "cache_mode",
            "enable_online_feature_view_versioning",
        ],
    ),
    (
        "online_store",
        &[
            "type",
            "path",
            "map_size",
            "write_policy",
            "plugin",
            "config",
            "kv",
            "allow_connect",
            // type: sqlite (Feast's, then edgefeat's own)
            "text_search_enabled",
            "enable_openai_compatible_store",
            "vector_enabled",
            "similarity",
            "vector_len",
            "busy_timeout_ms",
            "journal_mode",
            // type: redis (Feast's, then edgefeat's own)
            "redis_type",
            "connection_string",
            "key_ttl_seconds",
            "full_scan_for_deletion",
            "skip_dedup",
            "client",
            "sentinel_master",
            "timeout_ms",
            "missing_entities",
        ],
    ),
    ("offline_store", &["type"]),
    (
        "auth",
        &[
            "type",
            "auth_discovery_url",
            "client_id",
            "verify_ssl",
            "ca_cert_path",
            "audience",
            "issuer",
            "jwks_cache_lifespan_seconds",
            "jwks_request_timeout_seconds",
            "jwks_path",
            "roles_claim",
            "client_secret",
            "username",
            "password",
            "token",
            "token_env_var",
            "token_refresh_margin_seconds",
        ],
    ),
    (
        "feature_server",
        &[
            "type",
            "enabled",
            "metrics",
            "feature_logging",
            "offline_push_batching_enabled",
            "offline_push_batching_batch_size",
            "offline_push_batching_batch_interval_seconds",
            "transformation_service_endpoint",
            // edgefeat's own
            "enforce_ttl",
            "max_request_body_bytes",
            "max_entity_rows",
        ],
    ),
];

pub(super) fn unknown_key_warnings(doc: &serde_json::Value, origin: &str) -> Vec<String> {
    let known: BTreeMap<&str, &[&str]> = KNOWN_KEYS.iter().copied().collect();
    let mut out = Vec::new();
    let mut check = |section: &str, value: &serde_json::Value| {
        let (Some(map), Some(keys)) = (value.as_object(), known.get(section)) else {
            return;
        };
        for key in map.keys() {
            if !keys.contains(&key.as_str()) {
                let path = if section.is_empty() {
                    key.clone()
                } else {
                    format!("{section}.{key}")
                };
                out.push(format!(
                    "{origin}: unknown key `{path}` ignored; known keys here: {}",
                    keys.join(", ")
                ));
            }
        }
    };
    check("", doc);
    if let Some(map) = doc.as_object() {
        for (section, value) in map {
            check(section, value);
        }
    }
    out
}
