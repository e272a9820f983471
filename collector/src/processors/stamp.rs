//! The internal stamping stage: writes the resource inline processors gave an X-Ray document
//! (`traces::Segment::resource`) into the document, as X-Ray expects a segment from EKS, then
//! clears it. `service::wire_pipelines` puts it after the last processor of a pipeline whose
//! [`InlineProcessor::changes_resource`] is true; it is never configured.
//!
//! For each document with a resource (segments only: an independent subsegment,
//! `"type":"subsegment"`, keeps its bytes, as the translation stores resources on segments only):
//!
//! * `aws.eks` = `{cluster_name, pod, container_id}` from `k8s.cluster.name`, `k8s.pod.name`,
//!   `container.id` (`translate::xray_identity`, the mapping the OTLP translation uses), merged
//!   into the document's `aws` object (its other keys, such as the SDK's `xray`, are kept; a
//!   field the resource does not know keeps the document's value);
//! * `origin` = `AWS::EKS::Container` when the resource names a cluster (else the translation's
//!   origin for the resource's `cloud.platform`, else the document's own);
//! * every resource attribute under `metadata.default` as `otel.resource.<key>` (so
//!   `k8s.namespace.name` arrives as `metadata.default["otel.resource.k8s.namespace.name"]`),
//!   merged into the document's `metadata` (attributes the document already has are kept).
//!
//! Only the members it changes (`aws`, `origin`, `metadata`) are parsed and rewritten; the rest of
//! the document is copied byte for byte (`xray_doc::TopLevel::splice`).

use serde_json::{Map, Value};

use super::InlineProcessor;
use super::xray_doc::TopLevel;
use crate::traces::{Refused, Segment, Traces};
use crate::translate::{XrayIdentity, xray_identity};

/// The stamping stage of one pipeline.
pub struct Stamp;

impl InlineProcessor for Stamp {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        if let Traces::XRay(segments) = &mut traces {
            for segment in segments.iter_mut() {
                stamp(segment);
            }
        }
        Ok(Some(traces))
    }
}

/// Stamps one document and clears its resource.
pub fn stamp(segment: &mut Segment) {
    let Some(resource) = segment.resource.take() else {
        return;
    };
    if resource.is_empty() {
        return;
    }
    let identity = xray_identity(&resource);
    match stamped(&segment.body, &identity) {
        Ok(Some(body)) => segment.body = body,
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(id = segment.ids.id(), error = %e, "X-Ray document not stamped.")
        }
    }
}

/// The document with `identity` written in, or `None` when it is a subsegment or nothing changes.
pub fn stamped(
    body: &[u8],
    identity: &XrayIdentity,
) -> Result<Option<bytes::Bytes>, super::xray_doc::ScanError> {
    let top = TopLevel::scan(body)?;
    if top.parse::<&str>("type") == Some("subsegment") {
        return Ok(None);
    }
    let mut edits: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some(eks) = &identity.eks {
        let mut aws: Map<String, Value> = top.parse("aws").unwrap_or_default();
        let mut merged = match aws.remove("eks") {
            Some(Value::Object(old)) => old,
            _ => Map::new(),
        };
        for (k, v) in eks {
            if !v.is_null() || !merged.contains_key(k) {
                merged.insert(k.clone(), v.clone());
            }
        }
        aws.insert("eks".into(), Value::Object(merged));
        edits.push(("aws", to_vec(&Value::Object(aws))));
    }
    if let Some(origin) = identity.origin {
        edits.push(("origin", to_vec(&Value::from(origin))));
    }
    if !identity.metadata.is_empty() {
        let mut metadata: Map<String, Value> = top.parse("metadata").unwrap_or_default();
        let default = metadata
            .entry("default")
            .or_insert_with(|| Value::Object(Map::new()));
        if !default.is_object() {
            *default = Value::Object(Map::new());
        }
        if let Value::Object(default) = default {
            for (k, v) in &identity.metadata {
                default.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        edits.push(("metadata", to_vec(&Value::Object(metadata))));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    Ok(Some(top.splice(&edits)))
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::SegmentIds;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use std::sync::Arc;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
        }
    }

    fn segment(body: &str, resource: Option<Vec<KeyValue>>) -> Segment {
        let mut s = Segment::new(
            bytes::Bytes::from(body.to_owned()),
            SegmentIds::new("0123456789abcdef", "1-5f84c7a8-0123456789abcdef01234567").unwrap(),
            std::time::Instant::now(),
        );
        s.resource = resource.map(Arc::new);
        s
    }

    const DOC: &str = r#"{"name":"svc","id":"0123456789abcdef","trace_id":"1-5f84c7a8-0123456789abcdef01234567","start_time":1.5,"end_time":2.25,"aws":{"xray":{"sdk":"X-Ray for Python"}},"subsegments":[{"name":"s3","id":"1111111111111111","start_time":1.6,"end_time":1.7}]}"#;

    #[test]
    fn writes_the_eks_identity_into_the_top_level() {
        let mut s = segment(
            DOC,
            Some(vec![
                kv("k8s.cluster.name", "prod"),
                kv("k8s.pod.name", "web-1"),
                kv("k8s.namespace.name", "shop"),
            ]),
        );
        stamp(&mut s);
        assert!(s.resource.is_none());
        let doc: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(doc["aws"]["eks"]["cluster_name"], "prod");
        assert_eq!(doc["aws"]["eks"]["pod"], "web-1");
        assert_eq!(doc["aws"]["eks"]["container_id"], Value::Null);
        assert_eq!(doc["aws"]["xray"]["sdk"], "X-Ray for Python");
        assert_eq!(doc["origin"], "AWS::EKS::Container");
        assert_eq!(
            doc["metadata"]["default"]["otel.resource.k8s.namespace.name"],
            "shop"
        );
        // The members not edited keep their bytes.
        let body = std::str::from_utf8(&s.body).unwrap();
        assert!(body.starts_with(r#"{"name":"svc","id":"0123456789abcdef","trace_id":"1-5f84c7a8-0123456789abcdef01234567","start_time":1.5,"end_time":2.25,"aws":"#));
        assert!(body.contains(r#""subsegments":[{"name":"s3","id":"1111111111111111","start_time":1.6,"end_time":1.7}]"#));
    }

    #[test]
    fn documents_without_resource_or_subsegments_keep_their_bytes() {
        let mut s = segment(DOC, None);
        stamp(&mut s);
        assert_eq!(&s.body[..], DOC.as_bytes());
        let sub = r#"{"type":"subsegment","name":"x","id":"0123456789abcdef","parent_id":"1111111111111111","trace_id":"1-5f84c7a8-0123456789abcdef01234567","start_time":1,"end_time":2}"#;
        let mut s = segment(sub, Some(vec![kv("k8s.cluster.name", "prod")]));
        stamp(&mut s);
        assert_eq!(&s.body[..], sub.as_bytes());
        assert!(s.resource.is_none());
    }

    /// The focused measurement of the stamping stage (run under callgrind, see
    /// `collector/bench/callgrind.sh --stamp-unit`): stamps `STAMP_DOCS` documents as the X-Ray
    /// SDK sends them (with `aws.xray`), all from one pod, with the resource the default
    /// processors give them. The instructions per document are the difference between two runs.
    #[test]
    #[ignore]
    fn stamp_measurement() {
        let docs: usize = std::env::var("STAMP_DOCS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        let resource = Arc::new(vec![
            kv("k8s.cluster.name", "bench-cluster"),
            kv("k8s.pod.ip", "127.0.0.1"),
            kv("k8s.pod.name", "load-generator-7d4b9c6f5-x2x9q"),
            kv("k8s.pod.uid", "0f3c2a8e-1b7d-4c55-9e2f-6a1d3b5c7e90"),
            kv("k8s.namespace.name", "bench"),
            kv("k8s.node.name", "ip-10-0-1-23.ec2.internal"),
            kv("k8s.deployment.name", "load-generator"),
            kv("k8s.pod.start_time", "2026-12-04T08:00:00Z"),
        ]);
        let body = bytes::Bytes::from_static(
            br#"{"name":"checkout","id":"0123456789abcdef","trace_id":"1-5f84c7a8-0123456789abcdef01234567","start_time":1700000000.123,"end_time":1700000000.456,"http":{"request":{"method":"GET","url":"http://shop/checkout"},"response":{"status":200}},"aws":{"xray":{"sdk":"X-Ray for Java","sdk_version":"2.15.0"}},"annotations":{"tenant":"a"},"subsegments":[{"name":"dynamodb","id":"1111111111111111","start_time":1700000000.2,"end_time":1700000000.3,"namespace":"aws","aws":{"operation":"GetItem","table_name":"orders"}}]}"#,
        );
        let mut total = 0;
        for _ in 0..docs {
            let mut s = segment("{}", None);
            s.body = body.clone();
            s.resource = Some(resource.clone());
            stamp(&mut s);
            total += s.body.len();
        }
        assert!(docs == 0 || total > docs * body.len());
    }

    #[test]
    fn existing_metadata_and_eks_fields_are_merged() {
        let doc = r#"{"name":"a","aws":{"eks":{"container_id":"abc","pod":"old"}},"metadata":{"default":{"x":1},"app":{"y":2}}}"#;
        let mut s = segment(
            doc,
            Some(vec![kv("k8s.cluster.name", "c"), kv("k8s.pod.name", "new")]),
        );
        stamp(&mut s);
        let v: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(v["aws"]["eks"]["container_id"], "abc");
        assert_eq!(v["aws"]["eks"]["pod"], "new");
        assert_eq!(v["metadata"]["default"]["x"], 1);
        assert_eq!(v["metadata"]["app"]["y"], 2);
        assert_eq!(
            v["metadata"]["default"]["otel.resource.k8s.cluster.name"],
            "c"
        );
    }
}
