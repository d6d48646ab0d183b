//! Feast's own registry file, `registry.db`: one serialized `feast.core.Registry` protobuf.
//!
//! `wire` walks and edits protobuf messages at the wire level; `intervals` records
//! materializations in the file the way Feast's file registry does, keeping every byte it
//! does not mean to change.

mod intervals;
pub mod wire;

pub use intervals::{IntervalRecord, new_version_id, record_intervals};
