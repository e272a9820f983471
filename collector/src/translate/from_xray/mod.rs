//! X-Ray segment documents to OTLP spans: the reverse of [`super::to_xray_documents`].
//!
//! The conventions are those of the contrib `awsxray` receiver
//! (`receiver/awsxrayreceiver/internal/translator`): every segment and every embedded subsegment
//! becomes a span; the document's `aws`, `service`, `origin` and SDK fields become resource
//! attributes; `http`, `aws`, `sql`, `cause`, annotations and metadata become span attributes,
//! events and status. Where contrib has no convention, or its choice would break the round trip
//! through [`super::to_xray_documents`], this module adds one and says so on the item.
//!
//! Architecture Invariant: this module is a pure function of the document bytes. It does no IO,
//! reads no clock and never panics on input; a document it cannot convert is reported in
//! [`FromXray::failed`] with the reason, and no span of that document is emitted.

mod attributes;
mod cause;
mod document;
mod resource;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::pipeline::{Segment, SegmentIds};

/// The result of converting a batch of X-Ray documents.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FromXray {
    /// One entry per distinct resource, in the order the resources first appear; each holds one
    /// scope with the spans of its documents, in document order, each document's spans depth
    /// first (a segment before its subsegments).
    pub resource_spans: Vec<ResourceSpans>,
    /// One entry per document that could not be converted.
    pub failed: Vec<FailedDocument>,
}

/// A document that could not be converted.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedDocument {
    /// The ids the receiver read from the document.
    pub ids: SegmentIds,
    /// Why, naming the offending field (`subsegments[1].id: ...`).
    pub error: String,
}

/// Converts every document in `segments` into OTLP spans, grouped by resource.
pub fn to_otlp(segments: &[Segment]) -> FromXray {
    let mut groups: Vec<(Vec<KeyValue>, Vec<Span>)> = Vec::new();
    let mut failed = Vec::new();
    for segment in segments {
        match document::convert(&segment.body) {
            Ok(converted) => {
                match groups
                    .iter_mut()
                    .find(|(resource, _)| *resource == converted.resource)
                {
                    Some((_, spans)) => spans.extend(converted.spans),
                    None => groups.push((converted.resource, converted.spans)),
                }
            }
            Err(err) => failed.push(FailedDocument {
                ids: segment.ids,
                error: err.to_string(),
            }),
        }
    }
    let resource_spans = groups
        .into_iter()
        .map(|(attributes, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    FromXray {
        resource_spans,
        failed,
    }
}
