//! The sampling proxy's settings, contrib's `internal/aws/proxy` keys: the awsxray receiver's
//! `proxy_server` and the `awsproxy` extension share them (contrib squashes the same struct into
//! both).

use serde::Deserialize;

use crate::config::component::Checker;

/// `receivers.awsxray.proxy_server` and `extensions.awsproxy`, contrib's keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyServerConfig {
    /// TCP address to listen on; default `0.0.0.0:2000`.
    pub endpoint: String,
    /// HTTP(S) proxy used to reach the X-Ray API.
    pub proxy_address: String,
    /// TLS settings for the upstream connection.
    pub tls: ProxyTlsConfig,
    /// Region of the X-Ray endpoint the proxy forwards to.
    pub region: String,
    /// Role to assume for signing.
    pub role_arn: String,
    /// X-Ray endpoint override.
    pub aws_endpoint: String,
    /// Skip instance metadata when resolving the region.
    pub local_mode: bool,
    /// SigV4 service name; default `xray`.
    pub service_name: String,
}

impl Default for ProxyServerConfig {
    fn default() -> Self {
        ProxyServerConfig {
            endpoint: "0.0.0.0:2000".to_owned(),
            proxy_address: String::new(),
            tls: ProxyTlsConfig::default(),
            region: String::new(),
            role_arn: String::new(),
            aws_endpoint: String::new(),
            local_mode: false,
            service_name: "xray".to_owned(),
        }
    }
}

/// `proxy_server.tls`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyTlsConfig {
    /// Skip verification of the upstream certificate.
    pub insecure: bool,
    /// Server name to verify instead of the endpoint's host.
    pub server_name_override: String,
    /// CA bundle to verify the upstream with.
    pub ca_file: String,
}

impl ProxyServerConfig {
    /// Checks the settings, reporting under `prefix` (`""` or `proxy_server/`).
    pub fn check(&self, c: &mut Checker<'_, '_>, prefix: &str) {
        c.endpoint(&format!("{prefix}endpoint"), &self.endpoint);
    }
}
