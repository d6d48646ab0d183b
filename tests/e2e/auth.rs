//! OIDC bearer tokens and Feast permissions with the real binary: keys made in the test, a
//! JWKS written to a file (or served by a tiny local discovery server), tokens signed here.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::http::{Response, Server};
use crate::support::{clock, demo_repo, run};

const ISSUER: &str = "https://idp.test/realms/edge";
const AUDIENCE: &str = "edgefeat";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key and its public JWK.
pub(crate) struct Key {
    kid: String,
    alg: Algorithm,
    private: EncodingKey,
    jwk: Value,
}

impl Key {
    /// A fresh P-256 key (ES256), made by rcgen.
    pub(crate) fn es256(kid: &str) -> Key {
        let pair = rcgen::KeyPair::generate().unwrap();
        let point = pair.public_key_raw();
        assert_eq!(
            (point.len(), point[0]),
            (65, 4),
            "an uncompressed P-256 point"
        );
        Key {
            kid: kid.into(),
            alg: Algorithm::ES256,
            private: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                        "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        }
    }

    /// The RSA test key of `fixtures/` (RS256, what Feast verifies).
    fn rs256(kid: &str) -> Key {
        use rustls::pki_types::pem::PemObject as _;
        let pem = include_str!("fixtures/rs256_test_key.pem");
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
        Key {
            kid: kid.into(),
            alg: Algorithm::RS256,
            private: EncodingKey::from_rsa_der(der.secret_pkcs8_der()),
            jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                        "n": b64(&public.n), "e": b64(&public.e)}),
        }
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        edgefeat::auth::crypto::install();
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.private).unwrap()
    }
}

fn jwks(keys: &[&Key]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

/// Token times use the real clock, as the server's validator does: `EDGEFEAT_CLOCK_SHIFT`
/// moves feature time only (tests/README.md).
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Valid claims for a user with `roles` (Keycloak's client roles shape).
pub(crate) fn claims(roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "0f1e", "preferred_username": "ann",
        "iat": now(), "exp": now() + 600,
        "resource_access": {"edgefeat": {"roles": roles}},
    })
}

const PERMISSIONS: &str = r#"
permissions:
  - name: readers
    types: [FeatureView, OnDemandFeatureView, FeatureService]
    actions: [READ_ONLINE]
    policy:
      roles: [reader]
  - name: writers
    types: [FeatureView]
    actions: [WRITE]
    policy:
      roles: [writer]
  - name: fresh-readers
    types: [FeatureView]
    name_patterns: [".*_fresh"]
    actions: [READ_ONLINE]
    policy:
      roles: [fresh-reader]
"#;

/// The demo with permissions, materialized, served with OIDC from `auth` (YAML lines).
fn secured_demo(auth: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, repo) = demo_repo();
    std::fs::write(repo.join("permissions.yaml"), PERMISSIONS).unwrap();
    run(&repo, &["apply"]).success();
    let end = clock::naive(clock::far_future());
    run(&repo, &["materialize-incremental", &end]).success();
    let yaml = std::fs::read_to_string(repo.join("feature_store.yaml")).unwrap();
    let yaml = yaml.replace("auth:\n    type: no_auth\n", auth);
    assert!(yaml.contains("type: oidc"), "{yaml}");
    std::fs::write(repo.join("feature_store.yaml"), yaml).unwrap();
    (tmp, repo)
}

const READ: &str =
    r#"{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001]}}"#;
const READ_FRESH: &str =
    r#"{"features":["driver_hourly_stats_fresh:conv_rate"],"entities":{"driver_id":[1001]}}"#;
/// A push to the fresh view, stamped after the demo's generated data so that it wins over the
/// materialized row (`newer_wins`).
fn push() -> String {
    let ts = clock::pandas(clock::after_demo_data());
    format!(
        r#"{{"push_source_name":"driver_stats_push_source","df":{{"driver_id":[1001],"event_timestamp":["{ts}"],"created":["{ts}"],"conv_rate":[0.75],"acc_rate":[0.5],"avg_daily_trips":[1000],"driver_metadata":[{{"a":"b"}}],"driver_config":["{{}}"],"driver_profile":[{{"name":"p","age":"40"}}]}},"to":"online"}}"#
    )
}

/// An incremental materialization whose end lies after all of the demo's data.
fn materialize_incremental() -> String {
    let end = clock::naive(clock::far_future());
    format!(r#"{{"end_ts":"{end}","feature_views":["driver_hourly_stats"]}}"#)
}

fn post(server: &Server, path: &str, token: Option<&str>, body: &str) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    server.request("POST", path, &headers, body.as_bytes())
}

const INVALID: &str = r#"{"detail":"Invalid or expired access token"}"#;

#[track_caller]
fn assert_401(r: &Response, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (401, body));
}

/// The message of a 403 `FeastPermissionError` envelope, decoded as the SDK does.
#[track_caller]
fn permission_error(r: &Response) -> String {
    assert_eq!(r.status, 403, "{}", r.text());
    let inner: Value = serde_json::from_str(r.json().as_str().expect("a JSON string")).unwrap();
    assert_eq!(
        (&inner["module"], &inner["class"]),
        (&json!("feast.errors"), &json!("FeastPermissionError"))
    );
    inner["message"].as_str().unwrap().to_string()
}

fn jwks_file_config(repo: &Path, keys: &[&Key]) -> String {
    std::fs::write(repo.join("jwks.json"), jwks(keys)).unwrap();
    format!(
        "auth:\n    type: oidc\n    jwks_path: jwks.json\n    client_id: edgefeat\n    audience: {AUDIENCE}\n    issuer: {ISSUER}\n"
    )
}

/// The secured demo, verifying tokens against `keys` written to `jwks.json` in the repo.
pub(crate) fn secured_with_jwks_file(keys: &[&Key]) -> (tempfile::TempDir, std::path::PathBuf) {
    const PLACEHOLDER: &str = "auth:\n    type: oidc\n    jwks_path: jwks.json\n";
    let (tmp, repo) = secured_demo(PLACEHOLDER);
    let auth = jwks_file_config(&repo, keys);
    let yaml = std::fs::read_to_string(repo.join("feature_store.yaml")).unwrap();
    std::fs::write(
        repo.join("feature_store.yaml"),
        yaml.replace(PLACEHOLDER, &auth),
    )
    .unwrap();
    (tmp, repo)
}

#[test]
fn tokens_are_verified_and_rejected_with_feast_bodies() {
    let key = Key::es256("k1");
    let rsa = Key::rs256("rsa1");
    let (_tmp, repo) = secured_with_jwks_file(&[&key, &rsa]);
    let server = Server::start(&repo, &[]);

    // The right role: served, with ES256 and with RS256.
    for k in [&key, &rsa] {
        let r = post(
            &server,
            "/get-online-features",
            Some(&k.sign(&claims(&["reader"]))),
            READ,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["results"][1]["statuses"], json!(["PRESENT"]));
    }
    // The header name is case-insensitive, the scheme too.
    let token = key.sign(&claims(&["reader"]));
    let lower = format!("bearer {token}");
    let r = server.request(
        "POST",
        "/get-online-features",
        &[("authorization", &lower)],
        READ.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Every invalid token is a 401 with Feast's body.
    let mut expired = claims(&["reader"]);
    expired["exp"] = json!(now() - 60);
    let mut wrong_aud = claims(&["reader"]);
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims(&["reader"]);
    wrong_iss["iss"] = json!("https://evil.test");
    let mut no_exp = claims(&["reader"]);
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_aud = claims(&["reader"]);
    no_aud.as_object_mut().unwrap().remove("aud");
    let mut no_iss = claims(&["reader"]);
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut not_yet = claims(&["reader"]);
    not_yet["nbf"] = json!(now() + 3600);
    let impostor = Key::es256("k1"); // the right kid, another key: a bad signature
    let stranger = Key::es256("k-unknown");
    let good = key.sign(&claims(&["reader"]));
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let tampered_claims = format!(
        "{head}.{}.{sig}",
        b64(claims(&["admin"]).to_string().as_bytes())
    );
    let cases: Vec<(&str, String)> = vec![
        ("expired", key.sign(&expired)),
        ("wrong audience", key.sign(&wrong_aud)),
        ("wrong issuer", key.sign(&wrong_iss)),
        ("no exp", key.sign(&no_exp)),
        ("no aud while an audience is configured", key.sign(&no_aud)),
        ("no iss while an issuer is configured", key.sign(&no_iss)),
        ("nbf in the future", key.sign(&not_yet)),
        ("bad signature", impostor.sign(&claims(&["reader"]))),
        ("tampered claims", tampered_claims),
        ("unknown kid", stranger.sign(&claims(&["reader"]))),
        ("not a JWT", "not.a.jwt".into()),
    ];
    for (what, token) in &cases {
        let r = post(&server, "/get-online-features", Some(token), READ);
        assert_eq!((r.status, r.text()), (401, INVALID.to_string()), "{what}");
    }
    assert_401(&post(&server, "/get-online-features", None, READ), INVALID);
    let basic = [("Authorization", "Basic YW5uOnB3")];
    assert_401(
        &server.request("POST", "/push", &basic, push().as_bytes()),
        INVALID,
    );
    let empty = [("Authorization", "Bearer ")];
    assert_401(
        &server.request("POST", "/get-online-features", &empty, READ.as_bytes()),
        r#"{"detail":"Missing authentication token"}"#,
    );
    // Authentication comes before the body is read: a bad body without a token is a 401.
    assert_401(&post(&server, "/get-online-features", None, "{"), INVALID);

    // Open routes stay open; unknown routes are still 404.
    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.get("/openapi.json").status, 200);
    assert_eq!(server.get("/nope").status, 404);
}

#[test]
fn permissions_decide_per_role_and_view() {
    let key = Key::es256("k1");
    let (_tmp, repo) = secured_with_jwks_file(&[&key]);
    let server = Server::start(&repo, &[]);
    let reader = key.sign(&claims(&["reader"]));
    let writer = key.sign(&claims(&["writer"]));
    let nobody = key.sign(&claims(&[]));
    let fresh = key.sign(&claims(&["fresh-reader"]));

    // A valid token without the role: Feast's 403 envelope.
    assert_eq!(
        permission_error(&post(&server, "/get-online-features", Some(&nobody), READ)),
        "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats: Requires roles ['reader']"
    );
    // The search routes check READ_ONLINE on the same views, before searching
    // (docs/feast-compat.md#what-each-route-checks).
    let search = r#"{"features":["driver_hourly_stats:conv_rate"],"query":[1.0]}"#;
    for route in ["/search", "/retrieve-online-documents"] {
        assert_eq!(
            permission_error(&post(&server, route, Some(&nobody), search)),
            "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats: Requires roles ['reader']"
        );
        // Allowed through, the view has nothing to search.
        assert_eq!(post(&server, route, Some(&reader), search).status, 400);
    }
    let service = r#"{"feature_service":"driver_activity_v1","entities":{"driver_id":[1001]}}"#;
    assert_eq!(
        permission_error(&post(
            &server,
            "/get-online-features",
            Some(&nobody),
            service
        )),
        "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureService:driver_activity_v1: Requires roles ['reader']"
    );
    // Unknown views are 404 before any permission is looked at, as in Feast.
    let r = post(
        &server,
        "/get-online-features",
        Some(&nobody),
        r#"{"features":["nope:x"],"entities":{"driver_id":[1]}}"#,
    );
    assert_eq!(r.status, 404, "{}", r.text());
    // An on-demand view needs its source views too: the source is checked first.
    let odfv = r#"{"features":["transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001],"val_to_add":[1],"val_to_add_2":[2]}}"#;
    assert_eq!(
        permission_error(&post(&server, "/get-online-features", Some(&fresh), odfv)),
        "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats: Requires roles ['reader']"
    );

    // A read-only role reads, and is refused writes.
    let r = post(&server, "/get-online-features", Some(&reader), READ);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        permission_error(&post(&server, "/push", Some(&reader), &push())),
        "Permission error:\nPermission writers denied execution of ['WRITE_ONLINE'] to FeatureView:driver_hourly_stats_fresh: Requires roles ['writer']"
    );
    let both = push().replace(r#""to":"online""#, r#""to":"online_and_offline""#);
    assert_eq!(
        permission_error(&post(&server, "/push", Some(&reader), &both)),
        "Permission error:\nPermission writers denied execution of ['WRITE_OFFLINE', 'WRITE_ONLINE'] to FeatureView:driver_hourly_stats_fresh: Requires roles ['writer']"
    );
    assert_eq!(
        permission_error(&post(
            &server,
            "/materialize-incremental",
            Some(&reader),
            &materialize_incremental()
        )),
        "Permission error:\nPermission writers denied execution of ['WRITE_ONLINE'] to FeatureView:driver_hourly_stats: Requires roles ['writer']"
    );
    let materialize = format!(
        r#"{{"start_ts":"{}","end_ts":"{}","feature_views":["driver_hourly_stats"]}}"#,
        clock::date(clock::hours_from_now(-24 * 30)),
        clock::date(clock::far_future())
    );
    assert_eq!(
        permission_error(&post(&server, "/materialize", Some(&reader), &materialize))
            .lines()
            .next(),
        Some("Permission error:")
    );
    let write = format!(
        r#"{{"feature_view_name":"driver_hourly_stats","df":{{"driver_id":[1001],"event_timestamp":["{}"],"conv_rate":[0.5]}}}}"#,
        clock::pandas(clock::after_demo_data())
    );
    assert_eq!(
        permission_error(&post(
            &server,
            "/write-to-online-store",
            Some(&reader),
            &write
        ))
        .lines()
        .next(),
        Some("Permission error:")
    );

    // The writer writes (and may not read: no permission gives it READ_ONLINE).
    let r = post(&server, "/push", Some(&writer), &push());
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        &server,
        "/materialize-incremental",
        Some(&writer),
        &materialize_incremental(),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
    assert_eq!(
        post(&server, "/get-online-features", Some(&writer), READ).status,
        403
    );

    // A name-pattern permission limits reads to the matching views.
    let r = post(&server, "/get-online-features", Some(&fresh), READ_FRESH);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["results"][1]["values"],
        json!([0.75]),
        "the pushed row"
    );
    assert_eq!(
        post(&server, "/get-online-features", Some(&fresh), READ).status,
        403
    );
    // A request mixing both views is refused as a whole.
    let mixed = r#"{"features":["driver_hourly_stats_fresh:conv_rate","driver_hourly_stats:acc_rate"],"entities":{"driver_id":[1001]}}"#;
    assert_eq!(
        post(&server, "/get-online-features", Some(&fresh), mixed).status,
        403
    );
}

/// A tiny HTTP server: the discovery document and a JWKS that the test can change, with
/// request counts.
struct Idp {
    base: String,
    jwks: Arc<Mutex<String>>,
    discovery_hits: Arc<AtomicUsize>,
    jwks_hits: Arc<AtomicUsize>,
}

impl Idp {
    fn start(initial: String) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(initial));
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let (j, d, k, b) = (
            jwks.clone(),
            discovery_hits.clone(),
            jwks_hits.clone(),
            base.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = match path.as_str() {
                    "/.well-known/openid-configuration" => {
                        d.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", json!({"issuer": ISSUER, "jwks_uri": format!("{b}/certs"),
                            "authorization_endpoint": format!("{b}/auth"), "token_endpoint": format!("{b}/token")}).to_string())
                    }
                    "/certs" => {
                        k.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", j.lock().unwrap().clone())
                    }
                    _ => ("404 Not Found", "{}".to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Idp {
            base,
            jwks,
            discovery_hits,
            jwks_hits,
        }
    }
}

#[test]
fn discovery_fetches_the_jwks_and_refetches_on_an_unknown_kid() {
    let old = Key::es256("2026-01");
    let new = Key::es256("2026-02");
    let idp = Idp::start(jwks(&[&old]));
    let (_tmp, repo) = secured_demo(&format!(
        "auth:\n    type: oidc\n    auth_discovery_url: {}/.well-known/openid-configuration\n    client_id: edgefeat\n    jwks_cache_lifespan_seconds: 3600\n",
        idp.base
    ));
    let server = Server::start(&repo, &[]);
    let r = post(
        &server,
        "/get-online-features",
        Some(&old.sign(&claims(&["reader"]))),
        READ,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        idp.jwks_hits.load(Ordering::SeqCst),
        1,
        "fetched once, at start"
    );

    // The issuer rotates its keys. A token with the new kid makes the server fetch again (once
    // the rate limit allows: at most one unknown-kid refetch per second).
    *idp.jwks.lock().unwrap() = jwks(&[&old, &new]);
    std::thread::sleep(Duration::from_millis(1200));
    let r = post(
        &server,
        "/get-online-features",
        Some(&new.sign(&claims(&["reader"]))),
        READ,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 2);
    // Known keys are served from the cache, with no fetch.
    let r = post(
        &server,
        "/get-online-features",
        Some(&old.sign(&claims(&["reader"]))),
        READ,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 2);
    // A made-up kid right after a fetch is refused without hammering the issuer.
    let r = post(
        &server,
        "/get-online-features",
        Some(&Key::es256("forged").sign(&claims(&["reader"]))),
        READ,
    );
    assert_401(&r, INVALID);
    assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        idp.discovery_hits.load(Ordering::SeqCst),
        1,
        "the discovery document is read once"
    );
}

#[test]
fn without_permissions_any_valid_token_is_allowed_and_no_auth_checks_nothing() {
    let key = Key::es256("k1");
    let (_tmp, repo) = secured_demo("auth:\n    type: oidc\n    jwks_path: jwks.json\n");
    std::fs::remove_file(repo.join("permissions.yaml")).unwrap();
    run(&repo, &["apply"]).success();
    std::fs::write(repo.join("jwks.json"), jwks(&[&key])).unwrap();
    let server = Server::start(&repo, &[]);
    let r = post(
        &server,
        "/get-online-features",
        Some(&key.sign(&claims(&[]))),
        READ,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_401(&post(&server, "/get-online-features", None, READ), INVALID);
    drop(server);

    // no_auth: permissions exist but nothing is checked, and no token is read.
    let (_tmp2, repo2) = demo_repo();
    std::fs::write(repo2.join("permissions.yaml"), PERMISSIONS).unwrap();
    run(&repo2, &["apply"]).success();
    let server = Server::start(&repo2, &[]);
    let r = post(&server, "/get-online-features", Some("garbage"), READ);
    assert_eq!(r.status, 200, "{}", r.text());
}
