//! The data that flows through a traces pipeline, and the handle components use to pass it on.
//!
//! A pipeline carries [`Traces`]: either raw X-Ray segment documents (the UDP receiver's output,
//! never re-serialized) or OTLP resource spans (the OTLP receiver's output). Exporters take whichever
//! they understand natively and translate the other; nothing is converted on the way.
//!
//! [`Consumer`] is the input of the next stage: a processor's channel, an exporter's queue, or a
//! fan-out to several of them. It offers an awaiting [`Consumer::send`] (backpressure, for callers
//! that can wait, like OTLP servers and processors) and a non-blocking [`Consumer::try_send`] (for
//! the UDP receiver, which cannot push back); every refusal is counted by the stage that refused.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::sync::mpsc;

use crate::exporters::queue::ExporterQueue;
use crate::telemetry::Telemetry;

/// What flows through a traces pipeline.
#[derive(Clone, Debug)]
pub enum Traces {
    /// Raw X-Ray segment documents (UDP header stripped), never re-serialized.
    XRay(Vec<Segment>),
    /// OTLP resource spans as received.
    Otlp(Vec<ResourceSpans>),
}

impl Traces {
    /// Items: X-Ray documents, or OTLP spans.
    pub fn item_count(&self) -> usize {
        match self {
            Traces::XRay(segments) => segments.len(),
            Traces::Otlp(resource_spans) => resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
        }
    }

    /// Approximate size in memory of the payload, for byte-sized queues.
    pub fn byte_size(&self) -> usize {
        match self {
            Traces::XRay(segments) => segments.iter().map(|s| s.body.len()).sum(),
            Traces::Otlp(resource_spans) => {
                use prost::Message;
                resource_spans.iter().map(|rs| rs.encoded_len()).sum()
            }
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.item_count() == 0
    }
}

/// One X-Ray segment (or independent subsegment) document.
#[derive(Clone, Debug)]
pub struct Segment {
    /// The document, byte for byte as the client sent it after the header line.
    pub body: Bytes,
    /// The document's ids, checked by the receiver, kept for logs and retries.
    pub ids: SegmentIds,
    /// When the collector received it.
    pub received_at: Instant,
}

/// The `id` and `trace_id` of a document, as ASCII.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SegmentIds {
    id: [u8; 16],
    trace_id: [u8; 35],
}

impl SegmentIds {
    /// Builds ids from checked strings: `id` is 16 hex digits and `trace_id` is
    /// `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx` (an empty trace id is stored as zeros).
    pub fn new(id: &str, trace_id: &str) -> Option<SegmentIds> {
        let id: [u8; 16] = id.as_bytes().try_into().ok()?;
        let trace_id: [u8; 35] = if trace_id.is_empty() {
            [0; 35]
        } else {
            trace_id.as_bytes().try_into().ok()?
        };
        Some(SegmentIds { id, trace_id })
    }

    /// The 16-hex-digit segment id.
    pub fn id(&self) -> &str {
        std::str::from_utf8(&self.id).unwrap_or("")
    }

    /// The trace id, or `""` for an embedded document without one.
    pub fn trace_id(&self) -> &str {
        if self.trace_id[0] == 0 {
            ""
        } else {
            std::str::from_utf8(&self.trace_id).unwrap_or("")
        }
    }
}

impl std::fmt::Debug for SegmentIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id(), self.trace_id())
    }
}

/// Why a stage did not take data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The stage's queue is full (only from `try_send`, or from a queue that refuses when full).
    #[error("the next stage is full")]
    Full,
    /// The stage has shut down.
    #[error("the next stage has shut down")]
    Closed,
}

/// The input of a pipeline stage. Cloneable; a clone is another sender into the same stage.
#[derive(Clone)]
pub enum Consumer {
    /// A processor's bounded input channel.
    Processor(ProcessorInput),
    /// An exporter's sending queue.
    Exporter(ExporterQueue),
    /// Several stages (pipelines sharing a receiver, or a pipeline with several exporters). Each
    /// gets its own copy; segment bodies are shared, not copied.
    Fanout(Arc<[Consumer]>),
}

/// The bounded channel in front of a processor, with the labels its refusals are counted under.
#[derive(Clone)]
pub struct ProcessorInput {
    pub tx: mpsc::Sender<Traces>,
    pub processor: Arc<str>,
    pub pipeline: Arc<str>,
    pub telemetry: Telemetry,
}

impl Consumer {
    /// Builds a consumer over several stages; one stage is used directly.
    pub fn fanout(mut stages: Vec<Consumer>) -> Consumer {
        if stages.len() == 1 {
            stages.remove(0)
        } else {
            Consumer::Fanout(stages.into())
        }
    }

    /// Passes `traces` on, waiting for room. Fails only if a stage has shut down, or an exporter
    /// queue that refuses when full (the collector's default) is full.
    pub async fn send(&self, traces: Traces) -> Result<(), Refused> {
        match self {
            Consumer::Processor(input) => input.tx.send(traces).await.map_err(|_| Refused::Closed),
            Consumer::Exporter(queue) => queue.send(traces).await,
            Consumer::Fanout(stages) => {
                let mut result = Ok(());
                let last = stages.len().saturating_sub(1);
                let mut traces = Some(traces);
                for (i, stage) in stages.iter().enumerate() {
                    let copy = if i == last {
                        traces.take()
                    } else {
                        traces.clone()
                    };
                    if let Some(copy) = copy {
                        if let Err(e) = Box::pin(stage.send(copy)).await {
                            result = Err(e);
                        }
                    }
                }
                result
            }
        }
    }

    /// Passes `traces` on without waiting. A full processor channel refuses and counts the items
    /// (`processor_refused_items`); a full exporter queue counts them as dropped.
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        match self {
            Consumer::Processor(input) => match input.tx.try_send(traces) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(t)) => {
                    input.telemetry.processor_refused(
                        &input.processor,
                        &input.pipeline,
                        "full",
                        t.item_count(),
                    );
                    Err(Refused::Full)
                }
                Err(mpsc::error::TrySendError::Closed(t)) => {
                    input.telemetry.processor_refused(
                        &input.processor,
                        &input.pipeline,
                        "closed",
                        t.item_count(),
                    );
                    Err(Refused::Closed)
                }
            },
            Consumer::Exporter(queue) => queue.try_send(traces),
            Consumer::Fanout(stages) => {
                let mut result = Ok(());
                let last = stages.len().saturating_sub(1);
                let mut traces = Some(traces);
                for (i, stage) in stages.iter().enumerate() {
                    let copy = if i == last {
                        traces.take()
                    } else {
                        traces.clone()
                    };
                    if let Some(copy) = copy {
                        if let Err(e) = stage.try_send(copy) {
                            result = Err(e);
                        }
                    }
                }
                result
            }
        }
    }
}

/// The handle a receiver holds: the consumer of every pipeline it feeds, plus its own counters
/// (`receiver_accepted_items`, `receiver_refused_items`).
#[derive(Clone)]
pub struct TracesSender {
    receiver: Arc<str>,
    next: Consumer,
    telemetry: Telemetry,
}

impl TracesSender {
    /// A sender for the receiver `receiver` (its `type[/name]` id).
    pub fn new(receiver: &str, next: Consumer, telemetry: Telemetry) -> TracesSender {
        TracesSender {
            receiver: receiver.into(),
            next,
            telemetry,
        }
    }

    /// The receiver id this sender counts under.
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// The collector's counters.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Sends with backpressure: waits until every pipeline has taken the data.
    pub async fn send(&self, traces: Traces) -> Result<(), Refused> {
        let n = traces.item_count();
        let result = self.next.send(traces).await;
        self.count(n, result);
        result
    }

    /// Sends without waiting; what a full pipeline refuses is counted, never silently lost.
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        let n = traces.item_count();
        let result = self.next.try_send(traces);
        self.count(n, result);
        result
    }

    fn count(&self, n: usize, result: Result<(), Refused>) {
        match result {
            Ok(()) => self.telemetry.receiver_accepted(&self.receiver, n),
            Err(Refused::Full) => {
                self.telemetry
                    .receiver_refused(&self.receiver, "pipeline_full", n)
            }
            Err(Refused::Closed) => self
                .telemetry
                .receiver_refused(&self.receiver, "shutdown", n),
        }
    }
}
