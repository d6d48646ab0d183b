//! Authentication on gRPC: the bearer token from the `authorization` metadata, checked by the
//! same authenticator (and its decision cache) as the HTTP front's. Authorization is the
//! core's, per call, once it knows what the call touches.

use std::sync::Arc;

use tonic::{Request, Status};

use crate::auth::Principal;
use crate::serving::FeatureServer;

/// The caller of a request: `None` with `no_auth`; UNAUTHENTICATED without a valid token.
pub async fn caller<T>(
    core: &FeatureServer,
    request: &Request<T>,
) -> Result<Option<Arc<Principal>>, Status> {
    let Some(authenticator) = core.authenticator.as_ref() else {
        return Ok(None);
    };
    let header = request
        .metadata()
        .get("authorization")
        .map(|v| v.as_bytes());
    match authenticator.authenticate(header).await {
        Ok(principal) => Ok(Some(principal)),
        Err(e) => {
            // The reason, never the token: tokens are credentials.
            tracing::debug!("gRPC call refused: {e}");
            metrics::counter!("edgefeat_auth_rejected_total").increment(1);
            Err(Status::unauthenticated(e.detail()))
        }
    }
}
