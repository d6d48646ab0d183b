//! The offline store: parquet sources, and materialization from them into the online store.

pub mod arrow;
pub mod compact;
pub mod convert;
pub mod materialize;
pub mod parts;
pub mod parts_lock;
pub mod push;
mod push_columns;
pub mod quarantine;
pub mod source;
