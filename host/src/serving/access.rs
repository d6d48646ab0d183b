//! Authorization in the serving core: Feast's `assert_permissions` for what a request touches,
//! the same for every front. Authentication (reading the token) is the front's first step; it
//! hands the [`Principal`] it got to these checks.

use crate::auth::{Principal, Resource};
use crate::registry::Action;
use crate::serving::Snapshot;
use crate::serving::error::ServingError;
use crate::serving::server::FeatureServer;

impl FeatureServer {
    /// READ_ONLINE on what a read names (get-online-features, search). As Feast, the names are
    /// resolved first (404 for an unknown one) and both steps are skipped without a security
    /// manager.
    pub fn authorize_online_read(
        &self,
        caller: Option<&Principal>,
        snapshot: &Snapshot,
        feature_service: Option<&str>,
        features: &[String],
    ) -> Result<(), ServingError> {
        if self.authenticator.is_none() {
            return Ok(());
        }
        let resources =
            crate::auth::resources::online_read(&snapshot.registry, feature_service, features)?;
        self.authorize(caller, snapshot, &resources, &[Action::ReadOnline])
    }

    /// Checks `actions` on every resource, in order, for the caller (Feast's
    /// `assert_permissions`): the first refusal is a 403 `FeastPermissionError`. Always allowed
    /// with `no_auth`.
    pub fn authorize(
        &self,
        caller: Option<&Principal>,
        snapshot: &Snapshot,
        resources: &[Resource<'_>],
        actions: &[Action],
    ) -> Result<(), ServingError> {
        if self.authenticator.is_none() {
            return Ok(());
        }
        // With oidc every data route is authenticated first; a missing principal would be a
        // route wired without it, and must not be an open door.
        let Some(principal) = caller else {
            return Err(ServingError::detail(401, crate::auth::INVALID_TOKEN));
        };
        let authorizer = self.authorizer(snapshot);
        for resource in resources {
            authorizer
                .check(principal, resource, actions)
                .map_err(|denied| ServingError::feast(403, "FeastPermissionError", &*denied.0))?;
        }
        Ok(())
    }
}
