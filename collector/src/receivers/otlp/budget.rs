//! The OTLP receiver's memory budget: what its in-flight requests may hold, in decoded terms.
//!
//! An OTLP body is small on the wire and large in memory: an empty span is a 2-byte protobuf
//! record (or 3 bytes of JSON, `{},`) but a whole `Span` struct once decoded. So before a body is
//! decoded its decoded size is bounded from its structure by a cheap scan ([`protobuf_cost`],
//! [`json_cost`]) that decodes nothing, and charged to a [`Budget`] shared by every request of
//! the receiver (gRPC and HTTP). The formula, per request:
//!
//! ```text
//! cost = body bytes as received (compressed)
//!      + body bytes after gunzip (when compressed)
//!      + Σ over every message record  2 × size_of::<its type>()      (Vec growth at most doubles)
//!      + Σ over every string/bytes record  its length + 2 × size_of::<String>()
//! ```
//!
//! A request whose cost alone is over the whole budget can never pass: it is refused as
//! `too_large` (HTTP `413`, gRPC `INVALID_ARGUMENT`, not retryable). One that does not fit
//! because other requests hold the budget is refused as `memory_limit` (HTTP `503` with
//! `Retry-After`, gRPC `RESOURCE_EXHAUSTED` with `RetryInfo`: retryable). The budget is
//! released when the request is answered (its spans are then the pipeline's, bounded by the
//! exporters' queues).

use std::mem::size_of;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget when `receivers.otlp.memory_limit_mib` is not set and the container has no memory
/// limit: 64 MiB, a quarter of the smallest memory limit a blueprint renders (256 MiB).
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 64;

/// The share of the container's memory limit the budget takes when `memory_limit_mib` is not set:
/// a quarter, leaving the rest to the sending queues, the batch processor and the process itself.
pub const CONTAINER_SHARE_DIVISOR: u64 = 4;

/// The container's memory limit in bytes, from cgroup v2 (`/sys/fs/cgroup/memory.max`) or v1
/// (`/sys/fs/cgroup/memory/memory.limit_in_bytes`); `None` when unlimited or unreadable.
pub fn container_memory_limit() -> Option<u64> {
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    let v1 = || std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes").ok();
    parse_cgroup_limit(&v2.or_else(v1)?)
}

/// A cgroup memory limit file's content: a byte count, or `max` (v2) / a near-`i64::MAX` page
/// multiple (v1) for no limit.
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    // cgroup v1 writes an "unlimited" of about 2^63 rounded to the page size.
    (n < (1 << 62)).then_some(n)
}

/// The budget in MiB when `memory_limit_mib` is not set: a quarter of the container's memory
/// limit (so it follows the pod's `resources.limits.memory` as rendered), else
/// [`DEFAULT_MEMORY_LIMIT_MIB`]; never less than `min_mib` (twice the largest gRPC message, so
/// one compressed request always fits).
pub fn derived_limit_mib(container_limit: Option<u64>, min_mib: u64) -> u64 {
    let from_container = container_limit
        .map(|bytes| bytes / CONTAINER_SHARE_DIVISOR / (1024 * 1024))
        .unwrap_or(DEFAULT_MEMORY_LIMIT_MIB);
    from_container.max(min_mib).max(1)
}

/// What a string or bytes record costs beyond its length.
const LEAF_OVERHEAD: usize = 2 * size_of::<String>();
/// Deepest nesting the scan follows (prost's own recursion limit is 100).
const MAX_DEPTH: usize = 100;
/// Deepest JSON nesting the scan follows (serde_json refuses more than 128).
const MAX_JSON_DEPTH: usize = 128;

/// Why a charge did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverBudget {
    /// The request alone is larger than the whole budget: retrying cannot help.
    TooLarge,
    /// Other requests hold the budget: retrying later can succeed.
    Busy,
}

/// Bytes of decoded memory shared by a receiver's in-flight requests.
#[derive(Clone, Debug)]
pub struct Budget {
    permits: Arc<Semaphore>,
    total: u64,
}

/// What one request holds of a [`Budget`]; given back when dropped.
#[derive(Debug, Default)]
pub struct Charge {
    permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
}

impl Charge {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Budget {
    /// A budget of `bytes` (at most 4 GiB - 1).
    pub fn new(bytes: u64) -> Budget {
        let total = bytes.min(u64::from(u32::MAX));
        Budget {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// The budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes not held by any request.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Adds `bytes` to `charge`, without waiting.
    pub fn charge(&self, charge: &mut Charge, bytes: usize) -> Result<(), OverBudget> {
        let after = charge.bytes.saturating_add(bytes as u64);
        if after > self.total {
            return Err(OverBudget::TooLarge);
        }
        let n = u32::try_from(bytes).map_err(|_| OverBudget::TooLarge)?;
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| OverBudget::Busy)?;
        match &mut charge.permit {
            Some(held) => held.merge(permit),
            None => charge.permit = Some(permit),
        }
        charge.bytes = after;
        Ok(())
    }
}

/// The message types of an `ExportTraceServiceRequest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    /// A JSON object under a key the scan does not know: charged as the largest type.
    Unknown,
}

impl Msg {
    /// Decoded bytes of one record of this type: the struct, twice (a `Vec` grows by doubling).
    fn cost(self) -> usize {
        2 * match self {
            Msg::Request => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<Event>(),
            Msg::Link => size_of::<Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
            Msg::Unknown => largest(),
        }
    }

    /// The message type of protobuf field `field`, when it is a message.
    fn child(self, field: u64) -> Option<Msg> {
        Some(match (self, field) {
            (Msg::Request, 1) => Msg::ResourceSpans,
            (Msg::ResourceSpans, 1) => Msg::Resource,
            (Msg::ResourceSpans, 2) => Msg::ScopeSpans,
            (Msg::Resource, 1) => Msg::KeyValue,
            (Msg::Resource, 3) => Msg::EntityRef,
            (Msg::ScopeSpans, 1) => Msg::Scope,
            (Msg::ScopeSpans, 2) => Msg::Span,
            (Msg::Scope, 3) => Msg::KeyValue,
            (Msg::Span, 9) => Msg::KeyValue,
            (Msg::Span, 11) => Msg::Event,
            (Msg::Span, 13) => Msg::Link,
            (Msg::Span, 15) => Msg::Status,
            (Msg::Event, 3) => Msg::KeyValue,
            (Msg::Link, 4) => Msg::KeyValue,
            (Msg::KeyValue, 2) => Msg::AnyValue,
            (Msg::AnyValue, 5) => Msg::ArrayValue,
            (Msg::AnyValue, 6) => Msg::KeyValueList,
            (Msg::ArrayValue, 1) => Msg::AnyValue,
            (Msg::KeyValueList, 1) => Msg::KeyValue,
            _ => return None,
        })
    }

    /// The message type of the JSON key `key` (the OTLP/JSON names).
    fn json_child(key: &[u8]) -> Msg {
        match key {
            b"resourceSpans" | b"resource_spans" => Msg::ResourceSpans,
            b"resource" => Msg::Resource,
            b"entityRefs" | b"entity_refs" => Msg::EntityRef,
            b"scopeSpans" | b"scope_spans" => Msg::ScopeSpans,
            b"scope" => Msg::Scope,
            b"spans" => Msg::Span,
            b"events" => Msg::Event,
            b"links" => Msg::Link,
            b"status" => Msg::Status,
            b"attributes" => Msg::KeyValue,
            b"value" => Msg::AnyValue,
            b"arrayValue" | b"array_value" => Msg::ArrayValue,
            b"kvlistValue" | b"kvlist_value" => Msg::KeyValueList,
            _ => Msg::Unknown,
        }
    }
}

/// The largest struct of the request types.
const fn largest() -> usize {
    let sizes = [
        size_of::<ResourceSpans>(),
        size_of::<Resource>(),
        size_of::<EntityRef>(),
        size_of::<ScopeSpans>(),
        size_of::<InstrumentationScope>(),
        size_of::<Span>(),
        size_of::<Event>(),
        size_of::<Link>(),
        size_of::<KeyValue>(),
        size_of::<AnyValue>(),
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
}

/// The bound on a body's decoded size, and its spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Decoded bytes, by the formula of the module doc.
    pub bytes: usize,
    /// Span records.
    pub spans: usize,
}

/// Why a protobuf body cannot be an `ExportTraceServiceRequest`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    /// The wire format is broken (truncated record, bad varint, group, unknown wire type).
    #[error("malformed protobuf at byte {0}")]
    Malformed(usize),
    /// Nested deeper than the decoder follows.
    #[error("nested deeper than {MAX_DEPTH} messages")]
    TooDeep,
}

/// Bounds the decoded size of a protobuf `ExportTraceServiceRequest`, decoding nothing.
pub fn protobuf_cost(body: &[u8]) -> Result<Estimate, ScanError> {
    let mut estimate = Estimate {
        bytes: Msg::Request.cost(),
        spans: 0,
    };
    scan(body, 0, Msg::Request, 0, &mut estimate)?;
    Ok(estimate)
}

fn varint(buf: &[u8], at: &mut usize, base: usize) -> Result<u64, ScanError> {
    let mut value = 0u64;
    for shift in 0..10 {
        let byte = *buf.get(*at).ok_or(ScanError::Malformed(base + *at))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ScanError::Malformed(base + *at))
}

fn scan(
    buf: &[u8],
    base: usize,
    msg: Msg,
    depth: usize,
    estimate: &mut Estimate,
) -> Result<(), ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at, base)?;
        let skip = match key & 7 {
            0 => {
                varint(buf, &mut at, base)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut at, base)?)
                    .map_err(|_| ScanError::Malformed(base + at))?;
                let end = at
                    .checked_add(len)
                    .filter(|end| *end <= buf.len())
                    .ok_or(ScanError::Malformed(base + at))?;
                match msg.child(key >> 3) {
                    Some(child) => {
                        estimate.bytes = estimate.bytes.saturating_add(child.cost());
                        if child == Msg::Span {
                            estimate.spans += 1;
                        }
                        scan(&buf[at..end], base + at, child, depth + 1, estimate)?;
                    }
                    None => {
                        estimate.bytes = estimate.bytes.saturating_add(len + LEAF_OVERHEAD);
                    }
                }
                len
            }
            _ => return Err(ScanError::Malformed(base + at)),
        };
        at = at
            .checked_add(skip)
            .filter(|end| *end <= buf.len())
            .ok_or(ScanError::Malformed(base + at))?;
    }
    Ok(())
}

/// Bounds the decoded size of an OTLP/JSON `ExportTraceServiceRequest`, decoding nothing: every
/// object is charged as the type its key names (an unknown key as the largest type), every
/// string value as its length plus [`LEAF_OVERHEAD`]. Broken JSON is left to the decoder.
pub fn json_cost(body: &[u8]) -> Estimate {
    enum Frame {
        /// An object; `expect_key` until its next key is read.
        Object { expect_key: bool },
        /// An array whose elements are of the type its key names.
        Array(Msg),
    }
    let mut estimate = Estimate::default();
    let mut stack: Vec<Frame> = Vec::new();
    // The type named by the last key read, for the value that follows it.
    let mut pending = Msg::Request;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                let text = &body[start..i.min(body.len())];
                match stack.last_mut() {
                    Some(Frame::Object { expect_key }) if *expect_key => {
                        *expect_key = false;
                        pending = Msg::json_child(text);
                    }
                    _ => estimate.bytes = estimate.bytes.saturating_add(text.len() + LEAF_OVERHEAD),
                }
            }
            b'{' | b'[' if stack.len() >= MAX_JSON_DEPTH => {
                // The decoder refuses this nesting before it gets here; stop counting.
                break;
            }
            b'{' => {
                let kind = match stack.last() {
                    Some(Frame::Array(kind)) => *kind,
                    _ => pending,
                };
                estimate.bytes = estimate.bytes.saturating_add(kind.cost());
                if kind == Msg::Span {
                    estimate.spans += 1;
                }
                stack.push(Frame::Object { expect_key: true });
            }
            b'[' => {
                let kind = match stack.last() {
                    Some(Frame::Array(kind)) => *kind,
                    _ => pending,
                };
                stack.push(Frame::Array(kind));
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_key }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    estimate
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_default_budget_follows_the_container_limit() {
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit("268435456\n"), Some(256 << 20));
        assert_eq!(parse_cgroup_limit("garbage"), None);
        // 256Mi and 512Mi pods (what the blueprints render): a quarter.
        assert_eq!(derived_limit_mib(Some(256 << 20), 8), 64);
        assert_eq!(derived_limit_mib(Some(512 << 20), 8), 128);
        // No limit: the fixed default; a tiny limit: never below one compressed message.
        assert_eq!(derived_limit_mib(None, 8), DEFAULT_MEMORY_LIMIT_MIB);
        assert_eq!(derived_limit_mib(Some(16 << 20), 8), 8);
    }

    use super::*;
    use prost::Message;

    fn spans(n: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); n],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn empty_spans_are_charged_as_decoded_spans() {
        let body = spans(1000).encode_to_vec();
        // Two bytes a span on the wire...
        assert!(body.len() < 2100, "{}", body.len());
        let estimate = protobuf_cost(&body).unwrap();
        assert_eq!(estimate.spans, 1000);
        // ...but at least a `Span` each once decoded.
        assert!(estimate.bytes >= 1000 * size_of::<Span>());
        let json = format!(
            "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{}]}}]}}]}}",
            vec!["{}"; 1000].join(",")
        );
        let estimate = json_cost(json.as_bytes());
        assert_eq!(estimate.spans, 1000);
        assert!(estimate.bytes >= 1000 * size_of::<Span>());
    }

    #[test]
    fn the_estimate_bounds_what_decoding_holds() {
        let mut request = spans(3);
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.name = "x".repeat(1000);
        span.attributes = vec![KeyValue::default(); 50];
        let body = request.encode_to_vec();
        let estimate = protobuf_cost(&body).unwrap();
        assert_eq!(estimate.spans, 3);
        let structs = size_of::<ExportTraceServiceRequest>()
            + size_of::<ResourceSpans>()
            + size_of::<ScopeSpans>()
            + 3 * size_of::<Span>()
            + 50 * size_of::<KeyValue>()
            + 1000;
        assert!(estimate.bytes >= structs, "{estimate:?} < {structs}");
        assert_eq!(
            ExportTraceServiceRequest::decode(body.as_slice()).unwrap(),
            request
        );
    }

    #[test]
    fn broken_protobuf_is_malformed() {
        assert!(matches!(
            protobuf_cost(&[0xff, 0xff, 0xff]),
            Err(ScanError::Malformed(_))
        ));
        // A record longer than the body.
        assert!(protobuf_cost(&[0x0a, 0x05, 0x00]).is_err());
        // Nesting beyond the limit: AnyValue -> ArrayValue -> AnyValue ... under one attribute.
        fn wrap(field: u8, inner: &[u8]) -> Vec<u8> {
            let mut out = vec![(field << 3) | 2];
            prost::encoding::encode_varint(inner.len() as u64, &mut out);
            out.extend_from_slice(inner);
            out
        }
        let mut value = Vec::new();
        for _ in 0..60 {
            value = wrap(5, &wrap(1, &value));
        }
        let body = wrap(1, &wrap(1, &wrap(1, &wrap(2, &value))));
        assert_eq!(protobuf_cost(&body), Err(ScanError::TooDeep));
        assert!(protobuf_cost(&[0x0a, 0x00]).is_ok());
    }

    #[test]
    fn deep_json_costs_no_more_than_the_limit_of_frames() {
        // A scan stack of a frame per `[` would grow with the body; it stops at serde's limit.
        let body = vec![b'['; 1 << 20];
        assert_eq!(json_cost(&body), Estimate::default());
        let mut body = b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{}".to_vec();
        body.extend(vec![b'['; 1000]);
        assert_eq!(json_cost(&body).spans, 1);
    }

    #[test]
    fn a_budget_is_shared_and_given_back() {
        let budget = Budget::new(1000);
        let mut first = Charge::default();
        budget.charge(&mut first, 600).unwrap();
        budget.charge(&mut first, 100).unwrap();
        assert_eq!(first.bytes(), 700);
        let mut second = Charge::default();
        assert_eq!(budget.charge(&mut second, 400), Err(OverBudget::Busy));
        assert_eq!(budget.charge(&mut second, 1001), Err(OverBudget::TooLarge));
        drop(first);
        budget.charge(&mut second, 1000).unwrap();
        assert_eq!(budget.available(), 0);
    }
}
