//! The `otlp` receiver: OTLP traces over gRPC (`TraceService/Export`) and HTTP (`POST /v1/traces`,
//! protobuf or JSON).
//!
//! Backpressure reaches the client: a request is answered only after every pipeline has taken its
//! spans (an awaiting [`TracesSender::send`]), so a slow exporter slows senders down instead of
//! filling memory. The collector holds at most [`MAX_IN_FLIGHT`] requests per protocol; beyond
//! that, and when the pipeline does not take the data within [`SEND_TIMEOUT`] or refuses it, the
//! client gets OTLP's retryable answer (gRPC `UNAVAILABLE`, HTTP `503` with `Retry-After`).
//! Malformed or oversized requests get the non-retryable answer (gRPC `INVALID_ARGUMENT` /
//! `RESOURCE_EXHAUSTED` from the decoder's size limit, HTTP `400` / `413` / `415`).
//! Every span is counted as received, then accepted or refused with a reason.

pub mod config;
pub mod grpc;
pub mod http;
mod tls;

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::sync::Semaphore;

use self::config::OtlpReceiverConfig;
use super::{ReceiverConfig, ReceiverContext};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::pipeline::TracesSender;
use crate::telemetry::ReceiverRefusal;
use crate::traces::{Refused, Traces};

impl ReceiverConfig for OtlpReceiverConfig {
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        sender: TracesSender,
        ctx: &'a mut ReceiverContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let name = id.to_string();
            if let Some(grpc) = &self.protocols.grpc {
                let server = grpc::GrpcServer::bind(&name, grpc).await?;
                let (sender, stop, name) =
                    (sender.clone(), ctx.stop_receivers.clone(), name.clone());
                ctx.tasks.spawn(async move {
                    if let Err(e) = server.run(sender, stop).await {
                        tracing::error!(receiver = %name, error = %e, "OTLP/gRPC server failed.");
                    }
                });
            }
            if let Some(http) = &self.protocols.http {
                let server = http::HttpServer::bind(&name, http).await?;
                ctx.tasks
                    .spawn(server.run(sender, ctx.stop_receivers.clone()));
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
}

/// Shared by the gRPC and HTTP servers: counting and the backpressured hand-off.
pub(crate) struct Intake {
    sender: TracesSender,
    in_flight: Semaphore,
}

impl Intake {
    pub(crate) fn new(sender: TracesSender) -> Intake {
        Intake {
            sender,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    /// The receiver id.
    pub(crate) fn receiver(&self) -> &str {
        self.sender.receiver()
    }

    /// Reserves a request slot, or `None` when [`MAX_IN_FLIGHT`] requests are already held.
    pub(crate) fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.in_flight.try_acquire().ok()
    }

    /// Counts a request that was refused before its spans could be read.
    pub(crate) fn refuse_request(&self, reason: ReceiverRefusal) {
        self.sender
            .telemetry()
            .receiver_refused(self.sender.receiver(), reason, 1);
    }

    /// Passes the spans on, waiting for the pipeline for at most [`SEND_TIMEOUT`].
    pub(crate) async fn deliver(&self, resource_spans: Vec<ResourceSpans>) -> Result<(), Rejected> {
        let traces = Traces::Otlp(resource_spans);
        let n = traces.item_count();
        let telemetry = self.sender.telemetry();
        telemetry.receiver_received(self.sender.receiver(), n);
        if n == 0 {
            return Ok(());
        }
        match tokio::time::timeout(SEND_TIMEOUT, self.sender.send(traces)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Refused::Full)) => Err(Rejected::Busy),
            Ok(Err(Refused::Closed)) => Err(Rejected::ShuttingDown),
            Err(_) => {
                telemetry.receiver_refused(
                    self.sender.receiver(),
                    ReceiverRefusal::PipelineTimeout,
                    n,
                );
                Err(Rejected::Busy)
            }
        }
    }
}
