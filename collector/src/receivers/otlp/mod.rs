//! The `otlp` receiver: OTLP traces over gRPC (`TraceService/Export`, `grpc.rs`) and HTTP
//! (`POST /v1/traces`, protobuf or JSON, `http.rs`).
//!
//! What a client can make the collector hold is bounded:
//!
//! * memory, in decoded terms: every request's decoded size is bounded from its bytes before it
//!   is decoded and charged to one [`budget::Budget`] shared by the receiver's gRPC and HTTP
//!   requests (`memory_limit_mib`, formula and default in `budget.rs`);
//! * requests: at most [`MAX_IN_FLIGHT`] per protocol are decoded or wait for the pipeline. On
//!   HTTP the slot is taken after the body is read, so slow bodies hold budget, not slots;
//! * connections: both protocols accept through `crate::serve` (connection cap, idle timeout,
//!   accept-error backoff).
//!
//! Backpressure reaches the client: a request is answered only after every pipeline has taken its
//! spans (an awaiting [`TracesSender::send`]), so a slow exporter slows senders down instead of
//! filling memory. The hand-off runs inside `traces::with_otlp_client`, so inline processors
//! (`k8sattributes`) can read the request's peer address. A busy receiver (no slot, budget held by others, full pipeline, no answer
//! within [`SEND_TIMEOUT`]) gives OTLP's retryable answer (gRPC `UNAVAILABLE`, or
//! `RESOURCE_EXHAUSTED` with `RetryInfo` for the memory budget; HTTP `503` with `Retry-After`).
//! Malformed or oversized requests get the non-retryable answer (gRPC `INVALID_ARGUMENT`, HTTP
//! `400` / `413` / `415`).
//!
//! Accounting: every request is counted once in `receiver_received_requests` and once in either
//! `receiver_accepted_requests` or `receiver_refused_requests{reason}`. Items: a request's spans
//! are counted as received, then accepted or refused; a request refused before its spans could
//! be counted (malformed, too large, busy) counts as one item received and refused (or as its
//! span count when the pre-decode scan found it). So received = accepted + refused holds for
//! items and for requests.

pub mod budget;
pub mod config;
pub mod grpc;
pub mod http;
mod tls;

use std::net::IpAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::sync::Semaphore;

use self::budget::Budget;
use self::config::OtlpReceiverConfig;
use super::{ReceiverConfig, ReceiverContext};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::pipeline::TracesSender;
use crate::telemetry::ReceiverRefusal;
use crate::traces::{Refused, Traces, with_otlp_client};

impl ReceiverConfig for OtlpReceiverConfig {
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        sender: TracesSender,
        ctx: &'a mut ReceiverContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let name = id.to_string();
            let min_mib = self
                .protocols
                .grpc
                .as_ref()
                .map_or(1, |g| g.max_recv_msg_size_mib.saturating_mul(2));
            let limit_mib = match self.memory_limit_mib {
                Some(mib) => mib,
                None => {
                    let container = budget::container_memory_limit();
                    let mib = budget::derived_limit_mib(container, min_mib);
                    tracing::info!(receiver = %name, memory_limit_mib = mib, container_limit_bytes = ?container, "OTLP receiver memory budget derived from the container's memory limit.");
                    mib
                }
            };
            let budget = budget::Budget::new(limit_mib.saturating_mul(1024 * 1024));
            if let Some(grpc) = &self.protocols.grpc {
                let server = grpc::GrpcServer::bind(&name, grpc).await?;
                let (sender, stop, name, budget) = (
                    sender.clone(),
                    ctx.stop_receivers.clone(),
                    name.clone(),
                    budget.clone(),
                );
                ctx.tasks.spawn(async move {
                    if let Err(e) = server.run(sender, budget, stop).await {
                        tracing::error!(receiver = %name, error = %e, "OTLP/gRPC server failed.");
                    }
                });
            }
            if let Some(http) = &self.protocols.http {
                let server = http::HttpServer::bind(&name, http).await?;
                ctx.tasks
                    .spawn(server.run(sender, budget, ctx.stop_receivers.clone()));
            }
            Ok(())
        })
    }
}

/// Requests being decoded or waiting for the pipeline, per protocol server.
pub const MAX_IN_FLIGHT: usize = 64;
/// How long a request may wait for the pipeline before the client is told to retry.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The `Retry-After` the HTTP server sends with `503`, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Why spans were not passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Too many requests in flight, a full pipeline or a timeout: the client should retry.
    Busy,
    /// The collector is shutting down: the client should retry elsewhere or later.
    ShuttingDown,
    /// A `memory_limiter` processor refused the spans: the client should retry with backoff
    /// (gRPC `RESOURCE_EXHAUSTED` with `RetryInfo`, HTTP `503` with `Retry-After`).
    MemoryLimited,
}

/// Shared by the gRPC and HTTP servers: counting, the memory budget and the backpressured
/// hand-off.
pub(crate) struct Intake {
    sender: TracesSender,
    in_flight: Semaphore,
    budget: Budget,
}

impl Intake {
    pub(crate) fn new(sender: TracesSender, budget: Budget) -> Intake {
        Intake {
            sender,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            budget,
        }
    }

    /// The receiver id.
    pub(crate) fn receiver(&self) -> &str {
        self.sender.receiver()
    }

    /// The receiver's memory budget.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Reserves a request slot, or `None` when [`MAX_IN_FLIGHT`] requests are already held.
    pub(crate) fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.in_flight.try_acquire().ok()
    }

    /// Counts a request refused before its spans could be counted: one request, one item.
    pub(crate) fn refuse_request(&self, reason: ReceiverRefusal) {
        self.refuse_spans(reason, 1);
    }

    /// Counts a request of `spans` spans (at least one item) refused before decoding.
    pub(crate) fn refuse_spans(&self, reason: ReceiverRefusal, spans: usize) {
        let telemetry = self.sender.telemetry();
        let receiver = self.sender.receiver();
        let n = spans.max(1);
        self.sender.counters().received(n);
        telemetry.receiver_refused(receiver, reason, n);
        telemetry.receiver_request(receiver, Err(reason));
    }

    /// Passes the spans on, waiting for the pipeline for at most [`SEND_TIMEOUT`]; counts the
    /// request and its spans. `client` is the request's peer address, readable by inline
    /// processors through `traces::otlp_client`.
    pub(crate) async fn deliver(
        &self,
        resource_spans: Vec<ResourceSpans>,
        client: Option<IpAddr>,
    ) -> Result<(), Rejected> {
        let traces = Traces::Otlp(resource_spans);
        let n = traces.item_count();
        let telemetry = self.sender.telemetry();
        let receiver = self.sender.receiver();
        self.sender.counters().received(n);
        if n == 0 {
            telemetry.receiver_request(receiver, Ok(()));
            return Ok(());
        }
        let (result, outcome) = match tokio::time::timeout(
            SEND_TIMEOUT,
            with_otlp_client(client, self.sender.send(traces)),
        )
        .await
        {
            Ok(Ok(())) => (Ok(()), Ok(())),
            Ok(Err(Refused::Full)) => (Err(Rejected::Busy), Err(ReceiverRefusal::PipelineFull)),
            Ok(Err(Refused::Closed)) => {
                (Err(Rejected::ShuttingDown), Err(ReceiverRefusal::Shutdown))
            }
            Ok(Err(Refused::MemoryLimited)) => (
                Err(Rejected::MemoryLimited),
                Err(ReceiverRefusal::MemoryLimit),
            ),
            Err(_) => {
                telemetry.receiver_refused(receiver, ReceiverRefusal::PipelineTimeout, n);
                (Err(Rejected::Busy), Err(ReceiverRefusal::PipelineTimeout))
            }
        };
        telemetry.receiver_request(receiver, outcome);
        result
    }
}
