//! The `sigv4auth` extension: signs an HTTP exporter's requests with SigV4, as contrib's
//! `sigv4authextension` does for `auth.authenticator: sigv4auth`.
//!
//! Each exporter that names the extension gets its own [`Signer`], because the service and region
//! may be inferred from that exporter's endpoint. The region is `region`, else the one in the
//! endpoint host (`xray.<region>.amazonaws.com`), else the SDK's chain (`AWS_REGION`, profile,
//! instance metadata); with none, startup fails naming the settings. Credentials come from the
//! default chain (environment, profile, IRSA web identity, EKS Pod Identity, instance profile),
//! optionally through `assume_role`, and are cached until five minutes before they expire.

pub mod config;

use std::time::SystemTime;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use self::config::{SigV4AuthConfig, infer_service_and_region, url_host};
use super::ExtensionConfig;
use crate::aws::sign::{CredentialsCache, SignError, sign_request};

impl ExtensionConfig for SigV4AuthConfig {}

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
    ) -> Result<(), SignError> {
        self.sign_at(request, body, SystemTime::now()).await
    }

    /// [`Signer::sign`] at a given time.
    pub async fn sign_at(
        &self,
        request: &mut Request<Full<Bytes>>,
        body: &[u8],
        time: SystemTime,
    ) -> Result<(), SignError> {
        let credentials = self.credentials.get().await?;
        sign_request(
            request,
            body,
            &credentials,
            &self.region,
            &self.service,
            time,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use aws_credential_types::Credentials;
    use hyper::Method;
    use hyper::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn signer() -> Signer {
        Signer {
            region: "us-west-2".into(),
            service: "xray".into(),
            credentials: CredentialsCache::new(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                SECRET,
                Some("session".into()),
                None,
                "test",
            ))),
        }
    }

    fn request(body: &Bytes) -> Request<Full<Bytes>> {
        Request::builder()
            .method(Method::POST)
            .uri("https://xray.us-west-2.amazonaws.com/v1/traces")
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "gzip")
            .header(CONTENT_LENGTH, body.len())
            .header(hyper::header::USER_AGENT, "xray-collector/test")
            .body(Full::new(body.clone()))
            .unwrap()
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        Bytes::from(gz.finish().unwrap())
    }

    #[tokio::test]
    async fn the_signature_has_the_xray_scope_and_verifies() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let body = gzip(b"an ExportTraceServiceRequest");
        let mut signed = request(&body);
        signer().sign_at(&mut signed, &body, time).await.unwrap();
        let h = signed.headers();
        assert_eq!(h["x-amz-date"], "20260528T202640Z");
        assert_eq!(h["x-amz-security-token"], "session");
        let auth = h[AUTHORIZATION].to_str().unwrap().to_owned();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260528/us-west-2/xray/aws4_request, "
            ),
            "{auth}"
        );
        assert!(
            auth.contains(
                "SignedHeaders=content-encoding;content-length;content-type;host;x-amz-date;x-amz-security-token, "
            ),
            "{auth}"
        );

        // A verifier recomputes the signature from what it received (the request without its
        // signature headers, the compressed body, the time in X-Amz-Date): it matches.
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            SECRET,
            Some("session".into()),
            None,
            "verifier",
        );
        let mut again = request(&body);
        sign_request(&mut again, &body, &credentials, "us-west-2", "xray", time).unwrap();
        assert_eq!(again.headers()[AUTHORIZATION], auth.as_str());

        // The signature covers the bytes sent: the uncompressed body, another region or another
        // service does not verify.
        let plain = Bytes::from_static(b"an ExportTraceServiceRequest");
        for (b, region, service) in [
            (&plain, "us-west-2", "xray"),
            (&body, "us-east-1", "xray"),
            (&body, "us-west-2", "logs"),
        ] {
            let mut other = request(&body);
            sign_request(&mut other, b, &credentials, region, service, time).unwrap();
            assert_ne!(
                other.headers()[AUTHORIZATION],
                auth.as_str(),
                "{region} {service}"
            );
        }
    }
}
