//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on tonic.
//!
//! The service is written here rather than generated ([`OtlpGrpc`]), so that every step before
//! the handler is ours to bound and count:
//!
//! * connections come from [`crate::serve::incoming`] ([`LIMITS`]: a connection cap, an idle
//!   timeout, accept-error backoff), with at most [`STREAMS_PER_CONNECTION`] streams each;
//! * the in-flight slot is taken before the message is read;
//! * the budget (`budget.rs`) is charged as the message arrives ([`ChargedBody`]: twice each
//!   frame, for buffer growth), up front with `max_recv_msg_size_mib` for a compressed message
//!   (tonic inflates it into one buffer), and by the codec ([`AdmitCodec`]), which scans the
//!   message and charges its decoded size before decoding it;
//! * every refusal follows the OTLP retry rules and is counted with a reason: `INVALID_ARGUMENT`
//!   for malformed messages and messages over `max_recv_msg_size_mib` or over the whole budget
//!   (tonic's own `OUT_OF_RANGE` and `INTERNAL` decode answers are rewritten to it);
//!   `RESOURCE_EXHAUSTED` with `RetryInfo` when the budget is held by other requests;
//!   `UNAVAILABLE` when no slot is free, the pipeline is full or the collector stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Code, Status};

use super::budget::{Budget, Charge, OverBudget, protobuf_cost};
use super::config::OtlpGrpcConfig;
use super::tls::Pem;
use super::{Intake, RETRY_AFTER_SECS, Rejected};
use crate::pipeline::TracesSender;
use crate::serve::{Guarded, Limits};
use crate::telemetry::ReceiverRefusal;

/// Concurrent requests (HTTP/2 streams) served per connection.
pub const STREAMS_PER_CONNECTION: usize = 16;
/// Most client connections held at once; more are closed on accept and counted as
/// `too_many_connections`.
pub const MAX_CONNECTIONS: usize = 512;
/// The accept side's limits: [`MAX_CONNECTIONS`], and a connection silent for 60 s (no frame,
/// no ping; this includes a stalled TLS handshake) is closed. The server sends no keepalive
/// pings of its own: they would keep idle connections alive.
pub const LIMITS: Limits = Limits {
    max_connections: MAX_CONNECTIONS,
    ..Limits::DEFAULT
};
/// Largest header list a client may send.
const MAX_HEADER_LIST: u32 = 16 * 1024;
/// The path of the one method served.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A bound OTLP/gRPC server; [`GrpcServer::run`] serves it.
pub struct GrpcServer {
    listener: TcpListener,
    tls: Option<ServerTlsConfig>,
    max_message: usize,
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp().connect_info()
    }
}

impl GrpcServer {
    /// Reads TLS files and binds the listener of receiver `id`.
    pub async fn bind(id: &str, cfg: &OtlpGrpcConfig) -> anyhow::Result<GrpcServer> {
        let at = format!("receivers.{id}.protocols.grpc");
        let tls = match &cfg.tls {
            None => None,
            Some(tls) => {
                let pem = Pem::read(tls, &format!("{at}.tls"))?;
                // Fail at startup, naming the key, rather than on the first handshake.
                pem.rustls_config(&format!("{at}.tls"), &[])?;
                let mut config =
                    ServerTlsConfig::new().identity(Identity::from_pem(&pem.cert, &pem.key));
                if let Some(ca) = &pem.client_ca {
                    config = config.client_ca_root(Certificate::from_pem(ca));
                }
                Some(config)
            }
        };
        let endpoint = crate::telemetry::server::normalize(&cfg.endpoint);
        let listener = TcpListener::bind(&endpoint)
            .await
            .map_err(|e| anyhow::format_err!("{at}: cannot listen on TCP {endpoint}: {e}"))?;
        let mib = usize::try_from(cfg.max_recv_msg_size_mib).unwrap_or(usize::MAX);
        Ok(GrpcServer {
            listener,
            tls,
            max_message: mib.saturating_mul(1024 * 1024),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled; requests in progress are finished first.
    pub async fn run(
        self,
        sender: TracesSender,
        budget: Budget,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let receiver = sender.receiver().to_owned();
        let addr = self.listener.local_addr()?;
        let intake = Arc::new(Intake::new(sender, budget));
        let service = OtlpGrpc {
            intake: intake.clone(),
            max_message: self.max_message,
        };
        let mut builder = Server::builder();
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        tracing::info!(receiver = %receiver, address = %addr, "Receiving OTLP over gRPC.");
        let incoming = crate::serve::incoming(
            self.listener,
            LIMITS,
            Arc::new(move || intake.refuse_request(ReceiverRefusal::TooManyConnections)),
            format!("receivers.{receiver}.protocols.grpc"),
            shutdown.clone(),
        );
        builder
            .concurrency_limit_per_connection(STREAMS_PER_CONNECTION)
            .max_concurrent_streams(STREAMS_PER_CONNECTION as u32)
            .http2_max_header_list_size(MAX_HEADER_LIST)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled())
            .await
            .map_err(|e| anyhow::format_err!("receivers.{receiver}: gRPC server: {e}"))
    }
}

/// The `TraceService` of the receiver (see the module doc).
#[derive(Clone)]
pub struct OtlpGrpc {
    intake: Arc<Intake>,
    max_message: usize,
}

impl tonic::server::NamedService for OtlpGrpc {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> Service<http::Request<B>> for OtlpGrpc
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let intake = self.intake.clone();
        let max_message = self.max_message;
        Box::pin(async move {
            if req.uri().path() != EXPORT_PATH {
                return Ok(Status::unimplemented("only TraceService/Export is served").into_http());
            }
            let Some(_slot) = intake.slot() else {
                intake.refuse_request(ReceiverRefusal::TooManyRequests);
                return Ok(
                    Status::unavailable("too many requests in flight; retry with backoff")
                        .into_http(),
                );
            };
            // Set once the request is counted (by the codec or the handler).
            let counted = Arc::new(AtomicBool::new(false));
            let held = Arc::new(Held::default());
            // A compressed message is inflated into a buffer of up to max_message bytes before
            // the codec sees it: charge that up front.
            let compressed = req
                .headers()
                .get("grpc-encoding")
                .is_some_and(|v| v.as_bytes() != b"identity");
            if compressed {
                let result = {
                    let mut charge = held.lock();
                    intake.budget().charge(&mut charge, max_message)
                };
                if let Err(over) = result {
                    return Ok(over_budget(&intake, over, 1).into_http());
                }
            }
            let req = req.map(|body| ChargedBody {
                inner: Box::pin(body),
                budget: intake.budget().clone(),
                held: held.clone(),
            });
            let codec = AdmitCodec {
                intake: intake.clone(),
                counted: counted.clone(),
                held: held.clone(),
            };
            let mut grpc = tonic::server::Grpc::new(codec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max_message);
            let mut response = grpc
                .unary(
                    Export {
                        intake: intake.clone(),
                        counted: counted.clone(),
                    },
                    req,
                )
                .await;
            let over = *held.over.lock().unwrap_or_else(|e| e.into_inner());
            if let (false, Some(over)) = (counted.load(Ordering::Relaxed), over) {
                // The body did not fit the budget while it was read.
                return Ok(over_budget(&intake, over, 1).into_http());
            }
            if !counted.load(Ordering::Relaxed) {
                // Refused by tonic before the codec saw it: too large, or not decodable
                // (a broken frame or gzip stream). Neither is retryable.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(Code::from_i32);
                let reason = match code {
                    Some(Code::OutOfRange) => ReceiverRefusal::TooLarge,
                    _ => ReceiverRefusal::Malformed,
                };
                intake.refuse_request(reason);
                if matches!(code, Some(Code::OutOfRange | Code::Internal)) {
                    response.headers_mut().insert(
                        "grpc-status",
                        http::HeaderValue::from(Code::InvalidArgument as i32),
                    );
                }
            }
            Ok(response)
        })
    }
}

/// A decoded request, and the budget it holds until it is answered.
pub struct Admitted {
    request: ExportTraceServiceRequest,
    _held: Arc<Held>,
}

/// What one request holds of the budget (its body as read, the decoded estimate), and whether
/// reading its body went over the budget.
#[derive(Default)]
pub struct Held {
    charge: std::sync::Mutex<Charge>,
    over: std::sync::Mutex<Option<OverBudget>>,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, Charge> {
        self.charge.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request body that charges the budget for each frame (twice: buffer growth) before tonic
/// buffers it, and fails the read when it does not fit.
struct ChargedBody<B> {
    inner: std::pin::Pin<Box<B>>,
    budget: Budget,
    held: Arc<Held>,
}

impl<B> tonic::codegen::Body for ChargedBody<B>
where
    B: tonic::codegen::Body,
    B::Error: Into<StdError>,
{
    type Data = B::Data;
    type Error = StdError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, StdError>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.remaining());
                let result = {
                    let mut charge = self.held.lock();
                    self.budget.charge(&mut charge, 2 * n)
                };
                match result {
                    Ok(()) => Poll::Ready(Some(Ok(frame))),
                    Err(over) => {
                        *self.held.over.lock().unwrap_or_else(|e| e.into_inner()) = Some(over);
                        Poll::Ready(Some(Err("over the receiver's memory limit".into())))
                    }
                }
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

/// Counts and answers a request that does not fit the budget.
fn over_budget(intake: &Intake, over: OverBudget, spans: usize) -> Status {
    match over {
        OverBudget::TooLarge => {
            intake.refuse_spans(ReceiverRefusal::TooLarge, spans);
            Status::invalid_argument(format!(
                "the request would take more than the receiver's memory limit of {} bytes",
                intake.budget().total()
            ))
        }
        OverBudget::Busy => {
            intake.refuse_spans(ReceiverRefusal::MemoryLimit, spans);
            resource_exhausted(
                "the receiver's memory limit is held by other requests; retry with backoff",
            )
        }
    }
}

/// The codec of `Export`: scans, charges the budget, then decodes (see the module doc).
struct AdmitCodec {
    intake: Arc<Intake>,
    counted: Arc<AtomicBool>,
    held: Arc<Held>,
}

impl Codec for AdmitCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Admitted;
    type Encoder = ResponseEncoder;
    type Decoder = AdmitDecoder;

    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> AdmitDecoder {
        AdmitDecoder {
            intake: self.intake.clone(),
            counted: self.counted.clone(),
            held: self.held.clone(),
        }
    }
}

struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

struct AdmitDecoder {
    intake: Arc<Intake>,
    counted: Arc<AtomicBool>,
    held: Arc<Held>,
}

impl AdmitDecoder {
    fn refuse(&self, reason: ReceiverRefusal, spans: usize, status: Status) -> Status {
        self.counted.store(true, Ordering::Relaxed);
        self.intake.refuse_spans(reason, spans);
        status
    }
}

impl Decoder for AdmitDecoder {
    type Item = Admitted;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Admitted>, Status> {
        let body: Bytes = src.copy_to_bytes(src.remaining());
        let estimate = protobuf_cost(&body).map_err(|e| {
            self.refuse(
                ReceiverRefusal::Malformed,
                1,
                Status::invalid_argument(format!("not an ExportTraceServiceRequest: {e}")),
            )
        })?;
        let cost = body.len().saturating_add(estimate.bytes);
        let result = {
            let mut charge = self.held.lock();
            self.intake.budget().charge(&mut charge, cost)
        };
        if let Err(over) = result {
            self.counted.store(true, Ordering::Relaxed);
            return Err(over_budget(&self.intake, over, estimate.spans));
        }
        let request = ExportTraceServiceRequest::decode(body).map_err(|e| {
            self.refuse(
                ReceiverRefusal::Malformed,
                estimate.spans,
                Status::invalid_argument(format!("not an ExportTraceServiceRequest: {e}")),
            )
        })?;
        Ok(Some(Admitted {
            request,
            _held: self.held.clone(),
        }))
    }
}

/// `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` detail: OTLP's retryable form of it.
fn resource_exhausted(message: &str) -> Status {
    #[derive(Clone, PartialEq, prost::Message)]
    struct PbDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<PbDuration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    let retry = RetryInfo {
        retry_delay: Some(PbDuration {
            seconds: RETRY_AFTER_SECS as i64,
        }),
    };
    let details = RpcStatus {
        code: Code::ResourceExhausted as i32,
        message: message.to_owned(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".to_owned(),
            value: retry.encode_to_vec(),
        }],
    };
    Status::with_details(
        Code::ResourceExhausted,
        message,
        Bytes::from(details.encode_to_vec()),
    )
}

/// The `Export` handler: passes the admitted spans on.
struct Export {
    intake: Arc<Intake>,
    counted: Arc<AtomicBool>,
}

impl tonic::server::UnaryService<Admitted> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<tonic::Response<ExportTraceServiceResponse>, Status>;

    fn call(&mut self, request: tonic::Request<Admitted>) -> Self::Future {
        let (intake, counted) = (self.intake.clone(), self.counted.clone());
        Box::pin(async move {
            let client = request.remote_addr().map(|a| a.ip());
            let admitted = request.into_inner();
            counted.store(true, Ordering::Relaxed);
            let result = intake
                .deliver(admitted.request.resource_spans, client)
                .await;
            match result {
                Ok(()) => Ok(tonic::Response::new(ExportTraceServiceResponse {
                    partial_success: None,
                })),
                Err(Rejected::Busy) => Err(Status::unavailable(
                    "the pipeline is full; retry with backoff",
                )),
                Err(Rejected::ShuttingDown) => {
                    Err(Status::unavailable("the collector is shutting down"))
                }
                Err(Rejected::MemoryLimited) => Err(resource_exhausted(
                    "the collector is above its memory limit (memory_limiter); retry with backoff",
                )),
            }
        })
    }
}
