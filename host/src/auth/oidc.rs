//! OIDC bearer tokens: verify a JWT against the issuer's keys, check its times, issuer and
//! audience, and read the caller's identity from its claims (docs/feast-compat.md#token-parsing).
//!
//! Verified tokens are remembered by their SHA-256 until they expire, so a client that sends
//! the same token with every request pays for the signature check once: a hit costs a hash
//! and a map lookup (about a microsecond) instead of an RSA or ECDSA verification and a JSON
//! parse (tens of microseconds; see `benches/auth.rs`). Only the hash is kept, never the token.
//! The price is that a key removed from the JWKS keeps validating tokens it already verified
//! until they expire, which is also true of Feast's JWKS cache for its lifespan.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};

use super::claims::{Principal, bearer_token, principal_from_claims};
use super::jwks::{KeyCache, KeySet, KeySource};
use crate::repo::OidcConfig;

/// Clock skew tolerated on `exp` and `nbf`, in seconds (Feast's PyJWT `leeway=10`).
pub const LEEWAY_SECONDS: u64 = 10;

/// Verified tokens remembered at most; the memory is cleared when full.
const MAX_CACHED_TOKENS: usize = 10_000;

/// Why a request is not authenticated. Both render as 401; the reason is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `Authorization: Bearer` with no token.
    #[error("missing token")]
    Missing,
    /// Anything else: no header, another scheme, a bad or expired token.
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl AuthError {
    /// Feast's `detail` text for this error.
    pub fn detail(&self) -> &'static str {
        match self {
            AuthError::Missing => super::MISSING_TOKEN,
            AuthError::Invalid(_) => super::INVALID_TOKEN,
        }
    }
}

struct CachedToken {
    principal: Arc<Principal>,
    /// Unix seconds after which the token is no longer accepted (`exp` + leeway).
    valid_until: u64,
}

/// Verifies bearer tokens for `auth.type: oidc`.
pub struct Authenticator {
    keys: KeyCache,
    client_id: Option<String>,
    roles_claim: Option<Vec<String>>,
    audience: Option<String>,
    issuer: Option<String>,
    tokens: RwLock<HashMap<[u8; 32], CachedToken>>,
}

impl Authenticator {
    /// An authenticator for `config`. Nothing is fetched yet: see [`Authenticator::load_keys`].
    pub fn new(config: &OidcConfig) -> Authenticator {
        super::crypto::install();
        let source = match (&config.jwks_path, &config.auth_discovery_url) {
            (Some(path), _) => KeySource::File(path.clone()),
            (None, Some(url)) => KeySource::Discovery {
                url: url.clone(),
                jwks_uri: tokio::sync::OnceCell::new(),
                // Built lazily would hide a broken trust store until the first request; built
                // here, its error is reported with the first fetch.
                tls: super::fetch::client_tls(config.ca_cert_path.as_deref())
                    .map_err(|e| format!("{e:#}")),
                timeout: Duration::from_secs(config.jwks_request_timeout_seconds),
            },
            // The config loader refuses this combination.
            (None, None) => KeySource::File("jwks.json".into()),
        };
        Authenticator {
            keys: KeyCache::new(
                source,
                Duration::from_secs(config.jwks_cache_lifespan_seconds),
            ),
            client_id: config.client_id.clone(),
            roles_claim: config.roles_claim.clone(),
            audience: config.audience.clone(),
            issuer: config.issuer.clone(),
            tokens: RwLock::new(HashMap::new()),
        }
    }

    /// Fetches the keys (at startup, so the first request does not wait for it); returns how
    /// many usable keys were found.
    pub async fn load_keys(&self) -> Result<usize> {
        self.keys.load().await
    }

    /// The caller named by an `Authorization` header value (`None`: no header).
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Arc<Principal>, AuthError> {
        let token = bearer_token(header)?;
        let digest = token_digest(token);
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(hit) = self
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            && now <= hit.valid_until
        {
            return Ok(hit.principal.clone());
        }
        let header = decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("unreadable token header: {e}")))?;
        let keys = self
            .keys
            .keys_for(header.kid.as_deref())
            .await
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let (principal, exp) = self.verify(token, &keys)?;
        let principal = Arc::new(principal);
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= MAX_CACHED_TOKENS {
            tokens.retain(|_, t| now <= t.valid_until);
            if tokens.len() >= MAX_CACHED_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            digest,
            CachedToken {
                principal: principal.clone(),
                valid_until: exp.saturating_add(LEEWAY_SECONDS),
            },
        );
        Ok(principal)
    }

    /// Verifies `token` against `keys` with no caching: signature (asymmetric algorithms
    /// only), `exp` (required) and `nbf` with [`LEEWAY_SECONDS`], `iss` and `aud` when
    /// configured. Returns the principal and the token's `exp`.
    pub fn verify(&self, token: &str, keys: &KeySet) -> Result<(Principal, u64), AuthError> {
        let invalid = |why: String| AuthError::Invalid(why);
        let header =
            decode_header(token).map_err(|e| invalid(format!("unreadable token header: {e}")))?;
        if !super::crypto::is_supported(header.alg) {
            return Err(invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = keys
            .find(header.kid.as_deref(), header.alg)
            .ok_or_else(|| invalid(format!("no key {:?} for {:?}", header.kid, header.alg)))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Feast accepts a token without `exp`; a bearer token that never expires is not
        // something an edge node should honour, so `exp` is required. A configured audience
        // or issuer makes its claim required too (PyJWT's behaviour): jsonwebtoken otherwise
        // checks `aud` and `iss` only when the token happens to carry them.
        let mut required = vec!["exp"];
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let data = decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| invalid(e.to_string()))?;
        let exp = data
            .claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("exp is not a number of seconds".into()))?;
        let principal = principal_from_claims(
            &data.claims,
            self.client_id.as_deref(),
            self.roles_claim.as_deref(),
        )?;
        Ok((principal, exp))
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
