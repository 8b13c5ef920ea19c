//! HTTPS on the listener itself (`--tls-cert`/`--tls-key` or `[watch] tls_cert`/`tls_key`),
//! for a watcher PagerDuty reaches without a reverse proxy. PagerDuty only delivers to HTTPS.
use crate::config::TlsFiles;
use std::sync::Arc;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

/// The acceptor for `files`; errors name the file and what is wrong with it.
pub(super) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let cert = files.cert.display();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("TLS certificate {cert}: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {cert}: no `BEGIN CERTIFICATE` block (a PEM file is expected)"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("TLS key {}: {e}", files.key.display()))?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "TLS certificate {cert} and key {}: {e}",
                files.key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
