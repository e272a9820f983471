//! Property tests of the X-Ray → OTLP conversion (`translate::from_xray`).
//!
//! 1. Round trip: generated segment documents (nested embedded subsegments, independent
//!    subsegments, random ids, times, in-progress states, flags, HTTP statuses, causes,
//!    annotations, metadata, SQL and AWS blocks) converted to OTLP and back through the X-Ray
//!    exporter's translation keep what `from_xray/round_trip.rs` lists.
//! 2. Hostile input: arbitrary bytes, truncated or byte-flipped documents and documents with
//!    fields of arbitrary JSON types never panic; each document either converts completely (one
//!    span per (sub)segment) or lands in `failed`, never both and never partly.

use crate::round_trip;

use std::time::Instant;

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use xray_collector::receivers::awsxray::datagram;
use xray_collector::traces::{Segment, SegmentIds};
use xray_collector::translate::from_xray::{FromXray, to_otlp};

/// Characters of generated names: X-Ray's name alphabet (letters, digits, space and
/// `_.:/%&#=+-@`), with some non-ASCII letters.
const NAME_CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'M', 'Z', '0', '1', '9', ' ', '_', '.', ':', '/', '%', '&',
    '#', '=', '+', '-', '@', 'é', 'ü', 'ß', 'ж', '日',
];

fn name() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&NAME_CHARS[..11]),
        proptest::collection::vec(proptest::sample::select(NAME_CHARS), 0..24),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect())
}

fn annotation_key() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z_][A-Za-z0-9_]{0,12}").unwrap()
}

/// A scalar annotation value of X-Ray's kinds: string, integer, finite float or boolean.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::string::string_regex("[ -~]{0,16}")
            .unwrap()
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

/// An HTTP status, mostly ordinary, sometimes at or beyond the edges of the classes.
fn http_status() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 100i64..600,
        1 => proptest::sample::select(vec![0i64, 99, 398, 399, 400, 429, 499, 500, 599, 600, 999]),
    ]
}

/// The parts of a (sub)segment that do not depend on its place in the tree.
#[derive(Debug, Clone)]
struct Body {
    name: String,
    start_offset_micros: u64,
    duration_micros: Option<u64>,
    in_progress_false: bool,
    flags: [Option<bool>; 3],
    http: Option<(Option<String>, Option<i64>)>,
    cause: u8,
    annotations: Vec<(String, Value)>,
    metadata: Option<Value>,
    namespace: u8,
    sql: bool,
    aws: bool,
}

fn body() -> impl Strategy<Value = Body> {
    (
        (
            name(),
            0u64..5_000_000,
            proptest::option::weighted(0.9, 0u64..100_000_000),
            any::<bool>(),
            [
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
            ],
        ),
        (
            proptest::option::of((
                proptest::option::of(proptest::sample::select(vec!["GET", "POST", "READ"]))
                    .prop_map(|m| m.map(str::to_string)),
                proptest::option::of(http_status()),
            )),
            0u8..4,
            proptest::collection::vec((annotation_key(), scalar()), 0..4),
            proptest::option::of(
                scalar().prop_map(|v| json!({"default": {"v": v}, "app": {"k": [v]}})),
            ),
            0u8..4,
            proptest::bool::weighted(0.2),
            proptest::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |(
                (name, start_offset_micros, duration_micros, in_progress_false, flags),
                (http, cause, annotations, metadata, namespace, sql, aws),
            )| Body {
                name,
                start_offset_micros,
                duration_micros,
                in_progress_false,
                flags,
                http,
                cause,
                annotations,
                metadata,
                namespace,
                sql,
                aws,
            },
        )
}

/// A tree of (sub)segment bodies.
#[derive(Debug, Clone)]
struct Tree {
    body: Body,
    children: Vec<Tree>,
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = body().prop_map(|body| Tree {
        body,
        children: Vec::new(),
    });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (body(), proptest::collection::vec(inner, 0..3))
            .prop_map(|(body, children)| Tree { body, children })
    })
}

/// Where a document sits: a segment (optionally with an upstream parent) or an independent
/// subsegment.
#[derive(Debug, Clone, Copy)]
enum Top {
    Segment { with_parent: bool, client_ip: bool },
    Independent,
}

fn top() -> impl Strategy<Value = Top> {
    prop_oneof![
        3 => (any::<bool>(), any::<bool>())
            .prop_map(|(with_parent, client_ip)| Top::Segment { with_parent, client_ip }),
        1 => Just(Top::Independent),
    ]
}

/// Hands out unique non-zero ids from a random base.
struct Ids {
    base: u64,
    next: u64,
}

impl Ids {
    fn next(&mut self) -> String {
        loop {
            self.next += 1;
            let id = self
                .base
                .wrapping_add(self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            if id != 0 {
                return format!("{id:016x}");
            }
        }
    }
}

/// Renders one (sub)segment of a document.
fn render(
    tree: &Tree,
    ids: &mut Ids,
    epoch_micros: u64,
    embedded: bool,
    trace_id: &str,
) -> Map<String, Value> {
    let b = &tree.body;
    let mut doc = Map::new();
    doc.insert("name".into(), b.name.clone().into());
    doc.insert("id".into(), ids.next().into());
    let start = epoch_micros + b.start_offset_micros;
    doc.insert("start_time".into(), seconds(start));
    match b.duration_micros {
        Some(duration) => {
            doc.insert("end_time".into(), seconds(start + duration));
            if b.in_progress_false {
                doc.insert("in_progress".into(), false.into());
            }
        }
        None => {
            doc.insert("in_progress".into(), true.into());
        }
    }
    // The Python SDK repeats the trace id in embedded subsegments; others leave it out.
    if !embedded || b.in_progress_false {
        doc.insert("trace_id".into(), trace_id.into());
    }
    for (key, flag) in ["error", "fault", "throttle"].into_iter().zip(b.flags) {
        if let Some(flag) = flag {
            doc.insert(key.into(), flag.into());
        }
    }
    if let Some((method, status)) = &b.http {
        let mut http = Map::new();
        if let Some(method) = method {
            http.insert(
                "request".into(),
                json!({"method": method, "url": "https://api.example.com/items?x=1"}),
            );
        }
        if let Some(status) = status {
            http.insert(
                "response".into(),
                json!({"status": status, "content_length": 17}),
            );
        }
        doc.insert("http".into(), Value::Object(http));
    }
    match b.cause {
        1 => {
            doc.insert("cause".into(), ids.next().into());
        }
        2 => {
            doc.insert(
                "cause".into(),
                json!({"working_directory": "/app", "exceptions": [
                    {"id": ids.next(), "type": "ValueError", "message": "bad", "remote": true,
                     "stack": [{"path": "app.py", "line": 3, "label": "f"}]}
                ]}),
            );
        }
        _ => {}
    }
    if !b.annotations.is_empty() {
        let annotations: Map<String, Value> = b.annotations.iter().cloned().collect();
        doc.insert("annotations".into(), Value::Object(annotations));
    }
    if let Some(metadata) = &b.metadata {
        doc.insert("metadata".into(), metadata.clone());
    }
    if b.sql {
        doc.insert(
            "sql".into(),
            json!({"url": "postgresql://app@db.example.com:5432/orders", "database_type": "PostgreSQL",
                   "user": "app", "sanitized_query": "SELECT 1"}),
        );
    }
    if b.aws {
        doc.insert(
            "aws".into(),
            json!({"operation": "GetItem", "region": "us-west-2", "request_id": "R1",
                   "table_name": "orders", "retries": 1}),
        );
    }
    if !tree.children.is_empty() {
        let children = tree
            .children
            .iter()
            .map(|child| {
                let mut sub = render(child, ids, epoch_micros, true, trace_id);
                match child.body.namespace {
                    1 => sub.insert("namespace".into(), "aws".into()),
                    2 => sub.insert("namespace".into(), "remote".into()),
                    3 => sub.insert("namespace".into(), "local".into()),
                    _ => None,
                };
                Value::Object(sub)
            })
            .collect();
        doc.insert("subsegments".into(), Value::Array(children));
    }
    doc
}

fn seconds(micros: u64) -> Value {
    Value::from(micros as f64 / 1e6)
}

/// A batch of documents of one or two traces.
fn documents() -> impl Strategy<Value = Vec<Value>> {
    (
        proptest::collection::vec((tree(), top()), 1..4),
        any::<u64>(),
        // Epoch seconds from 2017 to 2036, as X-Ray trace ids carry.
        1_500_000_000u64..2_100_000_000,
        any::<u128>(),
    )
        .prop_map(|(docs, base, epoch, random)| {
            let random = random | 1;
            let trace_id = format!("1-{epoch:08x}-{:024x}", random & ((1u128 << 96) - 1));
            let mut ids = Ids { base, next: 0 };
            docs.iter()
                .map(|(tree, top)| {
                    let mut doc = render(tree, &mut ids, epoch * 1_000_000, false, &trace_id);
                    match *top {
                        Top::Segment {
                            with_parent,
                            client_ip,
                        } => {
                            if with_parent {
                                doc.insert("parent_id".into(), ids.next().into());
                            }
                            if client_ip {
                                let http = doc
                                    .entry("http")
                                    .or_insert_with(|| json!({}))
                                    .as_object_mut()
                                    .unwrap();
                                let request = http
                                    .entry("request")
                                    .or_insert_with(|| json!({}))
                                    .as_object_mut()
                                    .unwrap();
                                request.insert("client_ip".into(), "198.51.100.4".into());
                                request.insert("x_forwarded_for".into(), true.into());
                            }
                            doc.insert(
                                "aws".into(),
                                json!({"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}}),
                            );
                            doc.insert("origin".into(), "AWS::EKS::Container".into());
                            doc.insert("user".into(), "u-1".into());
                        }
                        Top::Independent => {
                            doc.insert("type".into(), "subsegment".into());
                            doc.insert("parent_id".into(), ids.next().into());
                            if tree.body.namespace % 2 == 1 {
                                doc.insert("namespace".into(), "remote".into());
                            }
                        }
                    }
                    Value::Object(doc)
                })
                .collect()
        })
}

fn segment(body: Vec<u8>) -> Segment {
    Segment {
        body: Bytes::from(body),
        ids: SegmentIds::new("0123456789abcdef", "").unwrap(),
        received_at: Instant::now(),
        source: None,
        resource: None,
    }
}

/// The number of (sub)segments in a document, when it is an object with a subsegment tree.
fn node_count(doc: &Value) -> usize {
    1 + doc
        .get("subsegments")
        .and_then(Value::as_array)
        .map_or(0, |subs| subs.iter().map(node_count).sum())
}

fn span_count(converted: &FromXray) -> usize {
    converted
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

/// Replaces the value at a pseudo-random position of `doc`'s tree with `replacement`.
fn replace_somewhere(doc: &mut Value, mut pick: usize, replacement: Value) {
    fn slots(value: &Value) -> usize {
        match value {
            Value::Object(map) => map.values().map(|v| 1 + slots(v)).sum(),
            Value::Array(items) => items.iter().map(|v| 1 + slots(v)).sum(),
            _ => 0,
        }
    }
    fn walk(value: &mut Value, pick: &mut usize, replacement: &mut Option<Value>) {
        let children: Vec<&mut Value> = match value {
            Value::Object(map) => map.values_mut().collect(),
            Value::Array(items) => items.iter_mut().collect(),
            _ => return,
        };
        for child in children {
            if replacement.is_none() {
                return;
            }
            if *pick == 0 {
                *child = replacement.take().unwrap();
                return;
            }
            *pick -= 1;
            walk(child, pick, replacement);
        }
    }
    let total = slots(doc);
    if total == 0 {
        return;
    }
    pick %= total;
    walk(doc, &mut pick, &mut Some(replacement));
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("1-5759e988-bd862e3fe1be46a994272793")),
        Just(Value::from("53995c3f42cd8ad8")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z_]{1,10}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn segments_survive_the_round_trip(documents in documents()) {
        // Every generated document is one the UDP receiver hands on, with the ids it read.
        let mut segments = Vec::new();
        for doc in &documents {
            let body = serde_json::to_vec(doc).unwrap();
            let ids = datagram::check_body(&body);
            prop_assert!(ids.is_ok(), "the receiver refuses {doc}: {ids:?}");
            segments.push(Segment { ids: ids.unwrap(), ..segment(body) });
        }
        let converted = to_otlp(&segments);
        prop_assert_eq!(
            span_count(&converted),
            documents.iter().map(node_count).sum::<usize>()
        );
        if let Err(problems) = round_trip::check(&documents, &converted) {
            return Err(TestCaseError::fail(format!(
                "{problems}\ndocuments: {}",
                serde_json::to_string_pretty(&documents).unwrap()
            )));
        }
    }

    #[test]
    fn arbitrary_bytes_fail_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let converted = to_otlp(&[segment(body.clone())]);
        // Random bytes are never a document with a name, an id, a start time and a trace id.
        prop_assert_eq!(converted.failed.len(), 1, "{:?}", String::from_utf8_lossy(&body));
        prop_assert_eq!(span_count(&converted), 0);
    }

    #[test]
    fn damaged_documents_convert_whole_or_fail_whole(
        documents in documents(),
        cut in any::<usize>(),
        flip in any::<(usize, u8)>(),
        pick in any::<usize>(),
        replacement in any_json(),
    ) {
        let doc = &documents[0];
        let text = serde_json::to_vec(doc).unwrap();
        let truncated = text[..cut % text.len()].to_vec();
        let mut flipped = text.clone();
        let at = flip.0 % flipped.len();
        flipped[at] ^= flip.1 | 1;
        let mut retyped = doc.clone();
        replace_somewhere(&mut retyped, pick, replacement);
        for body in [truncated, flipped, serde_json::to_vec(&retyped).unwrap()] {
            let converted = to_otlp(&[segment(body.clone())]);
            let spans = span_count(&converted);
            let whole = serde_json::from_slice::<Value>(&body).map(|v| node_count(&v)).unwrap_or(0);
            prop_assert!(
                (converted.failed.len() == 1 && spans == 0)
                    || (converted.failed.is_empty() && spans == whole),
                "{} failed, {spans} spans of {whole}: {}",
                converted.failed.len(),
                String::from_utf8_lossy(&body)
            );
        }
    }
}
