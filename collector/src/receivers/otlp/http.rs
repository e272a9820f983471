//! OTLP/HTTP: `POST <traces_url_path>` with `application/x-protobuf` or `application/json`
//! bodies, optionally gzip-compressed, answered in the request's encoding.
//!
//! Status codes follow the OTLP/HTTP specification: `200` with an `ExportTraceServiceResponse`;
//! `400` (malformed), `404`, `405`, `413` (too large) and `415` (unsupported content type or
//! encoding) are not retryable; `503` with `Retry-After` is. Error bodies are a `google.rpc.Status`.
//!
//! A request goes through, in order: its headers (a `Content-Length` over
//! `max_request_body_size` is refused with `413` before any of the body is read); its body, read
//! within [`BODY_TIMEOUT`] and charged to the receiver's memory budget as it arrives (so a slow
//! body holds only the bytes it sent, never an in-flight slot); gunzip, charged the same way; the
//! decoded-size scan, charged before decoding (`budget.rs`); then an in-flight slot, the decode
//! and the pipeline. `404` and `405` answer requests that are not OTLP exports and are not
//! counted; every other answer is counted once in the receiver's request counters.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::budget::{Budget, Charge, OverBudget, json_cost, protobuf_cost};
use super::config::OtlpHttpConfig;
use super::tls::Pem;
use super::{Intake, RETRY_AFTER_SECS, Rejected};
use crate::pipeline::TracesSender;
use crate::serve::{Handle, Limits, Server};
use crate::telemetry::ReceiverRefusal;

/// Most client connections served at once; more are closed on accept and counted.
pub const MAX_CONNECTIONS: usize = 512;
/// Time allowed for a client to send the request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The serving loop's limits: [`MAX_CONNECTIONS`], 20 s for headers, 60 s idle, 10 s for a TLS
/// handshake, and at shutdown time for a request in progress to wait for the pipeline and read
/// its body.
pub const LIMITS: Limits = Limits {
    max_connections: MAX_CONNECTIONS,
    drain_timeout: Duration::from_secs(super::SEND_TIMEOUT.as_secs() + BODY_TIMEOUT.as_secs()),
    ..Limits::DEFAULT
};

/// A bound OTLP/HTTP server; [`HttpServer::run`] serves it.
pub struct HttpServer {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    path: String,
    max_body: usize,
}

/// The two encodings OTLP/HTTP defines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status` without `details`: the error body OTLP/HTTP specifies.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

impl HttpServer {
    /// Reads TLS files and binds the listener of receiver `id`.
    pub async fn bind(id: &str, cfg: &OtlpHttpConfig) -> anyhow::Result<HttpServer> {
        let at = format!("receivers.{id}.protocols.http");
        let tls = match &cfg.tls {
            None => None,
            Some(tls) => {
                let pem = Pem::read(tls, &format!("{at}.tls"))?;
                let config = pem.rustls_config(&format!("{at}.tls"), &[b"http/1.1"])?;
                Some(TlsAcceptor::from(Arc::new(config)))
            }
        };
        if !cfg.traces_url_path.starts_with('/') {
            anyhow::bail!(
                "{at}.traces_url_path: `{}` must start with `/`",
                cfg.traces_url_path
            );
        }
        let endpoint = crate::telemetry::server::normalize(&cfg.endpoint);
        let listener = TcpListener::bind(&endpoint)
            .await
            .map_err(|e| anyhow::format_err!("{at}: cannot listen on TCP {endpoint}: {e}"))?;
        Ok(HttpServer {
            listener,
            tls,
            path: cfg.traces_url_path.clone(),
            max_body: usize::try_from(cfg.max_request_body_size).unwrap_or(usize::MAX),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled; requests in progress are finished first.
    pub async fn run(self, sender: TracesSender, budget: Budget, shutdown: CancellationToken) {
        let intake = Arc::new(Intake::new(sender, budget));
        let state = Arc::new(Handler {
            intake: intake.clone(),
            path: self.path,
            max_body: self.max_body,
        });
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(receiver = %intake.receiver(), address = %addr, tls = self.tls.is_some(), "Receiving OTLP over HTTP.");
        }
        let refused = intake.clone();
        let handle: Handle = Arc::new(move |req| {
            let state = state.clone();
            Box::pin(async move { state.handle(req).await })
        });
        Server {
            listener: self.listener,
            limits: LIMITS,
            tls: self.tls,
            handle,
            on_refused: Arc::new(move || {
                refused.refuse_request(ReceiverRefusal::TooManyConnections)
            }),
            name: format!("receivers.{}", intake.receiver()),
        }
        .run(shutdown)
        .await;
    }
}

struct Handler {
    intake: Arc<Intake>,
    path: String,
    max_body: usize,
}

impl Handler {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let encoding = match req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            Some(ct) if media_type(ct) == "application/json" => Some(Encoding::Json),
            Some(ct) if media_type(ct) == "application/x-protobuf" => Some(Encoding::Protobuf),
            _ => None,
        };
        let reply_as = encoding.unwrap_or(Encoding::Protobuf);
        let client = req
            .extensions()
            .get::<crate::serve::Peer>()
            .map(|p| p.0.ip());
        if req.uri().path() != self.path {
            return error(reply_as, StatusCode::NOT_FOUND, "no such path");
        }
        if req.method() != Method::POST {
            return error(
                reply_as,
                StatusCode::METHOD_NOT_ALLOWED,
                "only POST is served",
            );
        }
        let Some(encoding) = encoding else {
            self.intake
                .refuse_request(ReceiverRefusal::UnsupportedContentType);
            return error(
                reply_as,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/x-protobuf or application/json",
            );
        };
        let gzip = match req.headers().get(CONTENT_ENCODING).map(HeaderValue::to_str) {
            None => false,
            Some(Ok(e)) if e.eq_ignore_ascii_case("identity") => false,
            Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
            Some(_) => {
                self.intake
                    .refuse_request(ReceiverRefusal::UnsupportedContentEncoding);
                return error(
                    encoding,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Content-Encoding must be gzip or absent",
                );
            }
        };
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            self.intake.refuse_request(ReceiverRefusal::TooLarge);
            return error(encoding, StatusCode::PAYLOAD_TOO_LARGE, &self.too_large());
        }
        let budget = self.intake.budget();
        let mut charge = Charge::default();
        let read = read_body(
            req.into_body(),
            declared,
            self.max_body,
            budget,
            &mut charge,
        );
        let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
            Ok(Ok(body)) => body,
            Ok(Err(Fail::TooLarge)) => {
                self.intake.refuse_request(ReceiverRefusal::TooLarge);
                return error(encoding, StatusCode::PAYLOAD_TOO_LARGE, &self.too_large());
            }
            Ok(Err(Fail::Over(over))) => return self.over_budget(encoding, over, 1),
            Ok(Err(Fail::Broken(err))) => {
                self.intake.refuse_request(ReceiverRefusal::Malformed);
                return error(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    &format!("reading the body: {err}"),
                );
            }
            Err(_) => {
                self.intake.refuse_request(ReceiverRefusal::ClientTimeout);
                return error(
                    encoding,
                    StatusCode::REQUEST_TIMEOUT,
                    "the body was not received in time",
                );
            }
        };
        let body = if gzip {
            match gunzip(&body, self.max_body, &mut |n| budget.charge(&mut charge, n)) {
                Ok(plain) => Bytes::from(plain),
                Err(Fail::TooLarge) => {
                    self.intake.refuse_request(ReceiverRefusal::TooLarge);
                    return error(encoding, StatusCode::PAYLOAD_TOO_LARGE, &self.too_large());
                }
                Err(Fail::Over(over)) => return self.over_budget(encoding, over, 1),
                Err(Fail::Broken(err)) => {
                    self.intake.refuse_request(ReceiverRefusal::Malformed);
                    return error(encoding, StatusCode::BAD_REQUEST, &format!("gzip: {err}"));
                }
            }
        } else {
            body
        };
        // Bound the decoded size before decoding.
        let estimate = match encoding {
            Encoding::Protobuf => match protobuf_cost(&body) {
                Ok(estimate) => estimate,
                Err(err) => {
                    self.intake.refuse_request(ReceiverRefusal::Malformed);
                    return error(
                        encoding,
                        StatusCode::BAD_REQUEST,
                        &format!("not an ExportTraceServiceRequest: {err}"),
                    );
                }
            },
            Encoding::Json => json_cost(&body),
        };
        if let Err(over) = budget.charge(&mut charge, estimate.bytes) {
            return self.over_budget(encoding, over, estimate.spans);
        }
        let Some(_slot) = self.intake.slot() else {
            self.intake
                .refuse_spans(ReceiverRefusal::TooManyRequests, estimate.spans);
            return busy(encoding, "too many requests in flight; retry with backoff");
        };
        let request = match encoding {
            Encoding::Protobuf => {
                ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
            }
            Encoding::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&body)
                .map_err(|e| e.to_string()),
        };
        let request = match request {
            Ok(request) => request,
            Err(err) => {
                self.intake
                    .refuse_spans(ReceiverRefusal::Malformed, estimate.spans);
                return error(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    &format!("not an ExportTraceServiceRequest: {err}"),
                );
            }
        };
        match self.intake.deliver(request.resource_spans, client).await {
            Ok(()) => {
                let response = ExportTraceServiceResponse {
                    partial_success: None,
                };
                let body = match encoding {
                    Encoding::Protobuf => Bytes::from(response.encode_to_vec()),
                    Encoding::Json => Bytes::from_static(b"{}"),
                };
                respond(encoding, StatusCode::OK, body)
            }
            Err(Rejected::Busy) => busy(encoding, "the pipeline is full; retry with backoff"),
            Err(Rejected::ShuttingDown) => busy(encoding, "the collector is shutting down"),
            Err(Rejected::MemoryLimited) => busy(
                encoding,
                "the collector is above its memory limit (memory_limiter); retry with backoff",
            ),
        }
    }

    fn too_large(&self) -> String {
        format!("the request is larger than {} bytes", self.max_body)
    }

    /// Refuses a request of `spans` spans that does not fit the memory budget.
    fn over_budget(
        &self,
        encoding: Encoding,
        over: OverBudget,
        spans: usize,
    ) -> Response<Full<Bytes>> {
        match over {
            OverBudget::TooLarge => {
                self.intake.refuse_spans(ReceiverRefusal::TooLarge, spans);
                error(
                    encoding,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "the request would take more than the receiver's memory limit of {} bytes decoded",
                        self.intake.budget().total()
                    ),
                )
            }
            OverBudget::Busy => {
                self.intake
                    .refuse_spans(ReceiverRefusal::MemoryLimit, spans);
                busy(
                    encoding,
                    "the receiver's memory limit is held by other requests; retry with backoff",
                )
            }
        }
    }
}

/// Why a body could not be read or gunzipped.
enum Fail {
    /// Larger than `max_request_body_size`.
    TooLarge,
    /// Over the memory budget.
    Over(OverBudget),
    /// The stream broke (connection error, bad gzip).
    Broken(String),
}

/// Reads a body of at most `limit` bytes, charging `budget` before holding the bytes: the
/// declared `Content-Length` up front, or twice each chunk of a chunked body (buffer growth).
async fn read_body(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: &Budget,
    charge: &mut Charge,
) -> Result<Bytes, Fail> {
    let mut out = Vec::new();
    if let Some(n) = declared {
        let n = usize::try_from(n).map_err(|_| Fail::TooLarge)?;
        budget.charge(charge, n).map_err(Fail::Over)?;
        out.reserve_exact(n);
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Fail::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > limit {
            return Err(Fail::TooLarge);
        }
        if declared.is_none() {
            budget.charge(charge, 2 * data.len()).map_err(Fail::Over)?;
        }
        out.extend_from_slice(&data);
    }
    Ok(Bytes::from(out))
}

/// The media type of a `Content-Type` value, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decompresses at most `limit` bytes, calling `charge` with the size of each piece of memory
/// before it is taken (twice each chunk: buffer growth).
fn gunzip(
    body: &[u8],
    limit: usize,
    charge: &mut dyn FnMut(usize) -> Result<(), OverBudget>,
) -> Result<Vec<u8>, Fail> {
    const CHUNK: usize = 64 * 1024;
    let mut decoder = flate2::read::GzDecoder::new(body);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = decoder
            .read(&mut chunk)
            .map_err(|e| Fail::Broken(e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(Fail::TooLarge);
        }
        charge(2 * n).map_err(Fail::Over)?;
        out.extend_from_slice(&chunk[..n]);
    }
}

fn respond(encoding: Encoding, status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

fn error(encoding: Encoding, status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    // gRPC codes: INVALID_ARGUMENT for client errors, UNAVAILABLE for retryable ones.
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        14
    } else {
        3
    };
    let body = match encoding {
        Encoding::Protobuf => Bytes::from(
            RpcStatus {
                code,
                message: message.to_owned(),
            }
            .encode_to_vec(),
        ),
        Encoding::Json => {
            Bytes::from(serde_json::json!({ "code": code, "message": message }).to_string())
        }
    };
    respond(encoding, status, body)
}

fn busy(encoding: Encoding, message: &str) -> Response<Full<Bytes>> {
    let mut response = error(encoding, StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_ignores_parameters_and_case() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(
            media_type("application/x-protobuf"),
            "application/x-protobuf"
        );
    }

    #[test]
    fn gunzip_enforces_the_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        let mut free = |_| Ok(());
        assert_eq!(gunzip(&gz, 1000, &mut free).ok().unwrap().len(), 1000);
        assert!(matches!(gunzip(&gz, 999, &mut free), Err(Fail::TooLarge)));
        assert!(matches!(
            gunzip(b"not gzip", 1000, &mut free),
            Err(Fail::Broken(_))
        ));
        // Memory is charged before it is taken; a refusal stops the decompression.
        let mut charged = 0;
        assert!(matches!(
            gunzip(&gz, 1000, &mut |n| {
                charged += n;
                Err(OverBudget::Busy)
            }),
            Err(Fail::Over(OverBudget::Busy))
        ));
        assert_eq!(charged, 2000);
    }
}
