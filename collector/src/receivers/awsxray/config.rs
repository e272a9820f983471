//! `receivers.awsxray`: contrib's keys, and their checks.

use serde::Deserialize;

pub use crate::aws::proxy::config::{ProxyServerConfig, ProxyTlsConfig};
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
            proxy.check(c, "proxy_server/");
        }
    }
}
