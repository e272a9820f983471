//! The data that flows through a traces pipeline, shared by every stage: [`Traces`] (X-Ray
//! documents or OTLP resource spans), [`Segment`] and its [`SegmentIds`], and [`Refused`], why a
//! stage did not take data. It imports no other module of the crate, so receivers, processors,
//! queues, exporters and translators can all depend on it without an import circle.
//!
//! Where the sender of data is known, processors can read it (`k8sattributes` looks pods up by
//! it): an X-Ray document carries its datagram's source address in [`Segment::source`]; OTLP
//! spans carry nothing in the data itself: the OTLP receivers run the pipeline hand-off inside
//! [`with_otlp_client`], and an inline processor reads the client's address with
//! [`otlp_client`] while it processes (inline processors run in the receiver's own call). A
//! task processor (`batch`) runs in its own task, so after it the client is unknown, as in
//! contrib: put `k8sattributes` before `batch`.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::KeyValue;
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

    /// Approximate size in memory of the payload, for byte-sized queues (`sizer: bytes`): the
    /// documents' bytes for X-Ray; for OTLP the decoded size, every struct plus its strings and
    /// bytes (not the encoded size: an empty span is 2 bytes encoded, a whole `Span` decoded).
    pub fn byte_size(&self) -> usize {
        match self {
            Traces::XRay(segments) => segments.iter().map(|s| s.body.len()).sum(),
            Traces::Otlp(resource_spans) => otlp_decoded_size(resource_spans),
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.item_count() == 0
    }
}

/// The decoded size of OTLP resource spans: structs (by `size_of`) plus string and bytes lengths.
fn otlp_decoded_size(resource_spans: &[ResourceSpans]) -> usize {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};
    use std::mem::size_of;

    fn any(v: &AnyValue) -> usize {
        match &v.value {
            Some(Value::StringValue(s)) => s.len(),
            Some(Value::BytesValue(b)) => b.len(),
            Some(Value::ArrayValue(a)) => a
                .values
                .iter()
                .map(|v| size_of::<AnyValue>() + any(v))
                .sum(),
            Some(Value::KvlistValue(l)) => attributes(&l.values),
            _ => 0,
        }
    }
    fn attributes(kvs: &[KeyValue]) -> usize {
        kvs.iter()
            .map(|kv| size_of::<KeyValue>() + kv.key.len() + kv.value.as_ref().map_or(0, any))
            .sum()
    }
    fn span(s: &Span) -> usize {
        size_of::<Span>()
            + s.trace_id.len()
            + s.span_id.len()
            + s.parent_span_id.len()
            + s.trace_state.len()
            + s.name.len()
            + attributes(&s.attributes)
            + s.status.as_ref().map_or(0, |st| st.message.len())
            + s.events
                .iter()
                .map(|e| size_of::<Event>() + e.name.len() + attributes(&e.attributes))
                .sum::<usize>()
            + s.links
                .iter()
                .map(|l| {
                    size_of::<Link>()
                        + l.trace_id.len()
                        + l.span_id.len()
                        + l.trace_state.len()
                        + attributes(&l.attributes)
                })
                .sum::<usize>()
    }
    resource_spans
        .iter()
        .map(|rs| {
            size_of::<ResourceSpans>()
                + rs.schema_url.len()
                + rs.resource
                    .as_ref()
                    .map_or(0, |r| attributes(&r.attributes))
                + rs.scope_spans
                    .iter()
                    .map(|ss| {
                        size_of::<ScopeSpans>()
                            + ss.schema_url.len()
                            + ss.scope.as_ref().map_or(0, |sc| {
                                sc.name.len() + sc.version.len() + attributes(&sc.attributes)
                            })
                            + ss.spans.iter().map(span).sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum()
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
    /// The address the datagram came from (UDP receiver); `None` for documents from anywhere else
    /// (translated OTLP, the disk log of a persistent queue).
    pub source: Option<IpAddr>,
    /// The resource inline processors gave the document (`resource`, `k8sattributes`,
    /// `resourcedetection` edit it as OTLP attributes; `None` is an empty resource). It is never
    /// serialized: after the last resource-changing processor of a pipeline, the pipeline's
    /// stamping stage (`processors::stamp`) writes it into the document's top level and clears it,
    /// so queues, exporters and the disk codec never see it.
    pub resource: Option<Arc<Vec<KeyValue>>>,
}

impl Segment {
    /// A document without source address or resource.
    pub fn new(body: Bytes, ids: SegmentIds, received_at: Instant) -> Segment {
        Segment {
            body,
            ids,
            received_at,
            source: None,
            resource: None,
        }
    }
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
    /// A `memory_limiter` processor refused it: the process is above its soft memory limit.
    /// Retryable (OTLP answers `RESOURCE_EXHAUSTED` / HTTP 503, as contrib's receivers do).
    #[error("the collector is above its memory limit")]
    MemoryLimited,
}

tokio::task_local! {
    static OTLP_CLIENT: IpAddr;
}

/// Runs `f` (an OTLP receiver's hand-off to its pipelines) with `client` as the request's peer
/// address, readable by inline processors through [`otlp_client`].
pub async fn with_otlp_client<F: Future>(client: Option<IpAddr>, f: F) -> F::Output {
    match client {
        Some(ip) => OTLP_CLIENT.scope(ip, f).await,
        None => f.await,
    }
}

/// The same, for synchronous code (tests of inline processors).
pub fn with_otlp_client_sync<R>(client: IpAddr, f: impl FnOnce() -> R) -> R {
    OTLP_CLIENT.sync_scope(client, f)
}

/// The peer address of the OTLP request being processed, when an OTLP receiver hands spans to
/// an inline processor; `None` anywhere else (X-Ray documents carry [`Segment::source`]).
pub fn otlp_client() -> Option<IpAddr> {
    OTLP_CLIENT.try_with(|ip| *ip).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};
    use prost::Message;

    #[test]
    fn otlp_byte_size_is_the_decoded_size() {
        let mut spans = vec![Span::default(); 1000];
        spans[0].name = "x".repeat(5000);
        let rs = vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }];
        let encoded: usize = rs.iter().map(|r| r.encoded_len()).sum();
        let traces = Traces::Otlp(rs);
        assert!(traces.byte_size() >= 1000 * std::mem::size_of::<Span>() + 5000);
        assert!(traces.byte_size() > 10 * encoded, "{encoded}");
    }
}
