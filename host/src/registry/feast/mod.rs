//! Feast's own registry file, `registry.db`, as a source of truth: read into edgefeat's model
//! (`decode`), never rewritten from it. `feast apply` stays the authoring tool.

mod decode;

pub use decode::decode_registry;

/// The `format` of a [`crate::registry::Registry`] read from a Feast `registry.db`.
pub const FEAST_FORMAT: &str = "feast-registry";

#[cfg(test)]
mod decode_tests;
