//! The issuer's signing keys: a JWKS from the discovery document's `jwks_uri`, or from a local
//! file on offline edge nodes, kept `jwks_cache_lifespan_seconds` and fetched again early when
//! a token names a key id that is not in it (the issuer rotated its keys).
//!
//! Refetches are single-flight (one at a time; concurrent requests wait for it and then look
//! again) and those triggered by unknown key ids are rate-limited, so a stream of tokens with
//! made-up `kid`s cannot turn the server into a load generator against the identity provider.
//! A failed refetch keeps the keys already known: an identity provider that is briefly down
//! must not lock every client out of an edge node.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::fetch;

/// At most one refetch per this interval is triggered by unknown key ids.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// A usable signing key.
pub struct SigningKey {
    /// The JWK `kid`.
    pub kid: Option<String>,
    /// The JWK `alg`, when it pins one.
    pub alg: Option<Algorithm>,
    /// The key.
    pub key: DecodingKey,
}

/// One fetched key set.
pub struct KeySet {
    /// The usable keys, in document order.
    pub keys: Vec<SigningKey>,
    fetched: Instant,
}

impl KeySet {
    /// Parses a JWKS document, keeping the signature keys this server can verify with (a JWKS
    /// may also list encryption keys or key types we do not support; those are skipped, not
    /// fatal).
    pub fn parse(doc: &serde_json::Value) -> Result<KeySet> {
        let set: JwkSet = serde_json::from_value(doc.clone())
            .map_err(|e| anyhow!("not a JWKS (an object with a `keys` list): {e}"))?;
        let keys = set.keys.iter().filter_map(signing_key).collect();
        Ok(KeySet {
            keys,
            fetched: Instant::now(),
        })
    }

    /// The key for a token: by `kid`, or the only key when the token names none. The key's
    /// pinned algorithm, if any, must be the token's.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let fits = |k: &&SigningKey| k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .filter(fits)
                .map(|k| &k.key),
            None if self.keys.len() == 1 => self.keys.first().filter(fits).map(|k| &k.key),
            None => None,
        }
    }

    fn has_kid(&self, kid: Option<&str>) -> bool {
        match kid {
            Some(kid) => self.keys.iter().any(|k| k.kid.as_deref() == Some(kid)),
            None => self.keys.len() == 1,
        }
    }
}

fn signing_key(jwk: &Jwk) -> Option<SigningKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(match a {
            KeyAlgorithm::RS256 => Algorithm::RS256,
            KeyAlgorithm::RS384 => Algorithm::RS384,
            KeyAlgorithm::RS512 => Algorithm::RS512,
            KeyAlgorithm::PS256 => Algorithm::PS256,
            KeyAlgorithm::PS384 => Algorithm::PS384,
            KeyAlgorithm::PS512 => Algorithm::PS512,
            KeyAlgorithm::ES256 => Algorithm::ES256,
            KeyAlgorithm::ES384 => Algorithm::ES384,
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            // HMAC and encryption algorithms: never a verification key here.
            _ => return None,
        }),
    };
    // `oct` keys are shared secrets: an issuer's JWKS must not turn them into trust.
    if matches!(
        jwk.algorithm,
        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
    ) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(SigningKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

/// Where the keys come from.
pub enum KeySource {
    /// A local JWKS file, re-read like a fetched one.
    File(PathBuf),
    /// The discovery document; its `jwks_uri` is read once and remembered.
    Discovery {
        /// The discovery document's URL.
        url: String,
        /// The `jwks_uri` it named, once read.
        jwks_uri: tokio::sync::OnceCell<String>,
        /// The trust store for https URLs, or why there is none.
        tls: std::result::Result<Arc<rustls::ClientConfig>, String>,
        /// The deadline of one request.
        timeout: Duration,
    },
}

impl KeySource {
    async fn load(&self) -> Result<KeySet> {
        match self {
            KeySource::File(path) => {
                // A JWKS file is a few kilobytes on local disk: read in place.
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read jwks_path {}", path.display()))?;
                let doc: serde_json::Value = serde_json::from_slice(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?;
                KeySet::parse(&doc).with_context(|| path.display().to_string())
            }
            KeySource::Discovery {
                url,
                jwks_uri,
                tls,
                timeout,
            } => {
                let tls_ref = tls.as_ref().ok();
                let uri = jwks_uri
                    .get_or_try_init(|| async {
                        let doc = fetch::get_json(url, tls_ref, *timeout)
                            .await
                            .map_err(|e| with_tls_hint(e, tls))?;
                        match doc.get("jwks_uri").and_then(|v| v.as_str()) {
                            Some(u) => Ok::<_, anyhow::Error>(u.to_string()),
                            None => bail!("the discovery document {url} has no `jwks_uri`"),
                        }
                    })
                    .await?;
                let doc = fetch::get_json(uri, tls_ref, *timeout)
                    .await
                    .map_err(|e| with_tls_hint(e, tls))?;
                KeySet::parse(&doc).with_context(|| uri.clone())
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            KeySource::File(p) => p.display().to_string(),
            KeySource::Discovery { url, .. } => url.clone(),
        }
    }
}

fn with_tls_hint(
    e: anyhow::Error,
    tls: &std::result::Result<Arc<rustls::ClientConfig>, String>,
) -> anyhow::Error {
    match tls {
        Err(why) => e.context(why.clone()),
        Ok(_) => e,
    }
}

/// Why no key was found for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key set could be loaded at all.
    #[error("no signing keys: {0}")]
    Unavailable(String),
    /// The set has no key with this id (after a refetch, if one was allowed).
    #[error("unknown key id {0:?}")]
    UnknownKid(Option<String>),
}

/// The current key set, refreshed as the module doc says.
pub struct KeyCache {
    source: KeySource,
    lifespan: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held while (re)loading; holds when the last load was attempted.
    loading: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyCache {
    /// A cache over `source`, trusting a loaded set for `lifespan`.
    pub fn new(source: KeySource, lifespan: Duration) -> KeyCache {
        KeyCache {
            source,
            lifespan,
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::new(None),
        }
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads the keys now (at startup); the error says why not.
    pub async fn load(&self) -> Result<usize> {
        let mut last = self.loading.lock().await;
        *last = Some(Instant::now());
        let set = self.source.load().await?;
        let n = set.keys.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(set));
        Ok(n)
    }

    /// The key set to verify a token with key id `kid` against: the cached one while it is
    /// fresh and knows the id, else a reloaded one (see the module doc for when reloading is
    /// allowed).
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<KeySet>, KeyError> {
        if let Some(set) = self.current()
            && set.fetched.elapsed() < self.lifespan
            && set.has_kid(kid)
        {
            return Ok(set);
        }
        let mut last = self.loading.lock().await;
        // Someone else may have reloaded while we waited.
        let current = self.current();
        if let Some(set) = &current
            && set.fetched.elapsed() < self.lifespan
            && set.has_kid(kid)
        {
            return Ok(set.clone());
        }
        let stale = current
            .as_ref()
            .is_none_or(|s| s.fetched.elapsed() >= self.lifespan);
        let allowed = stale || last.is_none_or(|t| t.elapsed() >= UNKNOWN_KID_REFETCH_INTERVAL);
        if allowed {
            *last = Some(Instant::now());
            match self.source.load().await {
                Ok(set) => {
                    let set = Arc::new(set);
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
                    tracing::info!(
                        "loaded {} signing key(s) from {}",
                        set.keys.len(),
                        self.source.describe()
                    );
                    return if set.has_kid(kid) {
                        Ok(set)
                    } else {
                        Err(KeyError::UnknownKid(kid.map(str::to_string)))
                    };
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot load the signing keys from {}, keeping the ones already known: {e:#}",
                        self.source.describe()
                    );
                    if current.is_none() {
                        return Err(KeyError::Unavailable(format!("{e:#}")));
                    }
                }
            }
        }
        match current {
            Some(set) if set.has_kid(kid) => Ok(set),
            Some(_) => Err(KeyError::UnknownKid(kid.map(str::to_string))),
            None => Err(KeyError::Unavailable(
                "the keys could not be loaded yet".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_signature_keys_only() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "e1", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        ]});
        let set = KeySet::parse(&doc).unwrap();
        let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("r1"), Some("e1")]);
        assert!(set.find(Some("r1"), Algorithm::RS256).is_some());
        // The key pins RS256: a token claiming PS256 with it is refused.
        assert!(set.find(Some("r1"), Algorithm::PS256).is_none());
        assert!(set.find(Some("h"), Algorithm::HS256).is_none());
        // Without a kid, only a single-key set is unambiguous.
        assert!(set.find(None, Algorithm::RS256).is_none());
        assert!(KeySet::parse(&serde_json::json!({"nokeys": 1})).is_err());
    }
}
