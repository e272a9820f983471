//! Building the X-Ray API client: region from config, environment, profile or instance metadata;
//! credentials from the default chain (environment, profile, IRSA web identity, EKS Pod Identity and
//! ECS container credentials, instance profile), optionally through an assumed role; the SDK's own
//! retries off, because the exporter retries with its own backoff and counts every attempt.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;

use super::config::AwsXrayExporterConfig;

/// Builds a client for the exporter `id`.
pub async fn build(id: &str, cfg: &AwsXrayExporterConfig) -> anyhow::Result<aws_sdk_xray::Client> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(cfg.request_timeout_seconds))
                .build(),
        );
    loader = crate::aws::with_region(loader, &cfg.region, cfg.local_mode);
    if !cfg.endpoint.is_empty() {
        loader = loader.endpoint_url(cfg.endpoint.clone());
    }
    let sdk = loader.load().await;
    let Some(region) = sdk.region().cloned() else {
        anyhow::bail!(
            "exporters.{id}: no AWS region: set `region`, or AWS_REGION, or run where instance metadata answers"
        );
    };
    let mut builder = aws_sdk_xray::config::Builder::from(&sdk);
    if !cfg.role_arn.is_empty() {
        let provider = AssumeRoleProvider::builder(cfg.role_arn.clone())
            .session_name("xray-collector")
            .region(region.clone())
            .configure(&sdk)
            .build()
            .await;
        builder = builder.credentials_provider(provider);
    }
    tracing::info!(exporter = id, region = %region, endpoint = %cfg.endpoint, "X-Ray client configured.");
    Ok(aws_sdk_xray::Client::from_conf(builder.build()))
}
