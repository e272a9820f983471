//! The `resource` processor: attribute actions (`processors::attraction`) on each resource. OTLP
//! spans: `ResourceSpans.resource`. X-Ray documents: the document's resource
//! (`traces::Segment::resource`, empty at first), which the pipeline's stamping stage then writes
//! into the document (`processors::stamp`): a `resource` processor inserting
//! `k8s.cluster.name`, `k8s.pod.name` and `k8s.namespace.name` gives X-Ray SDK segments their
//! `aws.eks` block.

pub mod config;

use std::sync::Arc;

use opentelemetry_proto::tonic::resource::v1::Resource;

use self::config::ResourceConfig;
use super::attraction::{self, Action};
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::traces::{Refused, Traces};

impl ProcessorConfig for ResourceConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        let actions = compile(&self.attributes).map_err(|e| ctx.error(e))?;
        Ok(Processor::Inline(Arc::new(ResourceProcessor { actions })))
    }
}

/// Compiles checked actions (the config was validated, so this fails only on a bug).
pub(crate) fn compile(configs: &[attraction::ActionConfig]) -> Result<Vec<Action>, String> {
    attraction::compile_unchecked(configs)
}

/// The processor.
pub struct ResourceProcessor {
    actions: Vec<Action>,
}

impl InlineProcessor for ResourceProcessor {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        match &mut traces {
            Traces::Otlp(resource_spans) => {
                for rs in resource_spans {
                    let resource = rs.resource.get_or_insert_with(Resource::default);
                    attraction::apply(&self.actions, &mut resource.attributes);
                }
            }
            Traces::XRay(segments) => {
                for s in segments {
                    let mut attrs = s.resource.as_deref().cloned().unwrap_or_default();
                    if attraction::apply(&self.actions, &mut attrs) {
                        s.resource = Some(Arc::new(attrs));
                    }
                }
            }
        }
        Ok(Some(traces))
    }

    fn changes_resource(&self) -> bool {
        true
    }
}
