//! Editing the resources of a batch, for the processors that set resource attributes from what
//! they know of the sender (`k8sattributes`) or of the host (`resourcedetection`): each OTLP
//! `ResourceSpans::resource` with the OTLP request's client address, each X-Ray document's
//! `traces::Segment::resource` with its datagram's source address.

use std::net::IpAddr;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

use crate::traces::{Traces, otlp_client};

/// Calls `f` with every resource's attributes of `traces` and the address its data came from.
pub fn for_each_resource(
    traces: &mut Traces,
    mut f: impl FnMut(&mut Vec<KeyValue>, Option<IpAddr>),
) {
    match traces {
        Traces::Otlp(resource_spans) => {
            let client = otlp_client();
            for rs in resource_spans {
                let resource = rs.resource.get_or_insert_with(Default::default);
                f(&mut resource.attributes, client);
            }
        }
        Traces::XRay(segments) => {
            for segment in segments {
                let source = segment.source;
                let resource = segment.resource.get_or_insert_with(|| Arc::new(Vec::new()));
                f(Arc::make_mut(resource), source);
            }
        }
    }
}

/// The string value of attribute `key`.
pub fn get_str(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// Sets attribute `key` to the string `value`: replaces an existing one only when `replace`.
pub fn set_str(attributes: &mut Vec<KeyValue>, key: &str, value: &str, replace: bool) {
    let new = Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    });
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) if replace => kv.value = new,
        Some(_) => {}
        None => attributes.push(KeyValue {
            key: key.to_owned(),
            value: new,
        }),
    }
}
