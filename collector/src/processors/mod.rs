//! Processors. A processor instance belongs to one pipeline (as in the collector) and is one of
//! two kinds, chosen by its config's [`ProcessorConfig::build`]:
//!
//! * a task processor ([`Processor::Task`], `batch`): its own task reading a bounded channel, in
//!   front of which the pipeline's refusals are counted (`reason="full"`);
//! * an inline processor ([`Processor::Inline`], every other one): an [`InlineProcessor`] run
//!   synchronously in the caller's own `send`/`try_send` (`consumer::Consumer::Inline`), as
//!   contrib runs its processors. That is what lets `memory_limiter` refuse data back to the
//!   receiver: OTLP answers a retryable error, the UDP receiver counts the refusal.
//!
//! The contract of [`InlineProcessor::process`]: `Ok(Some(traces))` passes (possibly edited or
//! fewer) items on; `Ok(None)` means everything was filtered out; `Err(Refused)` refuses the
//! whole batch, counted under `processor_refused_items{processor,pipeline,reason}` (e.g.
//! `memory_limit`). Items removed on purpose are counted by the stage under
//! `processor_dropped_items{reason}` (the processor's [`InlineProcessor::drop_reason`]).
//!
//! Who sent the data: `traces::Segment::source` (UDP datagrams), `traces::otlp_client()` (OTLP,
//! during `process` only; see `traces`).
//!
//! Resources of X-Ray documents: an inline processor that edits resources says so with
//! [`InlineProcessor::changes_resource`]; on an X-Ray document it edits
//! `traces::Segment::resource` (OTLP spans: `ResourceSpans::resource` directly). After the last
//! resource-changing processor of a pipeline the wiring (`service::wire_pipelines`) inserts the
//! internal [`stamp`] stage, which writes that resource into each document's top level (the
//! `aws.eks` block, `origin`, resource attributes as metadata) and clears it. Pipelines without a
//! resource-changing processor leave documents byte for byte.
//!
//! [`xray_doc`] reads and edits documents' top level without parsing the whole tree; [`view`]
//! reads a span's fields (OTLP or X-Ray) for `filter` and `attributes`' matching; [`attraction`]
//! is the attribute action list of `resource` and `attributes`.
//!
//! A processor's config implements [`ProcessorConfig`] (and `config::component::Component`); the
//! registry (`crate::registry`) lists the types.

pub mod attraction;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod k8sattributes;
pub mod memory_limiter;
pub mod probabilistic_sampler;
pub mod resource;
pub mod resource_edit;
pub mod resourcedetection;
pub mod stamp;
pub mod view;
pub mod xray_doc;

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::component::AsAny;
use crate::config::id::ComponentId;
use crate::consumer::Consumer;
use crate::telemetry::{ProcessorDrop, Telemetry};
use crate::traces::{Refused, Traces};

/// A processor run synchronously in the caller's call (see the module doc).
pub trait InlineProcessor: Send + Sync + 'static {
    /// Processes one batch: `Ok(Some)` passes items on, `Ok(None)` means all were filtered out,
    /// `Err` refuses the whole batch.
    fn process(&self, traces: Traces) -> Result<Option<Traces>, Refused>;

    /// Whether it edits resources (then the pipeline stamps X-Ray documents after it).
    fn changes_resource(&self) -> bool {
        false
    }

    /// The `reason` under which the items it removes are counted.
    fn drop_reason(&self) -> ProcessorDrop {
        ProcessorDrop::Filtered
    }
}

/// Spawns a task processor into the service's processor tasks, given its slot.
pub type SpawnTask = Box<dyn FnOnce(ProcessorSlot, &mut JoinSet<()>) + Send>;

/// What a processor config builds for one pipeline.
pub enum Processor {
    /// A task reading a bounded channel: called once with its slot.
    Task(SpawnTask),
    /// An inline processor.
    Inline(Arc<dyn InlineProcessor>),
}

/// What building a processor instance may use.
pub struct BuildContext<'a> {
    /// The processor id (`type[/name]`).
    pub processor: Arc<str>,
    /// The pipeline id.
    pub pipeline: Arc<str>,
    /// The collector's counters.
    pub telemetry: Telemetry,
    /// The pipeline's processor list, and this processor's position in it.
    pub processors: &'a [ComponentId],
    pub position: usize,
    /// Cancelled when the collector has stopped (background tasks of a processor end with it).
    pub stop: CancellationToken,
}

impl BuildContext<'_> {
    /// A build error of this processor.
    pub fn error(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> BuildError {
        BuildError {
            processor: self.processor.to_string(),
            pipeline: self.pipeline.to_string(),
            cause: cause.into(),
        }
    }
}

/// A processor that cannot start, reported at startup.
#[derive(Debug, thiserror::Error)]
#[error("processors.{processor} (in pipeline `{pipeline}`) cannot start: {cause}")]
pub struct BuildError {
    pub processor: String,
    pub pipeline: String,
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

/// One task processor instance's place in a pipeline.
pub struct ProcessorSlot {
    /// The processor id.
    pub processor: Arc<str>,
    /// The pipeline id.
    pub pipeline: Arc<str>,
    /// Its input.
    pub input: mpsc::Receiver<Traces>,
    /// The next stage.
    pub next: Consumer,
    /// The collector's counters.
    pub telemetry: Telemetry,
}

/// A processor's config, type-erased: builds one instance per pipeline.
pub trait ProcessorConfig: AsAny + fmt::Debug {
    /// Builds the instance of pipeline `ctx.pipeline`.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError>;
}
