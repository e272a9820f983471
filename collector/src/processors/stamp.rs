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
//! Only the members it changes (`aws`, `origin`, `metadata`) are touched; the rest of the
//! document is copied byte for byte (`xray_doc::TopLevel`).
//!
//! The cost per document is one top-level scan and byte copies: everything that depends only on
//! the resource is built once per distinct resource ([`Prepared`]: the serialized `aws.eks`
//! member, `origin` value and `metadata.default` entries) and kept in a small per-thread cache,
//! found by the resource's `Arc` identity first and by its contents second (the documents of one
//! pod share one resource). The prepared members are spliced in as bytes: appended when the
//! document has no such member, inserted after the `{` of the document's `aws` object (no `eks`
//! in it), `metadata` object (no `default`) or `metadata.default` object (only the entries it
//! does not have). Anything else (the document already has `aws.eks`, a member that repeats or
//! is not an object) takes [`stamped`], the parse-and-merge path, which defines the semantics.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::InlineProcessor;
use super::resource_edit::SharedResource;
use super::xray_doc::{ScanError, TopLevel};
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
    let prepared = prepared(&resource);
    match prepared.stamp(&segment.body) {
        Ok(Some(body)) => segment.body = body,
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(id = segment.ids.id(), error = %e, "X-Ray document not stamped.")
        }
    }
}

/// How many distinct resources each thread keeps prepared.
const PREPARED_PER_THREAD: usize = 32;

/// A cached resource and its prepared stamp.
type PreparedEntry = (SharedResource, Rc<Prepared>);

thread_local! {
    static PREPARED: RefCell<Vec<PreparedEntry>> =
        const { RefCell::new(Vec::new()) };
}

/// The prepared stamp of `resource`, from this thread's cache or built (and cached).
fn prepared(resource: &SharedResource) -> Rc<Prepared> {
    PREPARED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let found = cache
            .iter()
            .position(|(r, _)| Arc::ptr_eq(r, resource))
            .or_else(|| cache.iter().position(|(r, _)| **r == **resource));
        if let Some(i) = found {
            if i > 0 {
                let entry = cache.remove(i);
                cache.insert(0, entry);
            }
            // A resource equal to a cached one takes its place, so that its clones hit by
            // identity from now on.
            if !Arc::ptr_eq(&cache[0].0, resource) {
                cache[0].0 = resource.clone();
            }
            return cache[0].1.clone();
        }
        let prepared = Rc::new(Prepared::new(xray_identity(resource)));
        cache.truncate(PREPARED_PER_THREAD - 1);
        cache.insert(0, (resource.clone(), prepared.clone()));
        prepared
    })
}

/// What stamping writes for one resource, serialized once.
pub struct Prepared {
    /// The identity, for documents that take the parse-and-merge path.
    identity: XrayIdentity,
    /// `"eks":{...}`, the member inserted into a document's `aws` object.
    eks_member: Option<Vec<u8>>,
    /// Each `aws.eks` entry, for documents that have an `aws.eks` object already (the X-Ray
    /// SDKs' EKS plugins write one).
    eks_entries: Vec<EksEntry>,
    /// `{"eks":{...}}`, the `aws` value of a document without one.
    aws_value: Option<Vec<u8>>,
    /// The `origin` value.
    origin: Option<Vec<u8>>,
    /// Each `metadata.default` entry: its key and `"key":value`.
    metadata_entries: Vec<(String, Vec<u8>)>,
    /// `{"default":{...}}`, the `metadata` value of a document without one.
    metadata_value: Vec<u8>,
}

/// One `aws.eks` entry of a [`Prepared`] stamp.
struct EksEntry {
    key: String,
    /// The value, unless it is `null` (which only fills a missing key).
    value: Option<Vec<u8>>,
    /// `"key":value`.
    member: Vec<u8>,
}

/// One change to a document: the byte range replaced (empty for an insertion) and the bytes.
type Patch<'a> = (std::ops::Range<usize>, std::borrow::Cow<'a, [u8]>);

/// A member added before the closing brace: its key and value.
type Appended<'a> = (&'static str, &'a [u8]);

impl Prepared {
    /// Serializes what `identity` writes.
    pub fn new(identity: XrayIdentity) -> Prepared {
        let eks_member = identity.eks.as_ref().map(|eks| {
            let mut m = b"\"eks\":".to_vec();
            m.extend_from_slice(&to_vec(&Value::Object(eks.clone())));
            m
        });
        let eks_entries = identity
            .eks
            .iter()
            .flatten()
            .map(|(k, v)| {
                let value = to_vec(v);
                let mut member = to_vec(&Value::from(k.as_str()));
                member.push(b':');
                member.extend_from_slice(&value);
                EksEntry {
                    key: k.clone(),
                    value: (!v.is_null()).then_some(value),
                    member,
                }
            })
            .collect();
        let aws_value = eks_member.as_ref().map(|m| {
            let mut v = Vec::with_capacity(m.len() + 2);
            v.push(b'{');
            v.extend_from_slice(m);
            v.push(b'}');
            v
        });
        let origin = identity.origin.map(|o| to_vec(&Value::from(o)));
        let metadata_entries: Vec<(String, Vec<u8>)> = identity
            .metadata
            .iter()
            .map(|(k, v)| {
                let mut m = to_vec(&Value::from(k.as_str()));
                m.push(b':');
                m.extend_from_slice(&to_vec(v));
                (k.clone(), m)
            })
            .collect();
        let mut metadata_value = b"{\"default\":{".to_vec();
        join(
            &mut metadata_value,
            metadata_entries.iter().map(|(_, m)| &m[..]),
        );
        metadata_value.extend_from_slice(b"}}");
        Prepared {
            identity,
            eks_member,
            eks_entries,
            aws_value,
            origin,
            metadata_entries,
            metadata_value,
        }
    }

    /// The document with the resource written in, or `None` when it is a subsegment or nothing
    /// changes; the same document as [`stamped`] gives, by splicing bytes where it can.
    pub fn stamp(&self, body: &[u8]) -> Result<Option<bytes::Bytes>, ScanError> {
        let top = TopLevel::scan(body)?;
        if top.parse::<&str>("type") == Some("subsegment") {
            return Ok(None);
        }
        if self.eks_member.is_none() && self.origin.is_none() && self.metadata_entries.is_empty() {
            return Ok(None);
        }
        match self.patches(&top, body) {
            Some((patches, appended)) => Ok(Some(apply(body, &top, patches, &appended))),
            None => stamped(body, &self.identity),
        }
    }

    /// The patches and appended members for `top`; `None` when the document needs the
    /// parse-and-merge path.
    fn patches<'s>(
        &'s self,
        top: &TopLevel<'_>,
        body: &[u8],
    ) -> Option<(Vec<Patch<'s>>, Vec<Appended<'s>>)> {
        let mut patches: Vec<Patch<'s>> = Vec::new();
        let mut appended: Vec<Appended<'s>> = Vec::new();
        if let (Some(eks_member), Some(aws_value)) = (&self.eks_member, &self.aws_value) {
            match only(top, "aws")? {
                None => appended.push(("aws", aws_value)),
                Some(range) => {
                    let inner = object(&body[range.clone()])?;
                    let mut ekses = inner.members().iter().filter(|m| m.key == "eks");
                    match (ekses.next(), ekses.next()) {
                        (None, _) => patches.push((
                            range.start + 1..range.start + 1,
                            with_comma(eks_member, !inner.members().is_empty()),
                        )),
                        (Some(eks), None) => {
                            let start = range.start + eks.value.start;
                            let raw = &body[start..range.start + eks.value.end];
                            self.merge_eks(raw, start, &mut patches)?;
                        }
                        (Some(_), Some(_)) => return None,
                    }
                }
            }
        }
        if let Some(origin) = &self.origin {
            let mut found = false;
            for m in top.members().iter().filter(|m| m.key == "origin") {
                found = true;
                patches.push((m.value.clone(), std::borrow::Cow::Borrowed(&origin[..])));
            }
            if !found {
                appended.push(("origin", origin));
            }
        }
        if !self.metadata_entries.is_empty() {
            match only(top, "metadata")? {
                None => appended.push(("metadata", &self.metadata_value)),
                Some(range) => {
                    let raw = &body[range.clone()];
                    let inner = object(raw)?;
                    let mut defaults = inner.members().iter().filter(|m| m.key == "default");
                    match (defaults.next(), defaults.next()) {
                        (None, _) => {
                            // `"default":{...}` is the metadata value without its braces.
                            let member = &self.metadata_value[1..self.metadata_value.len() - 1];
                            patches.push((
                                range.start + 1..range.start + 1,
                                with_comma(member, !inner.members().is_empty()),
                            ));
                        }
                        (Some(default), None) => {
                            let start = range.start + default.value.start;
                            let default = object(&raw[default.value.clone()])?;
                            let have = default.members();
                            let mut insert = Vec::new();
                            join(
                                &mut insert,
                                self.metadata_entries
                                    .iter()
                                    .filter(|(k, _)| !have.iter().any(|m| m.key == k.as_str()))
                                    .map(|(_, m)| &m[..]),
                            );
                            if !insert.is_empty() {
                                if !have.is_empty() {
                                    insert.push(b',');
                                }
                                patches.push((start + 1..start + 1, insert.into()));
                            }
                        }
                        (Some(_), Some(_)) => return None,
                    }
                }
            }
        }
        Some((patches, appended))
    }
}

impl Prepared {
    /// The patches that merge the identity into the document's `aws.eks` object `raw` (at
    /// `start` in the document), as the parse-and-merge path does: each of the identity's
    /// non-null values replaces the document's value of that key (every occurrence, so the last
    /// one, which a parser keeps, is the identity's), and each key the document lacks is
    /// inserted; the document's other keys stay as they are. `None` when `raw` is not an object.
    fn merge_eks<'s>(
        &'s self,
        raw: &[u8],
        start: usize,
        patches: &mut Vec<Patch<'s>>,
    ) -> Option<()> {
        let eks = object(raw)?;
        let have = eks.members();
        let mut insert = Vec::new();
        for entry in &self.eks_entries {
            let mut found = false;
            for m in have.iter().filter(|m| m.key == entry.key.as_str()) {
                found = true;
                if let Some(value) = &entry.value {
                    patches.push((
                        start + m.value.start..start + m.value.end,
                        std::borrow::Cow::Borrowed(&value[..]),
                    ));
                }
            }
            if !found {
                if !insert.is_empty() {
                    insert.push(b',');
                }
                insert.extend_from_slice(&entry.member);
            }
        }
        if !insert.is_empty() {
            if !have.is_empty() {
                insert.push(b',');
            }
            patches.push((start + 1..start + 1, insert.into()));
        }
        Some(())
    }
}

/// The value range of the only member `key`: `Some(None)` when absent, `None` when it repeats.
fn only(top: &TopLevel<'_>, key: &str) -> Option<Option<std::ops::Range<usize>>> {
    let mut found = top.members().iter().filter(|m| m.key == key);
    match (found.next(), found.next()) {
        (None, _) => Some(None),
        (Some(m), None) => Some(Some(m.value.clone())),
        _ => None,
    }
}

/// The members of `raw` when it is a valid JSON object (as the parse-and-merge path reads it).
fn object(raw: &[u8]) -> Option<TopLevel<'_>> {
    if raw.first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(raw).ok()?;
    TopLevel::scan(raw).ok()
}

/// `member`, followed by a comma when more members follow it.
fn with_comma(member: &[u8], comma: bool) -> std::borrow::Cow<'_, [u8]> {
    if comma {
        let mut v = Vec::with_capacity(member.len() + 1);
        v.extend_from_slice(member);
        v.push(b',');
        v.into()
    } else {
        member.into()
    }
}

/// Appends `parts` to `out`, separated by commas.
fn join<'a>(out: &mut Vec<u8>, parts: impl Iterator<Item = &'a [u8]>) {
    for (i, part) in parts.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
}

/// `body` with `patches` (in any order, not overlapping) applied and `appended` members added
/// before the closing brace.
fn apply(
    body: &[u8],
    top: &TopLevel<'_>,
    mut patches: Vec<Patch<'_>>,
    appended: &[(&str, &[u8])],
) -> bytes::Bytes {
    patches.sort_by_key(|(range, _)| range.start);
    let extra: usize = patches.iter().map(|(_, b)| b.len()).sum::<usize>()
        + appended
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>();
    let mut out = Vec::with_capacity(body.len() + extra);
    let mut at = 0;
    for (range, bytes) in &patches {
        out.extend_from_slice(&body[at..range.start]);
        out.extend_from_slice(bytes);
        at = range.end;
    }
    let close = top.close();
    out.extend_from_slice(&body[at..close]);
    let mut empty = top.members().is_empty();
    for (key, value) in appended {
        if !empty {
            out.push(b',');
        }
        empty = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&body[close..]);
    bytes::Bytes::from(out)
}

/// The document with `identity` written in, or `None` when it is a subsegment or nothing changes:
/// the parse-and-merge path (the members it changes are parsed, merged and re-serialized), which
/// [`Prepared::stamp`] takes for the documents it cannot splice and is tested against.
pub fn stamped(body: &[u8], identity: &XrayIdentity) -> Result<Option<bytes::Bytes>, ScanError> {
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

    /// A JSON value to render with random whitespace and escapes.
    #[derive(Debug, Clone)]
    enum J {
        Raw(&'static str),
        Str(String),
        Arr(Vec<J>),
        Obj(Vec<(String, J)>),
    }

    /// Renders `j`; `ws` picks the whitespace around each token, `escape` whether keys are
    /// written with a `\u` escape for their first character.
    fn render(j: &J, ws: &mut impl Iterator<Item = u8>, escape: bool, out: &mut String) {
        fn space(ws: &mut impl Iterator<Item = u8>, out: &mut String) {
            out.push_str(match ws.next().unwrap_or(0) % 4 {
                0 | 1 => "",
                2 => " ",
                _ => "\n\t ",
            })
        }
        match j {
            J::Raw(r) => out.push_str(r),
            J::Str(v) => out.push_str(&serde_json::to_string(v).unwrap()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(ws, out);
                    render(item, ws, escape, out);
                    space(ws, out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                space(ws, out);
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        space(ws, out);
                    }
                    let key = serde_json::to_string(k).unwrap();
                    match (escape, k.chars().next()) {
                        (true, Some(c)) if c.is_ascii_alphanumeric() => {
                            out.push_str(&format!("\"\\u{:04x}{}", c as u32, &key[2..]))
                        }
                        _ => out.push_str(&key),
                    }
                    space(ws, out);
                    out.push(':');
                    space(ws, out);
                    render(v, ws, escape, out);
                    space(ws, out);
                }
                out.push('}');
            }
        }
    }

    fn scalar() -> impl Strategy<Value = J> {
        prop_oneof![
            Just(J::Raw("null")),
            Just(J::Raw("true")),
            Just(J::Raw("-1.50e2")),
            Just(J::Raw("12345678901234567890")),
            "[a-z\"\\\\\u{e9}\n]{0,6}".prop_map(J::Str),
        ]
    }

    fn value() -> impl Strategy<Value = J> {
        scalar().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(J::Arr),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(J::Obj),
            ]
        })
    }

    /// An object whose keys come from `keys` (so they collide with what stamping writes).
    fn object_of(keys: &'static [&'static str], values: BoxedStrategy<J>) -> BoxedStrategy<J> {
        prop::collection::vec((prop::sample::select(keys), values), 0..4)
            .prop_map(|members| {
                J::Obj(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            })
            .boxed()
    }

    fn document() -> impl Strategy<Value = J> {
        let eks = prop_oneof![
            object_of(
                &["pod", "container_id", "cluster_name", "other"],
                scalar().boxed()
            ),
            scalar().boxed(),
        ];
        let aws = prop_oneof![
            3 => object_of(&["xray", "eks", "ecs", "operation"], prop_oneof![
                value().boxed(),
                eks.clone().boxed(),
            ].boxed()),
            1 => scalar().boxed(),
        ];
        let default = prop_oneof![
            3 => object_of(
                &["otel.resource.k8s.pod.name", "otel.resource.k8s.cluster.name", "x", "y"],
                value().boxed(),
            ),
            1 => scalar().boxed(),
        ];
        let metadata = prop_oneof![
            3 => object_of(&["default", "app", "debug"], prop_oneof![
                default.boxed(),
                value().boxed(),
            ].boxed()),
            1 => scalar().boxed(),
        ];
        let member = prop_oneof![
            4 => ("[a-z]{1,5}", value()),
            2 => aws.prop_map(|v| ("aws".to_owned(), v)),
            2 => metadata.prop_map(|v| ("metadata".to_owned(), v)),
            1 => value().prop_map(|v| ("origin".to_owned(), v)),
            1 => prop_oneof![Just("subsegment"), Just("segment")]
                .prop_map(|t| ("type".to_owned(), J::Str(t.to_owned()))),
        ];
        prop::collection::vec(member, 0..6).prop_map(J::Obj)
    }

    fn resource() -> impl Strategy<Value = Vec<KeyValue>> {
        const KEYS: [&str; 6] = [
            "k8s.cluster.name",
            "k8s.pod.name",
            "container.id",
            "k8s.namespace.name",
            "cloud.platform",
            "x",
        ];
        prop::collection::vec(
            (
                prop::sample::select(&KEYS[..]),
                prop_oneof![
                    Just("aws_eks".to_owned()),
                    Just("aws_ec2".to_owned()),
                    "[a-z\"\\\\\u{e9}]{0,5}",
                ],
            ),
            0..6,
        )
        .prop_map(|attrs| attrs.into_iter().map(|(k, v)| kv(k, &v)).collect())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The splicing path gives the same document as the parse-and-merge path.
        #[test]
        fn splicing_matches_parse_and_merge(
            doc in document(),
            ws in prop::collection::vec(any::<u8>(), 64),
            escape in any::<bool>(),
            resource in resource(),
        ) {
            let mut body = String::new();
            render(&doc, &mut ws.into_iter().cycle(), escape, &mut body);
            let identity = xray_identity(&resource);
            let oracle = stamped(body.as_bytes(), &identity);
            let fast = Prepared::new(xray_identity(&resource)).stamp(body.as_bytes());
            match (oracle, fast) {
                (Ok(None), Ok(None)) => {}
                (Ok(Some(a)), Ok(Some(b))) => {
                    let a: Value = serde_json::from_slice(&a).unwrap();
                    let b: Value = serde_json::from_slice(&b)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&b))))?;
                    prop_assert_eq!(a, b, "{}", body);
                }
                (a, b) => prop_assert!(false, "{body}: {a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn the_sdks_document_is_spliced_byte_for_byte() {
        let resource = vec![kv("k8s.cluster.name", "prod"), kv("k8s.pod.name", "web-1")];
        let prepared = Prepared::new(xray_identity(&resource));
        let out = prepared.stamp(DOC.as_bytes()).unwrap().unwrap();
        let eks = std::str::from_utf8(prepared.eks_member.as_deref().unwrap()).unwrap();
        let metadata = std::str::from_utf8(&prepared.metadata_value).unwrap();
        let expected = DOC
            .replace(r#""aws":{"xray""#, &format!(r#""aws":{{{eks},"xray""#))
            .replace(
                "}]}",
                &format!(r#"}}],"origin":"AWS::EKS::Container","metadata":{metadata}}}"#),
            );
        assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
        // A document that has `metadata.default` gets only the entries it lacks.
        let doc = r#"{"metadata":{"default":{"otel.resource.k8s.pod.name":"mine"}}}"#;
        let out = prepared.stamp(doc.as_bytes()).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["metadata"]["default"]["otel.resource.k8s.pod.name"],
            "mine"
        );
        assert_eq!(
            v["metadata"]["default"]["otel.resource.k8s.cluster.name"],
            "prod"
        );
        assert!(std::str::from_utf8(&out).unwrap().starts_with(
            r#"{"metadata":{"default":{"otel.resource.k8s.cluster.name":"prod","otel.resource.k8s.pod.name":"mine"}}"#
        ));
    }

    #[test]
    fn an_existing_aws_eks_object_is_merged_in_place() {
        // What the X-Ray SDKs' EKS plugins send: `aws.eks` with the pod (from the hostname) and
        // the container id, in their own key order.
        let doc = r#"{"name":"svc","aws":{"xray":{"sdk":"X-Ray for Java"},"eks":{"pod":"web-1-from-hostname","container_id":"c0ffee"}},"id":"0123456789abcdef"}"#;
        let resource = vec![kv("k8s.cluster.name", "prod"), kv("k8s.pod.name", "web-1")];
        let prepared = Prepared::new(xray_identity(&resource));
        let out = prepared.stamp(doc.as_bytes()).unwrap().unwrap();
        let out = std::str::from_utf8(&out).unwrap();
        // Spliced, not re-serialized: the document's keys keep their order, the identity's
        // values replace the document's, the missing key is inserted first.
        assert!(
            out.starts_with(r#"{"name":"svc","aws":{"xray":{"sdk":"X-Ray for Java"},"eks":{"cluster_name":"prod","pod":"web-1","container_id":"c0ffee"}},"id":"0123456789abcdef","#),
            "{out}"
        );
        let reference = stamped(doc.as_bytes(), &prepared.identity)
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(out).unwrap(),
            serde_json::from_slice::<Value>(&reference).unwrap()
        );
        // A repeated key: every occurrence gets the identity's value, so the last one does; a
        // key the resource has no value for is written as `null` only where the document lacks it.
        let doc = r#"{"aws":{"eks":{"pod":"a","pod":"b"}}}"#;
        let out = prepared.stamp(doc.as_bytes()).unwrap().unwrap();
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .starts_with(r#"{"aws":{"eks":{"cluster_name":"prod","container_id":null,"pod":"web-1","pod":"web-1"}}"#),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn equal_resources_share_one_prepared_stamp() {
        let a = Arc::new(vec![kv("k8s.cluster.name", "shared-test")]);
        let b = Arc::new(vec![kv("k8s.cluster.name", "shared-test")]);
        let c = Arc::new(vec![kv("k8s.cluster.name", "other-test")]);
        assert!(Rc::ptr_eq(&prepared(&a), &prepared(&b)));
        assert!(Rc::ptr_eq(&prepared(&a), &prepared(&a)));
        assert!(!Rc::ptr_eq(&prepared(&a), &prepared(&c)));
    }
}
