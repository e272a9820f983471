//! Server TLS for the OTLP receivers, from PEM files.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

use super::config::ServerTlsConfig;

/// Reads the PEM files of `cfg`; `at` names the config key in errors.
pub(crate) struct Pem {
    pub(crate) cert: Vec<u8>,
    pub(crate) key: Vec<u8>,
    pub(crate) client_ca: Option<Vec<u8>>,
}

impl Pem {
    pub(crate) fn read(cfg: &ServerTlsConfig, at: &str) -> anyhow::Result<Pem> {
        let read = |key: &str, path: &str| {
            if path.is_empty() {
                anyhow::bail!("{at}.{key}: required when `tls` is set");
            }
            std::fs::read(path).map_err(|e| anyhow::format_err!("{at}.{key}: {path}: {e}"))
        };
        let client_ca = if cfg.client_ca_file.is_empty() {
            None
        } else {
            Some(read("client_ca_file", &cfg.client_ca_file)?)
        };
        Ok(Pem {
            cert: read("cert_file", &cfg.cert_file)?,
            key: read("key_file", &cfg.key_file)?,
            client_ca,
        })
    }

    /// A rustls server configuration (for the HTTP server), advertising `alpn`.
    pub(crate) fn rustls_config(
        &self,
        at: &str,
        alpn: &[&[u8]],
    ) -> anyhow::Result<rustls::ServerConfig> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.cert)
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::format_err!("{at}.cert_file: {e}"))?;
        if certs.is_empty() {
            anyhow::bail!("{at}.cert_file: no certificate found");
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key)
            .map_err(|e| anyhow::format_err!("{at}.key_file: {e}"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::format_err!("{at}: {e}"))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| anyhow::format_err!("{at}.client_ca_file: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| anyhow::format_err!("{at}.client_ca_file: {e}"))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| anyhow::format_err!("{at}.client_ca_file: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| anyhow::format_err!("{at}: certificate and key do not match: {e}"))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}
