//! The `sigv4auth` extension: signs an HTTP exporter's requests with SigV4, as contrib's
//! `sigv4authextension` does for `auth.authenticator: sigv4auth`.
//!
//! Each exporter that names the extension gets its own [`Signer`], because the service and region
//! may be inferred from that exporter's endpoint. The region is `region`, else the one in the
//! endpoint host (`xray.<region>.amazonaws.com`), else the SDK's chain (`AWS_REGION`, profile,
//! instance metadata); with none, startup fails naming the settings. Credentials come from the
//! default chain (environment, profile, IRSA web identity, EKS Pod Identity, instance profile),
//! optionally through `assume_role`, and are cached until five minutes before they expire.

use std::time::SystemTime;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::aws::sign::{CredentialsCache, sign_request};
use crate::config::extensions::{SigV4AuthConfig, infer_service_and_region, url_host};

/// Signs the requests of one exporter.
pub struct Signer {
    region: String,
    service: String,
    credentials: CredentialsCache,
}

impl Signer {
    /// Resolves the service, region and credentials provider for the extension `extension` used
    /// by the exporter `exporter` posting to `url`.
    pub async fn build(
        extension: &str,
        exporter: &str,
        cfg: &SigV4AuthConfig,
        url: &str,
    ) -> anyhow::Result<Signer> {
        let (inferred_service, inferred_region) = infer_service_and_region(url_host(url));
        let service = if cfg.service.is_empty() {
            inferred_service.unwrap_or_default().to_owned()
        } else {
            cfg.service.clone()
        };
        if service.is_empty() {
            anyhow::bail!(
                "extensions.{extension}: no SigV4 service for exporter `{exporter}`: set `service`"
            );
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let configured = if !cfg.region.is_empty() {
            Some(cfg.region.clone())
        } else {
            inferred_region.map(str::to_owned)
        };
        if let Some(region) = &configured {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let Some(region) = sdk.region().cloned() else {
            anyhow::bail!(
                "extensions.{extension}: no AWS region for exporter `{exporter}`: set `region`, use an endpoint such as https://xray.<region>.amazonaws.com, or set AWS_REGION"
            );
        };
        let Some(mut provider) = sdk.credentials_provider() else {
            anyhow::bail!("extensions.{extension}: no AWS credentials provider");
        };
        let role = &cfg.assume_role;
        if !role.arn.is_empty() {
            let sts_region = if role.sts_region.is_empty() {
                region.clone()
            } else {
                Region::new(role.sts_region.clone())
            };
            let session = if role.session_name.is_empty() {
                "xray-collector"
            } else {
                &role.session_name
            };
            let assumed = AssumeRoleProvider::builder(role.arn.clone())
                .session_name(session)
                .region(sts_region)
                .configure(&sdk)
                .build()
                .await;
            provider = SharedCredentialsProvider::new(assumed);
        }
        tracing::info!(extension, exporter, service = %service, region = %region, assume_role = %role.arn, "SigV4 signing configured.");
        Ok(Signer {
            region: region.to_string(),
            service,
            credentials: CredentialsCache::new(provider),
        })
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signing service.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs `request`, whose body is `body` (the bytes sent), with current credentials.
    pub async fn sign(
        &self,
        request: &mut Request<Full<Bytes>>,
        body: &[u8],
    ) -> Result<(), String> {
        let credentials = self
            .credentials
            .get()
            .await
            .map_err(|e| format!("no credentials to sign with: {e}"))?;
        sign_request(
            request,
            body,
            &credentials,
            &self.region,
            &self.service,
            SystemTime::now(),
        )
    }
}
