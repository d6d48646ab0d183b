//! TLS (`serve --cert/--key`) and connection hardening, with the real binary and certificates
//! made in the test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};

use crate::http::Server;
use crate::serve::known_repo;
use crate::support::run;

/// A CA, and a server certificate it signed for localhost and 127.0.0.1.
pub(crate) struct Pki {
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

pub(crate) fn pki(name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.der().clone(),
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

pub(crate) fn install(dir: &Path, p: &Pki) {
    // Replace by rename, as a deployment would.
    for (name, text) in [("cert.pem", &p.cert_pem), ("key.pem", &p.key_pem)] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

fn client_config(trust: &CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// One HTTPS request over HTTP/1.1; the error is the TLS failure, if any.
fn https(addr: &str, trust: &CertificateDer<'static>, body: &str) -> Result<(u16, String), String> {
    let conn = rustls::ClientConnection::new(
        client_config(trust, &[b"http/1.1"]),
        ServerName::try_from("localhost").unwrap(),
    )
    .map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let req = format!(
        "POST /get-online-features HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server may close without close_notify after `Connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok((status, body))
}

const SEED: &str = r#"{"features":["stats:trips"],"entities":{"driver_id":[1001]}}"#;

#[test]
fn https_serves_with_a_trusted_ca_and_reloads_a_swapped_certificate() {
    let (_tmp, repo) = known_repo();
    let first = pki("first");
    install(&repo, &first);
    let server = Server::start(&repo, &["--cert", "cert.pem", "--key", "key.pem"]);
    let (status, body) = https(&server.addr, &first.ca, SEED).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""values":[10]"#), "{body}");

    // A client that does not trust the CA refuses the server.
    let stranger = pki("stranger");
    let e = https(&server.addr, &stranger.ca, SEED).unwrap_err();
    assert!(
        e.contains("UnknownIssuer") || e.contains("invalid peer certificate"),
        "{e}"
    );

    // ALPN: HTTP/2 is offered and chosen when the client asks for it.
    let conn = rustls::ClientConnection::new(
        client_config(&first.ca, &[b"h2", b"http/1.1"]),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(&server.addr).unwrap());
    tls.conn.complete_io(&mut tls.sock).unwrap();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"h2"[..]));

    // Swap in a certificate from another CA: picked up without a restart.
    let second = pki("second");
    install(&repo, &second);
    let deadline = Instant::now() + Duration::from_secs(10);
    while https(&server.addr, &second.ca, SEED).is_err() {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        https(&server.addr, &first.ca, SEED).is_err(),
        "the old certificate is gone"
    );
}

#[test]
fn bad_tls_arguments_are_refused_with_a_clear_error() {
    let (_tmp, repo) = known_repo();
    let a = pki("a");
    let b = pki("b");
    std::fs::write(repo.join("cert.pem"), &a.cert_pem).unwrap();
    std::fs::write(repo.join("key.pem"), &a.key_pem).unwrap();
    std::fs::write(repo.join("other-key.pem"), &b.key_pem).unwrap();
    let r = run(&repo, &["serve", "--port", "0", "--cert", "cert.pem"]).failure();
    assert!(
        r.stderr.contains("--key and --cert go together"),
        "{}",
        r.stderr
    );
    let r = run(
        &repo,
        &[
            "serve",
            "--port",
            "0",
            "--cert",
            "cert.pem",
            "--key",
            "missing.pem",
        ],
    )
    .failure();
    assert!(r.stderr.contains("missing.pem"), "{}", r.stderr);
    let r = run(
        &repo,
        &[
            "serve",
            "--port",
            "0",
            "--cert",
            "cert.pem",
            "--key",
            "other-key.pem",
        ],
    )
    .failure();
    assert!(
        r.stderr.contains("does not match the certificate"),
        "{}",
        r.stderr
    );
    let r = run(
        &repo,
        &[
            "serve", "--port", "0", "--cert", "key.pem", "--key", "key.pem",
        ],
    )
    .failure();
    assert!(r.stderr.contains("holds no certificate"), "{}", r.stderr);
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(&repo, &["--keep-alive-timeout", "1"]);
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    assert_eq!(server.post_json("/get-online-features", SEED).status, 200);
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "disconnected after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(server.post_json("/get-online-features", SEED).status, 200);
}

#[test]
fn connections_beyond_the_cap_wait_instead_of_failing() {
    let (_tmp, repo) = known_repo();
    let server = Server::start(
        &repo,
        &["--worker-connections", "2", "--keep-alive-timeout", "2"],
    );
    // Two idle connections take both slots...
    let _a = TcpStream::connect(&server.addr).unwrap();
    let _b = TcpStream::connect(&server.addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // ...so a third is only served once one of them is dropped by the header timeout.
    let started = Instant::now();
    let r = server.post_json("/get-online-features", SEED);
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
