//! `receivers.awsxray`: contrib's keys, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `receivers.awsxray`: X-Ray segments over UDP, plus the optional sampling proxy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsXrayReceiverConfig {
    /// UDP address to listen on (`host:port`); default `0.0.0.0:2000`.
    pub endpoint: String,
    /// Transport; only `udp` exists.
    pub transport: String,
    /// The TCP sampling proxy that forwards `GetSamplingRules` and `SamplingTargets`.
    pub proxy_server: Option<ProxyServerConfig>,
    /// Kernel receive buffer requested for each UDP socket, in bytes (`SO_RCVBUF`; the kernel caps
    /// it at `net.core.rmem_max`); default 8 MiB. A larger buffer absorbs longer bursts before the
    /// kernel drops datagrams. Not a contrib key: an extension of this collector.
    pub receive_buffer_size: usize,
}

/// Default of [`AwsXrayReceiverConfig::receive_buffer_size`].
pub const DEFAULT_RECEIVE_BUFFER_SIZE: usize = 8 << 20;

impl Default for AwsXrayReceiverConfig {
    fn default() -> Self {
        AwsXrayReceiverConfig {
            endpoint: "0.0.0.0:2000".to_owned(),
            transport: "udp".to_owned(),
            proxy_server: None,
            receive_buffer_size: DEFAULT_RECEIVE_BUFFER_SIZE,
        }
    }
}

/// `receivers.awsxray.proxy_server`, contrib's keys.
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

impl Component for AwsXrayReceiverConfig {
    const TYPE: &'static str = "awsxray";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.transport != "udp" {
            c.error(
                "transport",
                format!(
                    "transport `{}` is not supported; only `udp` is",
                    self.transport
                ),
            );
        }
        c.endpoint("endpoint", &self.endpoint);
        if let Some(proxy) = &self.proxy_server {
            c.endpoint("proxy_server/endpoint", &proxy.endpoint);
        }
    }
}
