//! HTTPS for a service's API, when `http.tls` names a certificate chain and its key
//! (PEM files). Off by default: a service behind a reverse proxy that terminates TLS, or
//! on loopback, serves plain HTTP. A file that is missing or holds no usable certificate
//! or key stops the service at start with a message naming the config key and the path.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The `http.tls` section: both paths, or neither.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert_path: Option<PathBuf>,
    /// Its private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub key_path: Option<PathBuf>,
}

/// Why the TLS files cannot be used; each names its config key and path.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("http.tls.cert_path and http.tls.key_path go together: set both or neither")]
    HalfConfigured,
    #[error("{key} {path:?}: {problem}")]
    File {
        key: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error("http.tls: the certificate and the key do not make a TLS server: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
}

impl TlsConfig {
    /// The acceptor of the configured files, `None` when TLS is off.
    pub fn acceptor(&self) -> Result<Option<TlsAcceptor>, TlsError> {
        let (cert_path, key_path) = match (&self.cert_path, &self.key_path) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => return Err(TlsError::HalfConfigured),
        };
        let certificates = certificates(cert_path)?;
        let key = PrivateKeyDer::from_pem_file(key_path)
            .map_err(|e| file_error("http.tls.key_path", key_path, e))?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certificates, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(TlsAcceptor::from(Arc::new(config))))
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let key = "http.tls.cert_path";
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, e))?;
    if certificates.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in the file"));
    }
    Ok(certificates)
}

fn file_error(key: &'static str, path: &Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        key,
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}
