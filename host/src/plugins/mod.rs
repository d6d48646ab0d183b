//! WebAssembly plugins (wasmtime components, interfaces in `wit/`): the on-demand feature
//! transforms.
//!
//! One [`PluginEngine`] per process compiles and runs every plugin under the same limits: a
//! memory cap per instance, a deadline per call (epoch interruption), and a WASI context that
//! grants nothing. A [`PluginHost`] owns the plugins of one directory, keeps warm instances,
//! and swaps new versions in atomically after they pass `describe()` validation; a failing
//! plugin fails only the requests that use it.

pub mod adapter;
pub mod breaker;
mod cache;
pub mod check;
pub mod columns;
mod engine;
mod host;
mod transform;
#[doc(hidden)]
pub mod wat_fixtures;
#[cfg(test)]
mod wat_tests;
mod watch;

pub use columns::{
    HostColumn, PluginField, PluginInfo, PluginType, to_feature_value, to_plugin_value,
    to_plugin_value_checked,
};
pub use engine::{EPOCH_TICK, NoDeadlines, PluginEngine, PluginLimits};
pub use host::{LoadedPlugin, PluginHost, PluginStatus, Validator};
pub use transform::{CallError, TransformPlugin};
pub use watch::{PluginWatcher, watch_plugins};

/// The host of a repo's transform plugins: `plugins.path`, with the compile cache, minus the
/// store adapter when the online store is one.
pub fn transform_host(engine: PluginEngine, config: &crate::repo::RepoConfig) -> PluginHost {
    let host = PluginHost::new(
        engine,
        config.plugins.path.clone(),
        Some(config.plugins.cache_dir.clone()),
    );
    match &config.online_store {
        crate::repo::config::OnlineStoreConfig::Plugin(p) => host.excluding(&p.plugin),
        crate::repo::config::OnlineStoreConfig::Lmdb(_)
        | crate::repo::config::OnlineStoreConfig::Sqlite(_)
        | crate::repo::config::OnlineStoreConfig::Redis(_) => host,
    }
}

/// The demo plugin (`plugins/transformed-conv-rate`), compiled by build.rs; empty when this
/// binary was built without the wasm32-wasip2 target.
pub const DEMO_PLUGIN: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/transformed_conv_rate.wasm"));

/// The example store adapter (`plugins/redis-layout-adapter`), compiled by build.rs; empty
/// when this binary was built without the wasm32-wasip2 target.
pub const REDIS_LAYOUT_ADAPTER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/redis_layout_adapter.wasm"));
