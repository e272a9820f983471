//! The `filter` processor: drops every span for which any `traces.span` condition is true, in
//! the OTTL subset of `ottl`. OTLP: the spans (and then empty scopes and resources) are removed.
//! X-Ray: a document is one span, read as `processors::view` describes (top level only); a
//! matching document is dropped whole, with its embedded subsegments. Dropped items are counted
//! as `processor_dropped_items{reason="filtered"}`.

pub mod config;
pub mod ottl;

use std::sync::Arc;

use self::config::FilterConfig;
use self::ottl::Expr;
use super::view::{OtlpSpan, XrayView};
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::traces::{Refused, Traces};

impl ProcessorConfig for FilterConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        let conditions = self
            .traces
            .span
            .iter()
            .map(|c| ottl::parse(c).map_err(|e| ctx.error(format!("condition `{c}`: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Processor::Inline(Arc::new(Filter { conditions })))
    }
}

/// The processor.
pub struct Filter {
    conditions: Vec<Expr>,
}

impl InlineProcessor for Filter {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        match &mut traces {
            Traces::XRay(segments) => segments.retain(|s| {
                let empty = Vec::new();
                let resource = s.resource.as_deref().unwrap_or(&empty);
                match XrayView::read(&s.body, resource) {
                    Some(view) => !self.conditions.iter().any(|c| ottl::eval(c, &view)),
                    None => true,
                }
            }),
            Traces::Otlp(resource_spans) => {
                for rs in resource_spans.iter_mut() {
                    let resource = rs.resource.take();
                    let attrs = resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
                    for ss in &mut rs.scope_spans {
                        ss.spans.retain(|span| {
                            let view = OtlpSpan {
                                span,
                                resource: attrs,
                            };
                            !self.conditions.iter().any(|c| ottl::eval(c, &view))
                        });
                    }
                    rs.resource = resource;
                    rs.scope_spans.retain(|ss| !ss.spans.is_empty());
                }
                resource_spans.retain(|rs| !rs.scope_spans.is_empty());
            }
        }
        Ok((!traces.is_empty()).then_some(traces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{Segment, SegmentIds};

    #[test]
    fn drops_matching_xray_documents() {
        let f = Filter {
            conditions: vec![
                ottl::parse(r#"name == "health" or attributes["synthetic"] == true"#).unwrap(),
            ],
        };
        let doc = |body: &'static str| {
            Segment::new(
                bytes::Bytes::from_static(body.as_bytes()),
                SegmentIds::new("0123456789abcdef", "").unwrap(),
                std::time::Instant::now(),
            )
        };
        let traces = Traces::XRay(vec![
            doc(r#"{"name":"health"}"#),
            doc(r#"{"name":"orders","annotations":{"synthetic":true}}"#),
            doc(r#"{"name":"orders"}"#),
        ]);
        let Some(Traces::XRay(kept)) = f.process(traces).unwrap() else {
            panic!()
        };
        assert_eq!(kept.len(), 1);
        assert_eq!(&kept[0].body[..], br#"{"name":"orders"}"#);
        let none = f
            .process(Traces::XRay(vec![doc(r#"{"name":"health"}"#)]))
            .unwrap();
        assert!(none.is_none());
    }
}
