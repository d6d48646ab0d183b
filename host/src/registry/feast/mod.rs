//! Feast's own registry file, `registry.db`: one serialized `feast.core.Registry` protobuf,
//! as a source of truth. `decode` reads it into edgefeat's model; it is never rewritten from
//! that model (`feast apply` stays the authoring tool). `wire` walks and edits protobuf
//! messages at the wire level; `intervals` records materializations in the file the way
//! Feast's file registry does, keeping every byte it does not mean to change.

mod decode;
mod intervals;
pub mod wire;

pub use decode::decode_registry;
pub use intervals::{IntervalRecord, new_version_id, record_intervals};

/// The `format` of a [`crate::registry::Registry`] read from a Feast `registry.db`.
pub const FEAST_FORMAT: &str = "feast-registry";

#[cfg(test)]
mod decode_tests;
