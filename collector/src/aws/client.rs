//! The HTTP(S) client to AWS endpoints (hyper-util over hyper-rustls): the system's roots plus an
//! optional CA file, optional no-verification, a server-name override, and HTTP CONNECT proxies
//! from the config or the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`). Plain `http://`
//! endpoints are allowed (local emulators and tests).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls;

/// Why an HTTPS client cannot be built; the cause, when there is one, is the error's source.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `tls.server_name_override` is not a server name.
    #[error("tls.server_name_override")]
    ServerName(#[source] rustls_pki_types::InvalidDnsNameError),
    /// The proxy address does not parse.
    #[error("proxy_address {0:?} is not a URL")]
    ProxyUrl(String, #[source] hyper::http::uri::InvalidUri),
    /// The proxy is not an `http://` URL with a host.
    #[error("proxy_address {0:?}: only http:// proxies (HTTP CONNECT) are supported")]
    ProxyScheme(String),
    /// rustls refuses the protocol versions.
    #[error("tls")]
    Tls(#[source] rustls::Error),
    /// `tls.ca_file` cannot be read.
    #[error("tls.ca_file {0}")]
    CaFile(String, #[source] rustls_pki_types::pem::Error),
    /// `tls.ca_file` holds no certificate.
    #[error("tls.ca_file {0}: no certificate found")]
    NoCertificate(String),
}

/// TLS settings of a client (contrib's `configtls.ClientConfig` subset this collector honours).
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// Accept any server certificate.
    pub insecure: bool,
    /// Server name to verify instead of the endpoint's host.
    pub server_name_override: String,
    /// PEM CA bundle trusted in addition to the system's roots.
    pub ca_file: String,
}

/// An HTTP(S) client to one AWS endpoint, direct or through an HTTP CONNECT proxy.
pub enum HttpsClient {
    Direct(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
    Tunneled(Client<HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>),
}

impl HttpsClient {
    /// A client for `upstream`: TLS as `tls` says, through `proxy_address` when it is set,
    /// else through the proxy the environment names for `upstream` (see [`env_proxy`]), keeping
    /// up to `max_idle_connections` idle connections for reuse.
    pub fn new(
        tls: &ClientTls,
        proxy_address: &str,
        upstream: &Uri,
        max_idle_connections: usize,
    ) -> Result<HttpsClient, ClientError> {
        let cfg = tls;
        let tls = tls_config(cfg)?;
        let builder = || {
            let b = HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http();
            let b = if cfg.server_name_override.is_empty() {
                b
            } else {
                let name = ServerName::try_from(cfg.server_name_override.clone())
                    .map_err(ClientError::ServerName)?;
                b.with_server_name_resolver(FixedServerNameResolver::new(name))
            };
            Ok::<_, ClientError>(b.enable_http1())
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle_connections)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .clone();
        let proxy = if proxy_address.is_empty() {
            env_proxy(upstream)
        } else {
            proxy_address.to_owned()
        };
        if proxy.is_empty() {
            return Ok(HttpsClient::Direct(
                client.build(builder()?.wrap_connector(http)),
            ));
        }
        let proxy_uri: Uri = proxy
            .parse()
            .map_err(|e| ClientError::ProxyUrl(proxy.clone(), e))?;
        if proxy_uri.scheme_str() != Some("http") || proxy_uri.authority().is_none() {
            return Err(ClientError::ProxyScheme(proxy));
        }
        Ok(HttpsClient::Tunneled(client.build(
            builder()?.wrap_connector(Tunnel::new(proxy_uri, http)),
        )))
    }

    /// Sends `request`.
    pub async fn request(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        match self {
            HttpsClient::Direct(c) => c.request(request).await,
            HttpsClient::Tunneled(c) => c.request(request).await,
        }
    }
}

/// The proxy the environment asks for, as Go's `ProxyFromEnvironment` reads it: `HTTPS_PROXY`
/// for an `https` endpoint, `HTTP_PROXY` for an `http` one, none when `NO_PROXY` names the host
/// (exactly, as a domain suffix, or `*`). Empty when no proxy applies.
pub fn env_proxy(upstream: &Uri) -> String {
    proxy_for(upstream, |name| {
        std::env::var(name)
            .or_else(|_| std::env::var(name.to_ascii_lowercase()))
            .unwrap_or_default()
    })
}

/// [`env_proxy`] over any variable lookup.
pub fn proxy_for(upstream: &Uri, var: impl Fn(&str) -> String) -> String {
    let proxy = match upstream.scheme_str() {
        Some("https") => var("HTTPS_PROXY"),
        _ => var("HTTP_PROXY"),
    };
    let host = upstream.host().unwrap_or("");
    let excluded = var("NO_PROXY").split(',').map(str::trim).any(|entry| {
        let entry = entry.trim_start_matches('.');
        !entry.is_empty() && (entry == "*" || host == entry || host.ends_with(&format!(".{entry}")))
    });
    if excluded { String::new() } else { proxy }
}

/// TLS to the endpoint: the system's roots (plus `ca_file`), or no verification at all with
/// `insecure` (contrib's `NoVerifySSL`, `insecure_skip_verify`).
fn tls_config(cfg: &ClientTls) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?;
    if cfg.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if !cfg.ca_file.is_empty() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.ca_file)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| ClientError::CaFile(cfg.ca_file.clone(), e))?;
        if certs.is_empty() {
            return Err(ClientError::NoCertificate(cfg.ca_file.clone()));
        }
        roots.add_parsable_certificates(certs);
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Accepts any server certificate (`tls.insecure: true`); signatures are still checked so the
/// handshake itself stays sound.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_proxy_by_scheme_and_no_proxy() {
        let env = |no_proxy: &'static str| {
            move |name: &str| match name {
                "HTTPS_PROXY" => "http://squid:3128".to_owned(),
                "NO_PROXY" => no_proxy.to_owned(),
                _ => String::new(),
            }
        };
        let aws: Uri = "https://xray.us-east-1.amazonaws.com".parse().unwrap();
        let local: Uri = "http://127.0.0.1:4000".parse().unwrap();
        assert_eq!(proxy_for(&aws, env("")), "http://squid:3128");
        assert_eq!(
            proxy_for(&local, env("")),
            "",
            "HTTPS_PROXY is not for http://"
        );
        assert_eq!(proxy_for(&aws, env("localhost,.amazonaws.com")), "");
        assert_eq!(proxy_for(&aws, env("*")), "");
        assert_eq!(proxy_for(&aws, env("example.com")), "http://squid:3128");
    }
}
