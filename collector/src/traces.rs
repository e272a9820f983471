//! The data that flows through a traces pipeline, shared by every stage: [`Traces`] (X-Ray
//! documents or OTLP resource spans), [`Segment`] and its [`SegmentIds`], and [`Refused`], why a
//! stage did not take data. It imports no other module of the crate, so receivers, processors,
//! queues, exporters and translators can all depend on it without an import circle.

use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

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
