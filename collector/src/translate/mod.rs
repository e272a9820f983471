//! OTLP spans to AWS X-Ray segment documents.
//!
//! The rules are those of the contrib `awsxray` exporter (`shared/reference/otlp-to-xray.md`), with
//! its default feature-gate states: the trace-ID epoch check is skipped unless asked for, dots stay
//! in annotation keys, and the old (v0) HTTP, network and database attribute names are read along
//! with the new HTTP ones.
//!
//! Architecture Invariant: this module is a pure function of (spans, settings, id source). It does
//! no IO, reads no clock and knows nothing about tokio; the caller supplies "now" for the optional
//! epoch check.
//!
//! Each span becomes its own document (the translator never nests subsegments); a `LOCAL_ROOT` span
//! of a dependency kind becomes two. Documents are written straight to JSON bytes (`segment.rs`
//! gathers a span's fields, borrowed, and writes them with `write.rs`); no `serde_json` tree is
//! built per span. The tree-building translator this replaced is kept as a test oracle
//! (`oracle.rs`), and `differential.rs` checks the two give byte-identical documents.
//! A span that cannot be translated is dropped and reported in [`Translation::dropped`].
//!
//! The reverse direction, X-Ray documents to OTLP spans, is [`from_xray`].

mod attributes;
mod aws;
mod cause;
#[cfg(test)]
mod differential;
pub mod from_xray;
mod http;
#[cfg(test)]
mod oracle;
mod segment;
mod stack;
mod write;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde_json::{Map, Value};

/// What a segment translated from spans of `resource` would carry of the resource: the
/// `aws.eks` block, the `origin`, and the resource attributes as `metadata.default` entries
/// (`otel.resource.<key>`, as JSON). The pipelines' X-Ray stamping (`processors::stamp`) writes
/// these into documents that inline processors gave a resource, so an X-Ray SDK's segment gets the
/// same identity as a translated OTLP span of the same pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XrayIdentity {
    /// `aws.eks`, when the resource is on EKS or names a cluster.
    pub eks: Option<Map<String, Value>>,
    /// `AWS::EKS::Container` when the resource names a cluster (`k8s.cluster.name`), else the
    /// translation's `origin` (from `cloud.platform`), if any.
    pub origin: Option<&'static str>,
    /// `metadata.default` entries, one per resource attribute with a value.
    pub metadata: Map<String, Value>,
}

/// The X-Ray identity of a resource (see [`XrayIdentity`]).
pub fn xray_identity(resource: &[KeyValue]) -> XrayIdentity {
    let map = attributes::attr_map(resource);
    let eks = aws::eks(&map);
    let origin = if attributes::get_str(&map, "k8s.cluster.name").is_empty() {
        aws::origin(&map)
    } else {
        Some("AWS::EKS::Container")
    };
    let metadata = map
        .iter()
        .filter_map(|(key, value)| {
            Some((
                segment::resource_metadata_key(key),
                attributes::raw_json(value)?,
            ))
        })
        .collect();
    XrayIdentity {
        eks,
        origin,
        metadata,
    }
}

/// An attribute value as plain JSON (maps and arrays kept, bytes as base64), as the translation
/// writes metadata.
pub fn any_to_json(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<Value> {
    attributes::raw_json(value)
}

/// Settings from the `awsxray` exporter's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TranslateSettings {
    /// Attribute names that become annotations (`indexed_attributes`).
    pub indexed_attributes: Vec<String>,
    /// Every scalar attribute becomes an annotation (`index_all_attributes`).
    pub index_all_attributes: bool,
    /// Fallback CloudWatch log group names (`aws_log_groups`).
    pub log_groups: Vec<String>,
    /// Whether trace IDs must carry a recent epoch.
    pub trace_id_validation: TraceIdValidation,
}

/// The trace-ID epoch rule (contrib gate `exporter.awsxray.skiptimestampvalidation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TraceIdValidation {
    /// Accept any epoch; the gate's default and what X-Ray accepts today.
    #[default]
    Skip,
    /// Drop spans whose epoch is more than 28 days before or 5 minutes after `now_unix_secs`.
    Window {
        /// The current time, in seconds since the Unix epoch.
        now_unix_secs: i64,
    },
}

/// Why a span was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The trace ID (of the span or of a link) is not 16 bytes long.
    #[error("invalid trace id: {0} bytes instead of 16")]
    InvalidTraceIdLength(usize),
    /// The trace ID's epoch is outside the accepted window.
    #[error("invalid xray traceid: {0}")]
    TraceIdOutsideWindow(String),
    /// A span ID is neither empty nor 8 bytes long.
    #[error("invalid {field}: {len} bytes instead of 8")]
    InvalidSpanId {
        /// The protobuf field.
        field: &'static str,
        /// The length found.
        len: usize,
    },
}

/// One X-Ray segment document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The JSON document (UTF-8, no trailing newline).
    pub json: Vec<u8>,
    /// Its `id` (16 hex digits), or `""` when the span had no span id.
    pub id: String,
    /// Its `trace_id` (`1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`).
    pub trace_id: String,
}

/// The result of translating a batch of spans.
#[derive(Debug, Default)]
pub struct Translation {
    /// The documents, in span order.
    pub documents: Vec<Document>,
    /// One entry per span that could not be translated.
    pub dropped: Vec<TranslateError>,
}

/// Supplies the 8-byte ids the translator invents: the service segment of a `LOCAL_ROOT` split and
/// the `id` of each `cause` exception.
pub trait IdSource {
    /// Returns a new id.
    fn next_id(&mut self) -> [u8; 8];
}

/// Random ids, for production use.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&mut self) -> [u8; 8] {
        loop {
            let id = fastrand::u64(..).to_be_bytes();
            // An all-zero id is invalid in both OTLP and X-Ray.
            if id != [0; 8] {
                return id;
            }
        }
    }
}

/// Translates every span in `resource_spans` with random invented ids.
pub fn to_xray_documents(
    resource_spans: &[ResourceSpans],
    settings: &TranslateSettings,
) -> Translation {
    to_xray_documents_with_ids(resource_spans, settings, &mut RandomIds)
}

/// Translates every span in `resource_spans`, taking invented ids from `ids`.
pub fn to_xray_documents_with_ids(
    resource_spans: &[ResourceSpans],
    settings: &TranslateSettings,
    ids: &mut dyn IdSource,
) -> Translation {
    let mut out = Translation::default();
    // One scratch buffer for every document of the call; each document is copied out of it.
    let mut buf = Vec::with_capacity(4096);
    for rs in resource_spans {
        let resource = attributes::attr_map(
            rs.resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]),
        );
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            let written = segment::write_segments(
                span,
                &resource,
                settings,
                ids,
                &mut buf,
                &mut out.documents,
            );
            if let Err(err) = written {
                out.dropped.push(err);
            }
        }
    }
    out
}

/// The number of spans in `resource_spans`.
pub fn span_count(resource_spans: &[ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}
