//! The online store: where materialized and pushed rows are kept for serving.
//!
//! [`OnlineStore`] is the seam every backend implements (the embedded LMDB store, and later
//! WASM store adapters). `apply` and `teardown` only need its lifecycle half, defined here;
//! reads and writes join it with the LMDB implementation.

use anyhow::Result;

use crate::registry::FeatureView;
use crate::repo::RepoConfig;
use crate::repo::config::OnlineStoreConfig;

/// One infrastructure change, printed by `apply` under the registry changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraChange(pub String);

/// An online store backend.
pub trait OnlineStore: Send + Sync {
    /// Makes room for the views to keep and drops the data of the views to delete. Called by
    /// `apply` before the registry is written, so a failure leaves the old registry in force.
    fn update(
        &self,
        project: &str,
        keep: &[&FeatureView],
        delete: &[&FeatureView],
    ) -> Result<Vec<InfraChange>>;

    /// Removes everything the store holds for the project.
    fn teardown(&self, project: &str) -> Result<Vec<InfraChange>>;
}

/// A store that keeps nothing: the seam's placeholder until the LMDB store lands, so that
/// `apply` already goes through the trait. It reports no infrastructure changes, because it
/// makes none.
#[derive(Debug, Default)]
pub struct NoopStore;

impl OnlineStore for NoopStore {
    fn update(&self, _: &str, _: &[&FeatureView], _: &[&FeatureView]) -> Result<Vec<InfraChange>> {
        Ok(Vec::new())
    }

    fn teardown(&self, _: &str) -> Result<Vec<InfraChange>> {
        Ok(Vec::new())
    }
}

/// Opens the store the config names.
pub fn open(config: &RepoConfig) -> Result<Box<dyn OnlineStore>> {
    match &config.online_store {
        OnlineStoreConfig::Lmdb { .. } => Ok(Box::new(NoopStore)),
    }
}
