//! Receivers: `awsxray` (X-Ray segments over UDP, and the sampling proxy) and `otlp` (gRPC and
//! HTTP). Each receiver instance is built once and feeds every pipeline that names it through one
//! [`crate::pipeline::TracesSender`].
//!
//! A receiver's config implements [`ReceiverConfig`] (and `config::component::Component`); the
//! registry (`crate::registry`) lists the types.

pub mod awsxray;
pub mod otlp;

use std::fmt;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::component::{AsAny, BoxFuture};
use crate::config::id::ComponentId;
use crate::pipeline::TracesSender;
use crate::telemetry::Telemetry;

/// What a receiver's start needs from the service.
pub struct ReceiverContext {
    /// The collector's counters.
    pub telemetry: Telemetry,
    /// Cancelled when receivers must stop taking data (they drain, then drop their senders).
    pub stop_receivers: CancellationToken,
    /// Cancelled when the auxiliary servers (carrying no trace data) must stop.
    pub stop_servers: CancellationToken,
    /// The tasks that carry trace data; shutdown waits for them.
    pub tasks: JoinSet<()>,
}

/// A receiver's config, type-erased: binds its sockets and spawns its tasks.
pub trait ReceiverConfig: AsAny + fmt::Debug {
    /// Binds and starts receiver `id`, feeding `sender`; returns once it listens.
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        sender: TracesSender,
        ctx: &'a mut ReceiverContext,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}
