//! Editing the resources of a batch, for the processors that set resource attributes from what
//! they know of the sender (`k8sattributes`) or of the host (`resourcedetection`): each OTLP
//! `ResourceSpans::resource` with the OTLP request's client address, each X-Ray document's
//! `traces::Segment::resource` with its datagram's source address.
//!
//! The documents of one sender all get the same resource, so X-Ray documents share it:
//! [`ResourceMemo`] keeps, per incoming resource (by `Arc` identity) and source address, the
//! resource a processor made of it, and later documents get that `Arc` (stamping then finds its
//! prepared stamp by identity, `processors::stamp`).

use std::collections::HashMap;
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

/// A resource as X-Ray documents carry it.
pub type SharedResource = Arc<Vec<KeyValue>>;

/// How many (resource, source) pairs a [`ResourceMemo`] keeps before it starts over.
const MEMO_ENTRIES: usize = 4096;

/// The resources an edit made, by incoming resource and source address, valid for one
/// `generation` of what the edit reads (a processor's pod cache).
#[derive(Default)]
pub struct ResourceMemo {
    generation: u64,
    /// Keyed by the incoming resource's address (0 for none); the entry holds that `Arc`, so the
    /// address stays its own while the entry lives.
    entries: HashMap<(usize, Option<IpAddr>), (Option<SharedResource>, SharedResource)>,
}

impl ResourceMemo {
    /// The resource `edit` makes of `input` for a document from `source`: the remembered one
    /// when `generation` has not changed, else `edit` applied to a copy of `input` (remembered).
    pub fn get(
        &mut self,
        generation: u64,
        input: Option<SharedResource>,
        source: Option<IpAddr>,
        edit: impl FnOnce(&mut Vec<KeyValue>, Option<IpAddr>),
    ) -> SharedResource {
        if generation != self.generation || self.entries.len() >= MEMO_ENTRIES {
            self.entries.clear();
            self.generation = generation;
        }
        let key = (
            input.as_ref().map_or(0, |r| Arc::as_ptr(r) as usize),
            source,
        );
        if let Some((held, output)) = self.entries.get(&key) {
            let same = match (held, &input) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if same {
                return output.clone();
            }
        }
        let mut attributes = input.as_deref().cloned().unwrap_or_default();
        edit(&mut attributes, source);
        let output = Arc::new(attributes);
        self.entries.insert(key, (input, output.clone()));
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_shares_one_resource_per_input_and_source_until_the_generation_changes() {
        let mut memo = ResourceMemo::default();
        let base = Arc::new(vec![]);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut calls = 0;
        let mut edit = |generation, input: Option<SharedResource>, source| {
            memo.get(generation, input, source, |attrs, source| {
                calls += 1;
                set_str(attrs, "ip", &source.unwrap().to_string(), false);
            })
        };
        let first = edit(1, Some(base.clone()), Some(a));
        let again = edit(1, Some(base.clone()), Some(a));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(get_str(&first, "ip").as_deref(), Some("10.0.0.1"));
        let other = edit(1, Some(base.clone()), Some(b));
        assert_eq!(get_str(&other, "ip").as_deref(), Some("10.0.0.2"));
        // Another input with the same contents is another key; a new generation starts over.
        let copy = edit(1, Some(Arc::new(vec![])), Some(a));
        assert!(!Arc::ptr_eq(&first, &copy));
        let later = edit(2, Some(base.clone()), Some(a));
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(*later, *first);
        assert_eq!(calls, 4);
    }
}
