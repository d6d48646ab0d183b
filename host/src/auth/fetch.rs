//! One small HTTP(S) GET for JSON documents: the OIDC discovery document and the JWKS.
//!
//! Built from what the server already links (hyper's client half, tokio-rustls with ring)
//! instead of a general-purpose client such as reqwest, which would bring its own stack of
//! connection pooling, redirects, proxies and compression for two requests every few minutes.
//! Redirects are not followed, bodies are capped, and the whole exchange has one deadline.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use axum::http::{Request, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;

/// Larger documents are refused: a JWKS is a few kilobytes.
const MAX_BODY: usize = 1 << 20;

/// Fetches and parses one JSON document. `tls` is used for `https://` URLs; `None` refuses
/// them (it could not be built, and the error then says why).
pub async fn get_json(
    url: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<serde_json::Value> {
    tokio::time::timeout(timeout, get(url, tls))
        .await
        .map_err(|_| anyhow!("GET {url}: no answer within {}s", timeout.as_secs()))?
        .with_context(|| format!("GET {url}"))
}

async fn get(url: &str, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<serde_json::Value> {
    let uri: Uri = url.parse().context("not a URL")?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => bail!("only http:// and https:// URLs can be fetched"),
    };
    let host = uri.host().context("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    // IPv6 literals come bracketed in URLs, but not in socket addresses or server names.
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::net::TcpStream::connect((bare_host.as_str(), port))
        .await
        .context("cannot connect")?;
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.as_str().to_string());
    let request = Request::get(path)
        .header(header::HOST, authority)
        .header(
            header::USER_AGENT,
            concat!("edgefeat/", env!("CARGO_PKG_VERSION")),
        )
        .header(header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .context("cannot build the request")?;
    let (status, body) = if https {
        let tls = tls.context("no TLS trust store to verify the server with")?;
        let name = ServerName::try_from(bare_host).context("not a valid server name")?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .context("TLS handshake failed")?;
        exchange(TokioIo::new(stream), request).await?
    } else {
        exchange(TokioIo::new(tcp), request).await?
    };
    if status != 200 {
        bail!("answered HTTP {status}");
    }
    serde_json::from_slice(&body).context("the answer is not JSON")
}

async fn exchange<T>(io: T, request: Request<Empty<Bytes>>) -> Result<(u16, Bytes)>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP handshake failed")?;
    // The connection task ends when the response is read and the sender dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .context("the request failed")?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("cannot read the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// The trust store for HTTPS fetches: the system's roots plus `extra_ca` (PEM), if given.
pub fn client_tls(extra_ca: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system store may hold certificates rustls cannot use; skip those, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read ca_cert_path {}", path.display()))?;
        for cert in certs {
            let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("unusable certificate in {}", path.display()))?;
        }
    }
    if roots.is_empty() {
        bail!(
            "no trusted CA certificates: the system has none installed; set auth.ca_cert_path to the identity provider's CA"
        );
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup failed")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
