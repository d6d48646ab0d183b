//! The feature repo: `feature_store.yaml`, the definition files, their validation, and the
//! `edgefeat init` template.

pub mod config;
mod config_env;
mod config_online;
mod config_raw;
pub mod definitions;
pub mod diagnostics;
pub mod driver_data;
pub mod rag_data;
mod redis_url;
pub mod source_schema;
pub mod template;
pub mod validate;
pub mod yaml_emit;

pub use config::{AuthConfig, OidcConfig, RepoConfig};
pub use diagnostics::Diagnostic;

/// Renders a YAML error as one line, `line L column C: what`, without the source snippet
/// serde-saphyr can draw: callers prefix it with the file name to make a `file:line` pointer.
pub fn yaml_error_text(e: &serde_saphyr::Error) -> String {
    let plain = e.without_snippet().to_string();
    let plain = plain.lines().next().unwrap_or_default().to_string();
    match e.location() {
        Some(loc) if !plain.contains("line") => {
            format!("line {} column {}: {plain}", loc.line(), loc.column())
        }
        _ => plain,
    }
}
