//! The `awsproxy` extension: the X-Ray sampling proxy (`crate::aws::proxy`, the one the awsxray
//! receiver's `proxy_server` runs) started on its own, so OpenTelemetry SDKs' X-Ray remote
//! samplers (`/GetSamplingRules`, `/SamplingTargets`, port 2000 by default) and X-Ray SDKs get
//! sampling rules through the collector's credentials. It stops with the collector's servers.

pub mod config;

use self::config::AwsProxyConfig;
use super::{ExtensionConfig, ExtensionContext};
use crate::aws::proxy::{ProxyOwner, SamplingProxy};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;

impl ExtensionConfig for AwsProxyConfig {
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        ctx: &'a ExtensionContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let owner = ProxyOwner::Extension(id.to_string());
            let proxy = SamplingProxy::build(owner, &self.proxy, ctx.telemetry.clone()).await?;
            tokio::spawn(proxy.run(ctx.stop.clone()));
            Ok(())
        })
    }
}
