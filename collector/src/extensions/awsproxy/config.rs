//! `extensions.awsproxy`: contrib's keys (its `proxy.Config`, the same keys as the awsxray
//! receiver's `proxy_server`), and their checks.

use serde::Deserialize;

use crate::aws::proxy::config::ProxyServerConfig;
use crate::config::component::{Checker, Component};

/// `extensions.awsproxy`: the X-Ray sampling proxy as an extension, where OpenTelemetry SDKs'
/// X-Ray remote samplers (and X-Ray SDKs) fetch sampling rules; default endpoint `0.0.0.0:2000`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct AwsProxyConfig {
    /// The proxy's settings: `endpoint`, `proxy_address`, `tls`, `region`, `role_arn`,
    /// `aws_endpoint`, `local_mode`, `service_name`.
    pub proxy: ProxyServerConfig,
}

impl Component for AwsProxyConfig {
    const TYPE: &'static str = "awsproxy";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        self.proxy.check(c, "");
    }
}
