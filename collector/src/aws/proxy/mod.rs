//! The X-Ray sampling proxy, served by the awsxray receiver's `proxy_server` and by the
//! `awsproxy` extension (one implementation; [`ProxyOwner`] names which, in messages and metrics).
//! Its settings, contrib's keys for both, are in `config`.
//!
//! X-Ray SDKs fetch centralized sampling rules from the daemon's TCP port with **unsigned**
//! `POST /GetSamplingRules` and `POST /SamplingTargets` requests. The proxy signs them with SigV4
//! (service `xray`, the collector's credentials) and forwards them to the X-Ray endpoint.
//!
//! Unlike the reference daemon and contrib's `proxy_server`, which sign and forward *any* path, this
//! proxy forwards only those two routes: every other request is answered `404` (or `405` for a
//! wrong method) and counted, so the collector's role cannot be used for other X-Ray API calls by
//! whatever can reach the port (`xray-protocol.md` §6.3). A request is never forwarded unsigned:
//! when credentials cannot be obtained the client gets `502`.
//!
//! Limits: at most [`MAX_CONNECTIONS`] client connections at once (more are closed at once and
//! counted), request headers within [`HEADER_TIMEOUT`], bodies up to [`MAX_BODY`] read within
//! [`BODY_TIMEOUT`], upstream answers within [`UPSTREAM_TIMEOUT`] and up to [`MAX_UPSTREAM_BODY`].

pub mod config;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use self::config::ProxyServerConfig;
use crate::aws::client::{ClientTls, HttpsClient};
use crate::aws::sign::{CredentialsCache, SignError, sign_request};
use crate::serve::{Handle, Limits, Server};
use crate::telemetry::Telemetry;
use crate::telemetry::logs::error_chain;

/// Why the proxy's upstream endpoint is not usable.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The configured or environment endpoint does not parse as a URI.
    #[error("aws_endpoint {text:?} is not a URL")]
    NotUrl {
        text: String,
        #[source]
        source: hyper::http::uri::InvalidUri,
    },
    /// It parses, but is not an absolute `http://` or `https://` URL.
    #[error("aws_endpoint {text:?} must be an http:// or https:// URL")]
    Scheme { text: String },
    /// The endpoint joined with a forwarded path is not a valid URI.
    #[error("joining the endpoint and the path")]
    Join(#[source] hyper::http::Error),
}

/// Why one sampling request could not be forwarded (answered `502`).
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("no AWS credentials to sign with")]
    Credentials(#[source] SignError),
    #[error("building the upstream request")]
    Build(#[source] hyper::http::Error),
    #[error("signing the upstream request")]
    Sign(#[source] SignError),
    #[error("X-Ray endpoint {endpoint}")]
    Upstream {
        endpoint: Uri,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("reading the X-Ray answer")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The only routes forwarded upstream.
pub const ALLOWED_PATHS: [&str; 2] = ["/GetSamplingRules", "/SamplingTargets"];
/// Most client connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Time allowed for a client to send request headers (contrib's `ReadHeaderTimeout`).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// The serving loop's limits: [`MAX_CONNECTIONS`], [`HEADER_TIMEOUT`], 60 s idle, and
/// [`HEADER_TIMEOUT`] for connections to finish at shutdown.
pub const LIMITS: Limits = Limits {
    max_connections: MAX_CONNECTIONS,
    header_read_timeout: HEADER_TIMEOUT,
    drain_timeout: HEADER_TIMEOUT,
    ..Limits::DEFAULT
};
/// Time allowed for a client to send the request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest accepted request body; sampling requests are a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Time allowed for the X-Ray endpoint to answer, connection included.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest upstream answer relayed to the client.
pub const MAX_UPSTREAM_BODY: usize = 4 * 1024 * 1024;

/// The component a proxy serves for: its place in messages and the labels of its counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyOwner {
    /// `receivers.<id>.proxy_server`, counted in `receiver_proxy_requests{receiver}`.
    Receiver(String),
    /// `extensions.<id>` (`awsproxy`), counted in `extension_proxy_requests{extension}`.
    Extension(String),
}

impl fmt::Display for ProxyOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyOwner::Receiver(id) => write!(f, "receivers.{id}.proxy_server"),
            ProxyOwner::Extension(id) => write!(f, "extensions.{id}"),
        }
    }
}

/// A bound, configured sampling proxy; [`SamplingProxy::run`] serves it.
pub struct SamplingProxy {
    listener: TcpListener,
    state: Arc<State>,
}

struct State {
    owner: ProxyOwner,
    upstream: Uri,
    region: Region,
    service: String,
    credentials: CredentialsCache,
    client: HttpsClient,
    telemetry: Telemetry,
}

impl SamplingProxy {
    /// Resolves region, credentials and endpoint for `owner`, and binds the TCP listener.
    pub async fn build(
        owner: ProxyOwner,
        cfg: &ProxyServerConfig,
        telemetry: Telemetry,
    ) -> anyhow::Result<SamplingProxy> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        loader = crate::aws::with_region(loader, &cfg.region, cfg.local_mode);
        let sdk = loader.load().await;
        let Some(region) = sdk.region().cloned() else {
            anyhow::bail!(
                "{owner}: no AWS region: set `region`, or AWS_REGION, or run where instance metadata answers"
            );
        };
        let Some(mut provider) = sdk.credentials_provider() else {
            anyhow::bail!("{owner}: no AWS credentials provider");
        };
        if !cfg.role_arn.is_empty() {
            let assumed = AssumeRoleProvider::builder(cfg.role_arn.clone())
                .session_name("xray-collector-sampling-proxy")
                .region(region.clone())
                .configure(&sdk)
                .build()
                .await;
            provider = SharedCredentialsProvider::new(assumed);
        }
        let upstream = upstream_endpoint(cfg, &region, sdk.endpoint_url())
            .map_err(|e| anyhow::format_err!("{owner}: {}", error_chain(&e)))?;
        let tls = ClientTls {
            insecure: cfg.tls.insecure,
            server_name_override: cfg.tls.server_name_override.clone(),
            ca_file: cfg.tls.ca_file.clone(),
        };
        let client = HttpsClient::new(&tls, &cfg.proxy_address, &upstream, 2)
            .map_err(|e| anyhow::Error::new(e).context(owner.to_string()))?;

        let endpoint = crate::telemetry::server::normalize(&cfg.endpoint);
        let listener = TcpListener::bind(&endpoint)
            .await
            .map_err(|e| anyhow::format_err!("{owner}: cannot listen on TCP {endpoint}: {e}"))?;
        tracing::info!(
            component = %owner,
            address = %listener.local_addr()?,
            upstream = %upstream,
            region = %region,
            "Serving the X-Ray sampling proxy."
        );
        let service = if cfg.service_name.is_empty() {
            "xray".to_owned()
        } else {
            cfg.service_name.clone()
        };
        Ok(SamplingProxy {
            listener,
            state: Arc::new(State {
                owner,
                upstream,
                region,
                service,
                credentials: CredentialsCache::new(provider),
                client,
                telemetry,
            }),
        })
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` is cancelled; connections in progress get
    /// [`HEADER_TIMEOUT`] to finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let state = self.state.clone();
        let handle: Handle = Arc::new(move |req| {
            let state = state.clone();
            Box::pin(async move { state.handle(req).await })
        });
        let refused = self.state.clone();
        Server {
            listener: self.listener,
            limits: LIMITS,
            tls: None,
            handle,
            on_refused: Arc::new(move || refused.count("too_many_connections")),
            name: self.state.owner.to_string(),
        }
        .run(shutdown)
        .await;
    }
}

impl State {
    fn count(&self, outcome: &str) {
        match &self.owner {
            ProxyOwner::Receiver(id) => self.telemetry.proxy_request(id, outcome),
            ProxyOwner::Extension(id) => self.telemetry.extension_proxy_request(id, outcome),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let allowed = ALLOWED_PATHS.contains(&path) && req.uri().query().is_none();
        if !allowed {
            self.count("refused_path");
            tracing::debug!(component = %self.owner, path, "Sampling proxy refused a path.");
            return reply(
                StatusCode::NOT_FOUND,
                "only POST /GetSamplingRules and POST /SamplingTargets are served",
            );
        }
        if req.method() != Method::POST {
            self.count("refused_method");
            return reply(StatusCode::METHOD_NOT_ALLOWED, "only POST is served");
        }
        let path = path.to_owned();
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let body = Limited::new(req.into_body(), MAX_BODY);
        let body = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => {
                self.count("refused_body");
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large or unreadable",
                );
            }
            Err(_) => {
                self.count("client_timeout");
                return reply(
                    StatusCode::REQUEST_TIMEOUT,
                    "request body not received in time",
                );
            }
        };
        match tokio::time::timeout(UPSTREAM_TIMEOUT, self.forward(&path, content_type, body)).await
        {
            Ok(Ok(response)) => {
                self.count("forwarded");
                response
            }
            Ok(Err(err)) => {
                self.count("upstream_error");
                let err = error_chain(&err);
                tracing::warn!(component = %self.owner, path, error = %err, "Sampling proxy could not forward a request.");
                reply(StatusCode::BAD_GATEWAY, &err)
            }
            Err(_) => {
                self.count("upstream_timeout");
                reply(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the X-Ray endpoint did not answer in time",
                )
            }
        }
    }

    /// Signs the request with the collector's credentials and relays the upstream answer.
    async fn forward(
        &self,
        path: &str,
        content_type: HeaderValue,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ForwardError> {
        let uri = join_uri(&self.upstream, path)?;
        let credentials = self
            .credentials
            .get()
            .await
            .map_err(ForwardError::Credentials)?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, body.len())
            .body(Full::new(body.clone()))
            .map_err(ForwardError::Build)?;
        sign_request(
            &mut request,
            &body,
            &credentials,
            self.region.as_ref(),
            &self.service,
            SystemTime::now(),
        )
        .map_err(ForwardError::Sign)?;
        let response =
            self.client
                .request(request)
                .await
                .map_err(|source| ForwardError::Upstream {
                    endpoint: self.upstream.clone(),
                    source,
                })?;
        let (parts, incoming) = response.into_parts();
        let bytes = Limited::new(incoming, MAX_UPSTREAM_BODY)
            .collect()
            .await
            .map_err(ForwardError::Read)?
            .to_bytes();
        let mut out = Response::builder().status(parts.status);
        for name in [
            CONTENT_TYPE,
            hyper::header::HeaderName::from_static("x-amzn-requestid"),
        ] {
            if let Some(value) = parts.headers.get(&name) {
                out = out.header(name, value);
            }
        }
        out.body(Full::new(bytes)).map_err(ForwardError::Build)
    }
}

/// The X-Ray endpoint: `aws_endpoint`, else `AWS_ENDPOINT_URL_XRAY` / `AWS_ENDPOINT_URL` (as the
/// SDK reads them), else the region's public endpoint.
fn upstream_endpoint(
    cfg: &ProxyServerConfig,
    region: &Region,
    sdk_endpoint: Option<&str>,
) -> Result<Uri, EndpointError> {
    let from_env = std::env::var("AWS_ENDPOINT_URL_XRAY")
        .ok()
        .filter(|s| !s.is_empty());
    let text = if !cfg.aws_endpoint.is_empty() {
        cfg.aws_endpoint.clone()
    } else if let Some(url) = from_env.or(sdk_endpoint.map(str::to_owned)) {
        url
    } else {
        crate::aws::regional_endpoint("xray", region.as_ref())
    };
    let uri: Uri = match text.parse() {
        Ok(uri) => uri,
        Err(source) => return Err(EndpointError::NotUrl { text, source }),
    };
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(EndpointError::Scheme { text }),
    }
}

/// `base` with its path replaced by `base.path` + `path`.
fn join_uri(base: &Uri, path: &str) -> Result<Uri, EndpointError> {
    let prefix = base.path().trim_end_matches('/');
    Uri::builder()
        .scheme(base.scheme_str().unwrap_or("https"))
        .authority(base.authority().map(|a| a.as_str()).unwrap_or_default())
        .path_and_query(format!("{prefix}{path}"))
        .build()
        .map_err(EndpointError::Join)
}

fn reply(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_an_endpoint_path_prefix() {
        let base: Uri = "http://127.0.0.1:9000/xray/".parse().unwrap();
        assert_eq!(
            join_uri(&base, "/GetSamplingRules").unwrap().to_string(),
            "http://127.0.0.1:9000/xray/GetSamplingRules"
        );
        let base: Uri = "https://xray.us-east-1.amazonaws.com".parse().unwrap();
        assert_eq!(
            join_uri(&base, "/SamplingTargets").unwrap().to_string(),
            "https://xray.us-east-1.amazonaws.com/SamplingTargets"
        );
    }

    #[test]
    fn endpoint_must_be_http_or_https() {
        let region = Region::new("us-east-1");
        let mut cfg = ProxyServerConfig {
            aws_endpoint: "ftp://example.com".into(),
            ..ProxyServerConfig::default()
        };
        assert!(upstream_endpoint(&cfg, &region, None).is_err());
        cfg.aws_endpoint = "http://127.0.0.1:4000".into();
        assert_eq!(
            upstream_endpoint(&cfg, &region, None).unwrap().to_string(),
            "http://127.0.0.1:4000/"
        );
    }
}
