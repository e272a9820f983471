//! SigV4 request signing (aws-sigv4) with credentials from aws-config's provider chain, cached
//! until shortly before they expire.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use tokio::sync::Mutex;

/// Why a request could not be signed; the cause is the error's source.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The provider chain gave no credentials.
    #[error("no credentials to sign with")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    /// The signing parameters are incomplete.
    #[error("signing parameters")]
    Params(#[source] aws_sigv4::sign::v4::signing_params::BuildError),
    /// The request cannot be signed.
    #[error("signing")]
    Sign(#[source] aws_sigv4::http_request::SigningError),
}

/// Credentials are refreshed this long before they expire.
pub const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Adds the SigV4 headers (`Authorization`, `X-Amz-Date`, and `X-Amz-Security-Token` for
/// temporary credentials) for `service` in `region` at `time`. The signature covers the method,
/// the URI, every header the request already has (aws-sigv4 leaves out `user-agent` and the
/// like) and the SHA-256 of `body`, which must be the bytes sent (compressed, when they are).
pub fn sign_request(
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), SignError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(SignError::Params)?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri_text = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri_text,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(SignError::Sign)?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(SignError::Sign)?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// Credentials from a provider chain, reused until [`CREDENTIALS_REFRESH_MARGIN`] before they
/// expire.
pub struct CredentialsCache {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl CredentialsCache {
    /// A cache over `provider`; nothing is fetched until the first [`CredentialsCache::get`].
    pub fn new(provider: SharedCredentialsProvider) -> CredentialsCache {
        CredentialsCache {
            provider,
            cached: Mutex::new(None),
        }
    }

    /// The cached credentials, or fresh ones when none are cached or they expire soon.
    pub async fn get(&self) -> Result<Credentials, SignError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref() {
            let fresh = credentials
                .expiry()
                .is_none_or(|expiry| SystemTime::now() + CREDENTIALS_REFRESH_MARGIN < expiry);
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(SignError::Credentials)?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::future;
    use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
    use hyper::{Method, Uri};

    use super::*;

    #[test]
    fn signature_covers_host_content_type_and_body() {
        let uri: Uri = "http://127.0.0.1:4000/GetSamplingRules".parse().unwrap();
        let body = Bytes::from_static(b"{}");
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, 2)
            .body(Full::new(body.clone()))
            .unwrap();
        let credentials =
            Credentials::new("AKIDTEST", "secret", Some("token".into()), None, "test");
        sign_request(
            &mut request,
            &body,
            &credentials,
            "us-east-1",
            "xray",
            SystemTime::now(),
        )
        .unwrap();
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/xray/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-length;content-type;host;"),
            "{auth}"
        );
        assert!(request.headers().contains_key("x-amz-date"));
        assert_eq!(request.headers()["x-amz-security-token"], "token");
    }

    /// Counts how often it is asked, and hands out credentials expiring at a set time.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                self.expiry,
                "counting",
            )))
        }
    }

    #[tokio::test]
    async fn credentials_are_cached_until_shortly_before_expiry() {
        let calls = Arc::new(AtomicUsize::new(0));
        let lasting = CredentialsCache::new(SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            expiry: Some(SystemTime::now() + Duration::from_secs(3600)),
        }));
        assert_eq!(lasting.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(lasting.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Credentials expiring within the margin are fetched again on every use.
        let calls = Arc::new(AtomicUsize::new(0));
        let expiring = CredentialsCache::new(SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            expiry: Some(SystemTime::now() + Duration::from_secs(60)),
        }));
        assert_eq!(expiring.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(expiring.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
