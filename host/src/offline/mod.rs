//! The offline store: parquet sources, and materialization from them into the online store.

pub mod arrow;
pub mod convert;
pub mod materialize;
pub mod push;
pub mod source;
