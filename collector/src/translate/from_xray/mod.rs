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
mod fast;

pub use self::document::trace_id_bytes;
mod json;
mod resource;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::traces::{Segment, SegmentIds};

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
    // The group the previous document went to: consecutive documents mostly share a resource.
    let mut last = 0;
    // Each document's spans, before they move to their group.
    let mut spans = Vec::new();
    // The most spans the batch can hold: the smallest (sub)segment takes 51 bytes of JSON
    // (`{"name":"a","id":"0000000000000001","start_time":1}`). It caps the room reserved below.
    let most_spans = segments.iter().map(|s| s.body.len()).sum::<usize>() / 51;
    for (idx, segment) in segments.iter().enumerate() {
        let place = |resource: &resource::Resource<'_>, spans: &mut Vec<Span>| {
            // Each resource is in at most one group, so trying the previous group first finds
            // the same group as a search from the start.
            let found = groups
                .get(last)
                .filter(|(attributes, _)| resource.matches(attributes))
                .map(|_| last)
                .or_else(|| {
                    groups
                        .iter()
                        .position(|(attributes, _)| resource.matches(attributes))
                });
            last = match found {
                Some(idx) => idx,
                None => {
                    // Batches mostly hold one resource: the first group gets room for the
                    // rest of the batch, if its documents are like this one, rather than
                    // growing step by step; later groups grow as needed.
                    let room = if groups.is_empty() {
                        (spans.len() * (segments.len() - idx)).min(most_spans)
                    } else {
                        0
                    };
                    groups.push((resource.to_key_values(), Vec::with_capacity(room)));
                    groups.len() - 1
                }
            };
            groups[last].1.append(spans);
        };
        if let Err(err) = document::convert(&segment.body, &mut spans, place) {
            failed.push(FailedDocument {
                ids: segment.ids,
                error: err.to_string(),
            });
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
