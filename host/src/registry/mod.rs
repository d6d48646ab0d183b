//! The registry: the typed model of a project's definitions, its diff for `apply`, and its
//! persisted file.

mod diff;
mod export;
pub mod feast;
mod file;
pub mod intervals;
mod model;

pub use diff::{Change, ChangeKind, ObjectKind, RegistryDiff, diff_and_merge};
pub use export::{Exported, dtype_text, export_definitions};
pub use file::{
    FORMAT_NAME, FORMAT_VERSION, RegistryLock, is_feast_registry, load_registry, remove_registry,
    save_registry,
};
pub use model::*;

#[cfg(test)]
mod tests;
