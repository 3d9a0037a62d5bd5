//! TLS for `serve` (rustls, ring): the certificate and key it presents, and optionally the CA
//! whose client certificates authenticate callers (mTLS).
//!
//! A client certificate is asked for but not required at the handshake, so that liveness and
//! readiness probes and `/metrics` can connect without one; the decision endpoints then refuse a
//! caller without one (`serve.unauthenticated`, `caller.rs`). Only a certificate that chains to
//! `--client-ca` ever gets that far: rustls refuses any other at the handshake.
//!
//! The files are read at start and again on SIGHUP ([`Tls::replace`]): a renewed certificate
//! takes effect for new connections without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use policy_core::Code;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio_rustls::TlsAcceptor;

use crate::error::{CliError, Result};

/// Where the TLS material is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The CA (PEM, one or more certificates) that signs callers' client certificates.
    pub client_ca: Option<PathBuf>,
}

/// The server's TLS configuration, replaceable while it serves.
#[derive(Debug)]
pub struct Tls {
    current: RwLock<Arc<ServerConfig>>,
    /// Whether callers may authenticate by client certificate.
    pub mtls: bool,
}

/// Largest PEM file read, in bytes.
const MAX_PEM_BYTES: usize = 1024 * 1024;

fn invalid(path: &Path, what: impl core::fmt::Display) -> CliError {
    CliError::invalid(Code::TlsInvalid, format!("{}: {what}", path.display()))
        .hint("give PEM files: --tls-cert the chain, --tls-key its key, --client-ca the CA")
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = crate::io::read_max(path, MAX_PEM_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// Reads the files into a server configuration (HTTP/1.1, TLS 1.2 and 1.3).
///
/// # Errors
/// `tls.invalid` (or the file's read error) when a file is not usable PEM, or the key does
/// not match the certificate.
pub fn config(files: &TlsFiles) -> Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&files.cert)?;
    let key_pem = crate::io::read_max(&files.key, MAX_PEM_BYTES)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(&files.key, e))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::failure(format!("TLS: {e}")))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(ca)? {
                roots.add(cert).map_err(|e| invalid(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| invalid(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&files.key, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Tls {
    /// TLS from `files`.
    ///
    /// # Errors
    /// As [`config`].
    pub fn load(files: &TlsFiles) -> Result<Tls> {
        Ok(Tls {
            current: RwLock::new(Arc::new(config(files)?)),
            mtls: files.client_ca.is_some(),
        })
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = self.current.read().unwrap_or_else(PoisonError::into_inner);
        TlsAcceptor::from(Arc::clone(&config))
    }

    /// Re-reads `files` for new connections; what serves stays when they do not load. Whether
    /// client certificates are accepted is fixed at start.
    ///
    /// # Errors
    /// As [`config`]; a change of `--client-ca` between none and some needs a restart.
    pub fn replace(&self, files: &TlsFiles) -> Result<()> {
        if files.client_ca.is_some() != self.mtls {
            return Err(CliError::invalid(
                Code::ConfigInvalid,
                "--client-ca was added or removed: restart serve to change how callers authenticate",
            ));
        }
        let next = Arc::new(config(files)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }
}
