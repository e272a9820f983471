//! `exporters.otlphttp`: the collector's keys (with the same `sending_queue` and
//! `retry_on_failure` as awsxray), and their checks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::component::{Checker, Component, ExtensionRef};
use crate::config::yaml;
use crate::exporters::queue::QueueConfig;
use crate::exporters::retry::RetryConfig;
use crate::extensions::sigv4auth::config::{SigV4AuthConfig, infer_service_and_region, url_host};

/// `exporters.otlphttp`: OTLP/HTTP to `traces_endpoint` (or `endpoint` + `/v1/traces`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpExporterConfig {
    /// Base URL; traces go to `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// Full URL for traces; wins over `endpoint`.
    pub traces_endpoint: String,
    /// The authenticator extension signing the requests.
    pub auth: Option<AuthConfig>,
    /// `gzip` (default) or `none`.
    pub compression: String,
    /// `proto` (default) or `json`.
    pub encoding: String,
    /// Timeout of one request, answer included; default 30s.
    #[serde(deserialize_with = "crate::config::duration::deserialize")]
    pub timeout: Duration,
    /// Headers added to every request (before signing).
    pub headers: BTreeMap<String, String>,
    /// TLS to the endpoint.
    pub tls: ClientTlsConfig,
    /// HTTP CONNECT proxy; otherwise `HTTPS_PROXY` / `HTTP_PROXY` unless `NO_PROXY` names the host.
    pub proxy_url: String,
    /// The bounded queue in front of the senders.
    pub sending_queue: QueueConfig,
    /// Retries with exponential backoff and jitter.
    pub retry_on_failure: RetryConfig,
}

impl Default for OtlpHttpExporterConfig {
    fn default() -> Self {
        OtlpHttpExporterConfig {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            auth: None,
            compression: "gzip".to_owned(),
            encoding: "proto".to_owned(),
            timeout: Duration::from_secs(30),
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            proxy_url: String::new(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

impl OtlpHttpExporterConfig {
    /// The URL traces are posted to.
    pub fn traces_url(&self) -> String {
        if !self.traces_endpoint.is_empty() {
            self.traces_endpoint.clone()
        } else {
            format!("{}/v1/traces", self.endpoint.trim_end_matches('/'))
        }
    }
}

/// `auth` of an HTTP client.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The id of an authenticator extension (`sigv4auth` or `sigv4auth/<name>`).
    pub authenticator: ExtensionRef<SigV4AuthConfig>,
}

/// `tls` of an HTTP client (contrib's `configtls.ClientConfig` keys this collector honours;
/// client certificates are refused).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTlsConfig {
    /// For gRPC clients in contrib; over HTTP the URL scheme decides, so it changes nothing here.
    pub insecure: bool,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// PEM CA bundle trusted in addition to the system's roots.
    pub ca_file: String,
    /// Server name to verify instead of the endpoint's host.
    pub server_name_override: String,
    /// Client certificate (mutual TLS): not supported, must be empty.
    pub cert_file: String,
    /// Client key (mutual TLS): not supported, must be empty.
    pub key_file: String,
}

impl Component for OtlpHttpExporterConfig {
    const TYPE: &'static str = "otlphttp";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.endpoint.is_empty() && self.traces_endpoint.is_empty() {
            c.error("", "`endpoint` or `traces_endpoint` is required");
        }
        for (key, url) in [
            ("endpoint", &self.endpoint),
            ("traces_endpoint", &self.traces_endpoint),
        ] {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            let bad_host = rest.is_none_or(|r| {
                let host = r.split(['/', '?', '#']).next().unwrap_or("");
                host.is_empty() || host.contains(char::is_whitespace)
            });
            if !url.is_empty() && bad_host {
                c.error(
                    key,
                    format!("`{url}` is not an http:// or https:// URL with a host"),
                );
            }
        }
        if !matches!(self.compression.as_str(), "gzip" | "none" | "") {
            c.error(
                "compression",
                format!(
                    "compression `{}` is not supported; use `gzip` or `none`",
                    self.compression
                ),
            );
        }
        if !matches!(self.encoding.as_str(), "proto" | "json") {
            c.error(
                "encoding",
                format!(
                    "encoding `{}` is not supported; use `proto` or `json`",
                    self.encoding
                ),
            );
        }
        if self.timeout.is_zero() {
            c.error("timeout", "must be positive");
        }
        for (name, value) in &self.headers {
            let token = |ch: char| ch.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(ch);
            let key = format!("headers/{}", yaml::escape_token(name));
            if name.is_empty() || !name.chars().all(token) {
                c.error(&key, format!("`{name}` is not a valid HTTP header name"));
            }
            if value.chars().any(|ch| ch.is_control() && ch != '\t') {
                c.error(&key, "header values may not contain control characters");
            }
        }
        if !self.tls.cert_file.is_empty() || !self.tls.key_file.is_empty() {
            let key = if self.tls.cert_file.is_empty() {
                "tls/key_file"
            } else {
                "tls/cert_file"
            };
            c.error(key, "client certificates (mutual TLS) are not supported");
        }
        if !(self.proxy_url.is_empty() || self.proxy_url.starts_with("http://")) {
            c.error(
                "proxy_url",
                "only http:// proxies (HTTP CONNECT) are supported",
            );
        }
        self.sending_queue.validate(c);
        self.retry_on_failure.validate(c);
    }
}

impl OtlpHttpExporterConfig {
    /// Checks that need the `sigv4auth` extension resolved: the signature's service must be
    /// known (configured, or inferred from the endpoint host).
    pub fn validate_auth(&self, c: &mut Checker<'_, '_>) {
        let Some(auth) = &self.auth else {
            return;
        };
        let Ok((_, sigv4)) = auth.authenticator.get() else {
            return;
        };
        let url = self.traces_url();
        let host = url_host(&url);
        if sigv4.service.is_empty() && infer_service_and_region(host).0.is_none() {
            c.error(
                "auth/authenticator",
                format!(
                    "cannot infer the SigV4 service from the endpoint host `{host}`: set `service` in extensions.{}",
                    auth.authenticator.name()
                ),
            );
        }
    }
}
