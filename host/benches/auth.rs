//! The cost auth adds to a request: verifying a bearer token (RS256 and ES256, uncached), the
//! verified-token cache hit that repeated tokens take instead, and a permission decision,
//! uncached and from the decision cache. Results and the command are in BENCHMARKS.md.
// Benchmark and example code: a panic is a failed run, not a crashed server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use edgefeat::auth::jwks::KeySet;
use edgefeat::auth::{Authenticator, Authorizer, Principal, Resource};
use edgefeat::registry::{Action, Registry, ResourceType, Tags};
use edgefeat::repo::OidcConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// (algorithm, private key, public JWK) for RS256 (the e2e fixture key) and a fresh ES256 key.
fn keys() -> Vec<(Algorithm, EncodingKey, serde_json::Value)> {
    use ring::signature::KeyPair as _;
    use rustls_pki_types::pem::PemObject as _;
    let pem = include_str!("../../tests/e2e/fixtures/rs256_test_key.pem");
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let rsa = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let ec = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = ec.public_key().as_ref();
    vec![
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_der(der.secret_pkcs8_der()),
            json!({"kty": "RSA", "kid": "RS256", "alg": "RS256", "n": b64(&public.n), "e": b64(&public.e)}),
        ),
        (
            Algorithm::ES256,
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            json!({"kty": "EC", "crv": "P-256", "kid": "ES256", "alg": "ES256",
                   "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        ),
    ]
}

fn config(jwks_path: std::path::PathBuf) -> OidcConfig {
    OidcConfig {
        auth_discovery_url: None,
        jwks_path: Some(jwks_path),
        client_id: Some("edgefeat".into()),
        audience: Some("edgefeat".into()),
        issuer: Some("https://idp.test/realms/edge".into()),
        jwks_cache_lifespan_seconds: 3600,
        jwks_request_timeout_seconds: 10,
        ca_cert_path: None,
        roles_claim: Some(vec!["realm_access".into(), "roles".into()]),
    }
}

fn tokens(c: &mut Criterion) {
    edgefeat::auth::crypto::install();
    let keys = keys();
    let jwks = json!({"keys": keys.iter().map(|k| k.2.clone()).collect::<Vec<_>>()});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let set = KeySet::parse(&jwks).unwrap();
    let auth = Authenticator::new(&config(path));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(auth.load_keys()).unwrap();
    let exp = chrono::Utc::now().timestamp() + 3600;
    let claims = json!({
        "iss": "https://idp.test/realms/edge", "aud": "edgefeat", "exp": exp, "iat": exp - 3600,
        "sub": "0f1e", "preferred_username": "ann", "groups": ["drivers"],
        "resource_access": {"edgefeat": {"roles": ["reader"]}},
        "realm_access": {"roles": ["offline_access", "uma_authorization"]},
    });
    for (alg, key, _) in &keys {
        let mut header = Header::new(*alg);
        header.kid = Some(format!("{alg:?}"));
        let token = jsonwebtoken::encode(&header, &claims, key).unwrap();
        c.bench_function(&format!("token/verify_{alg:?}"), |b| {
            b.iter(|| black_box(auth.verify(black_box(&token), &set).unwrap()))
        });
        let value = format!("Bearer {token}");
        c.bench_function(&format!("token/cached_{alg:?}"), |b| {
            b.iter(|| {
                black_box(
                    runtime
                        .block_on(auth.authenticate(Some(black_box(value.as_bytes()))))
                        .unwrap(),
                )
            })
        });
    }
}

/// Ten permissions, the shape of a real deployment: name patterns, tags, several roles.
fn registry() -> Arc<Registry> {
    let meta = json!({"created_timestamp": "2026-01-01T00:00:00Z", "last_updated_timestamp": "2026-01-01T00:00:00Z"});
    let mut permissions = serde_json::Map::new();
    for i in 0..10 {
        let name = format!("perm-{i}");
        permissions.insert(
            name.clone(),
            json!({"spec": {
                "name": name, "types": ["FeatureView", "OnDemandFeatureView"],
                "name_patterns": [format!("team{i}_.*"), "driver_.*_stats"],
                "required_tags": {"team": "driver_performance"},
                "actions": ["READ_ONLINE"],
                "policy": {"role_based": {"roles": [format!("role-{i}"), "reader"]}},
            }, "meta": meta}),
        );
    }
    Arc::new(
        serde_json::from_value(json!({
            "format": "edgefeat-registry", "format_version": 1, "serial": 1,
            "last_updated": "2026-01-01T00:00:00Z",
            "project": {"spec": {"name": "p"}, "meta": meta},
            "entities": {}, "data_sources": {}, "feature_views": {},
            "on_demand_feature_views": {}, "feature_services": {},
            "permissions": permissions,
        }))
        .unwrap(),
    )
}

fn decisions(c: &mut Criterion) {
    let authorizer = Authorizer::new(registry());
    let tags: Tags = [("team".to_string(), "driver_performance".to_string())].into();
    let resource = Resource {
        kind: ResourceType::FeatureView,
        name: "driver_hourly_stats",
        tags: &tags,
    };
    // The last role granted by the last permission: the uncached path scans all ten.
    let principal = Principal::new(
        "ann".into(),
        vec!["offline_access".into(), "role-9".into()],
        vec!["drivers".into()],
        vec![],
    );
    let other = Resource {
        name: "team9_x",
        ..resource
    };
    c.bench_function("decision/uncached", |b| {
        b.iter(|| {
            black_box(authorizer.decide(&principal, black_box(&other), &[Action::ReadOnline]))
        })
    });
    c.bench_function("decision/cached", |b| {
        b.iter(|| {
            black_box(authorizer.check(&principal, black_box(&resource), &[Action::ReadOnline]))
        })
    });
}

criterion_group!(benches, tokens, decisions);
criterion_main!(benches);
