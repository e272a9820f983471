//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on tonic.

use std::net::SocketAddr;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use super::config::OtlpGrpcConfig;
use super::tls::Pem;
use super::{Intake, Rejected};
use crate::pipeline::TracesSender;
use crate::telemetry::ReceiverRefusal;

/// Concurrent requests (HTTP/2 streams) served per connection.
const STREAMS_PER_CONNECTION: usize = 16;

/// A bound OTLP/gRPC server; [`GrpcServer::run`] serves it.
pub struct GrpcServer {
    listener: TcpListener,
    tls: Option<ServerTlsConfig>,
    max_message: usize,
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
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let receiver = sender.receiver().to_owned();
        let addr = self.listener.local_addr()?;
        let service = TraceServiceServer::new(OtlpTraceService {
            intake: Arc::new(Intake::new(sender)),
        })
        .max_decoding_message_size(self.max_message)
        .accept_compressed(CompressionEncoding::Gzip);
        let mut builder = Server::builder();
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        tracing::info!(receiver = %receiver, address = %addr, "Receiving OTLP over gRPC.");
        builder
            .concurrency_limit_per_connection(STREAMS_PER_CONNECTION)
            .add_service(service)
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener), shutdown.cancelled())
            .await
            .map_err(|e| anyhow::format_err!("receivers.{receiver}: gRPC server: {e}"))
    }
}

struct OtlpTraceService {
    intake: Arc<Intake>,
}

#[tonic::async_trait]
impl TraceService for OtlpTraceService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let Some(_slot) = self.intake.slot() else {
            self.intake.refuse_request(ReceiverRefusal::TooManyRequests);
            return Err(Status::unavailable(
                "too many requests in flight; retry with backoff",
            ));
        };
        match self
            .intake
            .deliver(request.into_inner().resource_spans)
            .await
        {
            Ok(()) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success: None,
            })),
            Err(Rejected::Busy) => Err(Status::unavailable(
                "the pipeline is full; retry with backoff",
            )),
            Err(Rejected::ShuttingDown) => {
                Err(Status::unavailable("the collector is shutting down"))
            }
        }
    }
}
