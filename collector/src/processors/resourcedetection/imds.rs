//! A minimal IMDSv2 client: a session token (`PUT /latest/api/token`), then `GET`s with it.
//! The endpoint is `AWS_EC2_METADATA_SERVICE_ENDPOINT` (as the AWS SDKs read it), else
//! `http://169.254.169.254`; `AWS_EC2_METADATA_DISABLED=true` turns it off, as in the SDKs.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// The default IMDS endpoint.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// Largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// Why instance metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    /// `AWS_EC2_METADATA_DISABLED` is `true`.
    #[error("instance metadata is disabled (AWS_EC2_METADATA_DISABLED)")]
    Disabled,
    /// The endpoint is not a URL.
    #[error("instance metadata endpoint {0:?} is not an http:// URL")]
    Endpoint(String),
    /// The request failed.
    #[error("instance metadata {path}")]
    Request {
        path: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The answer could not be read.
    #[error("reading instance metadata {path}")]
    Read {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A status other than 200.
    #[error("instance metadata {path} answered {status}")]
    Status { path: String, status: StatusCode },
    /// The identity document is not what IMDS serves.
    #[error("instance identity document")]
    Document(#[source] serde_json::Error),
    /// A request could not be built.
    #[error("building an instance metadata request")]
    Build(#[source] hyper::http::Error),
}

/// The fields of the instance identity document the detectors use.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct IdentityDocument {
    pub account_id: String,
    pub availability_zone: String,
    pub image_id: String,
    pub instance_id: String,
    pub instance_type: String,
    pub region: String,
}

/// An IMDSv2 session.
pub struct Imds {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    token: String,
}

impl Imds {
    /// Opens a session: reads the endpoint from the environment and gets a token.
    pub async fn connect() -> Result<Imds, ImdsError> {
        if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(ImdsError::Disabled);
        }
        let base = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") || base.parse::<Uri>().is_err() {
            return Err(ImdsError::Endpoint(base));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let mut imds = Imds {
            base,
            client,
            token: String::new(),
        };
        imds.token = imds
            .call(
                Method::PUT,
                "/latest/api/token",
                &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
            )
            .await?;
        Ok(imds)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<String, ImdsError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(ImdsError::Build)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|source| ImdsError::Request {
                path: path.to_owned(),
                source,
            })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|source| ImdsError::Read {
                path: path.to_owned(),
                source,
            })?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(ImdsError::Status {
                path: path.to_owned(),
                status,
            });
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET path` with the session token.
    pub async fn get(&self, path: &str) -> Result<String, ImdsError> {
        let token = self.token.clone();
        self.call(Method::GET, path, &[("x-aws-ec2-metadata-token", &token)])
            .await
    }

    /// The instance identity document.
    pub async fn identity(&self) -> Result<IdentityDocument, ImdsError> {
        let text = self
            .get("/latest/dynamic/instance-identity/document")
            .await?;
        serde_json::from_str(&text).map_err(ImdsError::Document)
    }

    /// The instance's tags (IMDS serves them only when instance metadata tags are enabled).
    pub async fn tags(&self) -> Result<Vec<(String, String)>, ImdsError> {
        let keys = self.get("/latest/meta-data/tags/instance").await?;
        let mut tags = Vec::new();
        for key in keys.lines().map(str::trim).filter(|k| !k.is_empty()) {
            let value = self
                .get(&format!("/latest/meta-data/tags/instance/{key}"))
                .await?;
            tags.push((key.to_owned(), value));
        }
        Ok(tags)
    }
}
