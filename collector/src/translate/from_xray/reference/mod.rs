//! The converter as it was before it parsed into [`super::json::Json`] (commit e06a106, its
//! unit tests left out): the reference the differential test compares the converter with.
//! Test code only.

mod attributes;
mod cause;
mod document;
mod resource;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::pipeline::Segment;

use super::{FailedDocument, FromXray};

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
