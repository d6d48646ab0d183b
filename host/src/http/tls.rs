//! TLS with rustls (ring provider): the certificate and key from `--cert`/`--key`, HTTP/2 and
//! HTTP/1.1 offered by ALPN, and both files re-read without a restart when they change (new
//! connections get the new certificate; established ones keep theirs).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain and private key and checks that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if certs.is_empty() {
        bail!(
            "{} holds no certificate (expected PEM `BEGIN CERTIFICATE` blocks)",
            cert.display()
        );
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .with_context(|| format!("{} holds a key rustls cannot use", key.display()))?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match().map_err(|e| {
        anyhow::anyhow!(
            "the key {} does not match the certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(certified)
}

/// Serves whatever certificate was loaded last.
#[derive(Debug)]
pub struct ReloadingCert {
    current: ArcSwap<CertifiedKey>,
    cert: PathBuf,
    key: PathBuf,
}

impl ReloadingCert {
    /// Loads the pair; fails if it cannot be used.
    pub fn new(cert: &Path, key: &Path) -> Result<ReloadingCert> {
        Ok(ReloadingCert {
            current: ArcSwap::from_pointee(load_certified_key(cert, key)?),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
    }

    /// Re-reads the pair; on any error the previous one stays in use.
    pub fn reload(&self) {
        match load_certified_key(&self.cert, &self.key) {
            Ok(k) => {
                self.current.store(Arc::new(k));
                tracing::info!("TLS certificate reloaded from {}", self.cert.display());
            }
            Err(e) => {
                tracing::warn!("TLS certificate not reloaded, keeping the previous one: {e:#}")
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The server's TLS configuration and the watcher that reloads its files.
pub struct Tls {
    /// For the acceptor.
    pub config: Arc<ServerConfig>,
    _watcher: crate::watch::FileWatcher,
}

/// Builds the TLS configuration for `--cert`/`--key` and starts watching both files.
pub fn configure(cert: &Path, key: &Path) -> Result<Tls> {
    let resolver = Arc::new(ReloadingCert::new(cert, key)?);
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let watched = resolver.clone();
    let watcher = crate::watch::watch_files(
        &[cert.to_path_buf(), key.to_path_buf()],
        Some(std::time::Duration::from_secs(60)),
        move || {
            watched.reload();
            true
        },
    );
    Ok(Tls {
        config: Arc::new(config),
        _watcher: watcher,
    })
}
