//! Access control: who is calling (OIDC bearer tokens, [`oidc`]) and what they may do
//! (Feast's permissions, [`permissions`]).
//!
//! Nothing here knows HTTP: the HTTP layer hands over the `Authorization` header value and
//! gets a [`Principal`] or an [`AuthError`] back, then asks the [`permissions::Authorizer`]
//! about the resources a route resolved, and renders the answer as Feast does
//! (docs/feast-compat.md#permission-enforcement).

pub mod claims;
pub mod crypto;
mod fetch;
pub mod jwks;
pub mod oidc;
pub mod permissions;
pub mod resources;

pub use claims::{Principal, bearer_token};
pub use oidc::{AuthError, Authenticator};
pub use permissions::{Authorizer, PermissionDenied, Resource};

/// The 401 body detail for a missing, malformed, unverifiable or expired token (Feast's).
pub const INVALID_TOKEN: &str = "Invalid or expired access token";
/// The 401 body detail for a `Bearer` header without a token (Feast's).
pub const MISSING_TOKEN: &str = "Missing authentication token";
