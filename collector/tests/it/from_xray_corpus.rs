//! The X-Ray → OTLP converter on a generated corpus, against recorded outputs.
//!
//! `from_xray/generated/corpus.jsonl` holds, one batch per line, documents generated from a fixed
//! seed (valid X-Ray fields mixed with repeated keys, escaped keys and strings, fields of the wrong
//! type, odd number spellings and broken JSON), the OTLP/JSON `ExportTraceServiceRequest` they
//! convert to and the documents that fail, with their messages. The outputs were recorded when the
//! converter agreed, byte for byte, with the `serde_json::Value` converter it replaced. The test
//! regenerates the documents from the seed (they must equal the recorded ones), converts each
//! batch and compares the spans (as JSON and as encoded protobuf) and the failures.
//!
//! `XRB_BLESS=1` rewrites the file from the current converter, for review with `git diff`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use prost::Message as _;
use serde_json::{Value, json};
use xray_collector::traces::{Segment, SegmentIds};
use xray_collector::translate::from_xray::to_otlp;

/// The seed of the corpus.
const SEED: [u8; 32] = *b"xray-blueprints from_xray corpus";
/// The number of batches; each holds one to five documents.
const BATCHES: usize = 240;

fn corpus_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/from_xray/generated/corpus.jsonl")
}

/// The batches of documents the seed gives.
fn generate() -> Vec<Vec<Vec<u8>>> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
    );
    let batch = proptest::collection::vec(document(), 1..6);
    (0..BATCHES)
        .map(|_| {
            batch
                .new_tree(&mut runner)
                .expect("the strategy generates")
                .current()
        })
        .collect()
}

/// A document as the file holds it: its text when it is UTF-8, else `{"hex": ...}`.
fn document_json(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({"hex": body.iter().map(|b| format!("{b:02x}")).collect::<String>()}),
    }
}

/// Converts one batch into what the file records for it: `{documents, expected, expected_failed}`.
fn record(bodies: &[Vec<u8>]) -> (Value, Vec<u8>) {
    // Each document has its own segment id, so that a failure names its document.
    let segments: Vec<Segment> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| Segment {
            body: Bytes::from(body.clone()),
            ids: SegmentIds::new(&format!("{index:016x}"), "").expect("valid ids"),
            received_at: Instant::now(),
            source: None,
            resource: None,
        })
        .collect();
    let converted = to_otlp(&segments);
    let request = ExportTraceServiceRequest {
        resource_spans: converted.resource_spans.clone(),
    };
    let failed: Vec<Value> = converted
        .failed
        .iter()
        .map(|failed| {
            let index = usize::from_str_radix(failed.ids.id(), 16).expect("an index id");
            json!({"document": index, "error": failed.error})
        })
        .collect();
    let line = json!({
        "documents": bodies.iter().map(|b| document_json(b)).collect::<Vec<_>>(),
        "expected": serde_json::to_value(&request).expect("OTLP/JSON"),
        "expected_failed": failed,
    });
    (line, request.encode_to_vec())
}

#[test]
fn generated_corpus_converts_as_recorded() {
    let batches = generate();
    let path = corpus_file();
    if harness::bless() {
        let mut text = String::new();
        for bodies in &batches {
            text.push_str(&serde_json::to_string(&record(bodies).0).unwrap());
            text.push('\n');
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (XRB_BLESS=1 records it)", path.display()));
    let recorded: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(
        recorded.len(),
        batches.len(),
        "{} has {} batches, the seed gives {}; XRB_BLESS=1 re-records it",
        path.display(),
        recorded.len(),
        batches.len()
    );
    let mut failures = Vec::new();
    let (mut documents, mut failed) = (0, 0);
    for (index, (bodies, want)) in batches.iter().zip(&recorded).enumerate() {
        let line = index + 1;
        let (got, encoded) = record(bodies);
        documents += bodies.len();
        failed += got["expected_failed"].as_array().unwrap().len();
        if got["documents"] != want["documents"] {
            failures.push(format!(
                "line {line}: the seed now generates other documents (the generator changed); \
                 XRB_BLESS=1 re-records the corpus\n  got:  {}\n  want: {}",
                got["documents"], want["documents"]
            ));
            continue;
        }
        if got["expected_failed"] != want["expected_failed"] {
            failures.push(format!(
                "line {line}: failed documents differ\n  got:  {}\n  want: {}",
                got["expected_failed"], want["expected_failed"]
            ));
        }
        if got["expected"] != want["expected"] {
            failures.push(format!(
                "line {line}: spans differ\n  got:  {}\n  want: {}",
                got["expected"], want["expected"]
            ));
            continue;
        }
        let want_request: ExportTraceServiceRequest =
            serde_json::from_value(want["expected"].clone()).expect("recorded OTLP/JSON");
        if want_request.encode_to_vec() != encoded {
            failures.push(format!("line {line}: the encoded protobuf differs"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} batches differ from {}:\n\n{}",
        failures.len(),
        batches.len(),
        path.display(),
        failures.join("\n\n")
    );
    // The corpus exercises both outcomes.
    assert!(documents > 2 * BATCHES, "{documents} documents");
    assert!(
        failed > 0 && failed < documents,
        "{failed} of {documents} failed"
    );
}

/// Keys that mean something somewhere in a document, an escaped `name`, and one unknown key.
const KEYS: &[&str] = &[
    "name",
    "id",
    "trace_id",
    "parent_id",
    "start_time",
    "end_time",
    "type",
    "namespace",
    "in_progress",
    "user",
    "http",
    "request",
    "response",
    "method",
    "client_ip",
    "user_agent",
    "url",
    "x_forwarded_for",
    "status",
    "content_length",
    "cause",
    "exceptions",
    "message",
    "stack",
    "line",
    "label",
    "path",
    "remote",
    "truncated",
    "skipped",
    "error",
    "fault",
    "throttle",
    "aws",
    "account_id",
    "operation",
    "region",
    "request_id",
    "queue_url",
    "table_name",
    "table_names",
    "retries",
    "sql",
    "connection_string",
    "database_type",
    "sanitized_query",
    "traced",
    "annotations",
    "metadata",
    "links",
    "attributes",
    "subsegments",
    "origin",
    "service",
    "version",
    "runtime",
    "runtime_version",
    "resource_arn",
    "xray",
    "sdk",
    "sdk_version",
    "ec2",
    "ecs",
    "eks",
    "elastic_beanstalk",
    "cloudwatch_logs",
    "arn",
    "log_group",
    "availability_zone",
    "instance_id",
    "instance_size",
    "ami_id",
    "container",
    "container_id",
    "task_arn",
    "task_family",
    "cluster_arn",
    "container_arn",
    "launch_type",
    "environment_name",
    "deployment_id",
    "version_label",
    "cluster_name",
    "pod",
    "\\u006eame",
    "k\\u00e9y",
    "zz",
];

/// String contents (JSON-escaped already) of the kinds the converter looks at.
const STRINGS: &[&str] = &[
    "",
    "svc",
    "DynamoDB",
    "aws",
    "remote",
    "local",
    "subsegment",
    "SubSegment",
    "1-5759e988-bd862e3fe1be46a994272793",
    "1-00000000-000000000000000000000000",
    "1-5759e988-bd862e3fe1be46a99427279g",
    "53995c3f42cd8ad8",
    "53995C3F42CD8AD8",
    "0000000000000000",
    "X-Ray for Python",
    "X-Ray for Node.js",
    "X-Ray for .NET Core ",
    "AWS::ECS::Fargate",
    "AWS::EC2::Instance",
    "AWS::EKS::Container",
    "jdbc:postgresql://db:5432/orders?ssl=1",
    "mysql://host",
    "GET",
    "caf\\u00e9 \\\"quoted\\\"\\n\\t\\u0000",
    "\\ud83d\\ude00",
    "caf\u{e9} \u{1f600}",
    "2381",
];

/// Number spellings, including ones that parse to the same value.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "200",
    "200.0",
    "2E2",
    "1e-7",
    "404",
    "-5",
    "1700000000.125",
    "1700000000.9999996",
    "18446744073709551615",
    "-9223372036854775808",
    "123456789012345678901234567890",
    "1.7976931348623157e308",
    "5e-324",
    "0.1",
];

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

fn object_text(members: Vec<(String, String)>) -> String {
    let members: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn scalar() -> BoxedStrategy<String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        proptest::sample::select(NUMBERS).prop_map(str::to_string),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        proptest::sample::select(STRINGS).prop_map(quoted),
        "[a-z .:/]{0,12}".prop_map(|s| quoted(&s)),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    proptest::sample::select(KEYS).prop_map(quoted).boxed()
}

/// A key for an extra member of a (sub)segment: rarely one of the required fields, which a
/// wrong-typed value makes fail the whole document.
fn extra_key() -> BoxedStrategy<String> {
    const REQUIRED: &[&str] = &["name", "id", "trace_id", "start_time", "subsegments"];
    let optional: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| !REQUIRED.contains(k))
        .collect();
    prop_oneof![
        30 => proptest::sample::select(optional).prop_map(quoted),
        1 => proptest::sample::select(REQUIRED).prop_map(quoted),
    ]
    .boxed()
}

/// Any JSON text, objects keyed mostly with meaningful keys.
fn any_json() -> BoxedStrategy<String> {
    scalar()
        .prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec((key(), inner), 0..6).prop_map(object_text),
            ]
        })
        .boxed()
}

/// A (sub)segment: its required fields usually valid, then extra members (which may repeat or
/// override them), then, `depth` permitting, subsegments.
fn segment_text(depth: u32) -> BoxedStrategy<String> {
    let id = prop_oneof![
        30 => any::<u64>().prop_map(|n| quoted(&format!("{n:016x}"))),
        1 => scalar(),
    ];
    let trace = prop_oneof![
        20 => Just(quoted("1-5759e988-bd862e3fe1be46a994272793")),
        10 => Just(quoted("1-5759e988-bd862e3fe1be46a994272794")),
        1 => scalar(),
    ];
    let name = prop_oneof![
        30 => proptest::sample::select(&["svc", "DynamoDB", "orders@db", "caf\\u00e9"][..])
            .prop_map(quoted),
        1 => scalar(),
    ];
    let start = prop_oneof![
        30 => proptest::sample::select(&["1700000000.125", "1700000000", "1.5e9"][..])
            .prop_map(str::to_string),
        1 => scalar(),
    ];
    let required = (
        proptest::option::weighted(0.97, name),
        proptest::option::weighted(0.97, id),
        proptest::option::weighted(if depth == 2 { 0.98 } else { 0.5 }, trace),
        proptest::option::weighted(0.97, start),
    );
    let extra = proptest::collection::vec((extra_key(), any_json()), 0..8);
    let subsegments = if depth == 0 {
        Just(None).boxed()
    } else {
        proptest::option::weighted(
            0.5,
            proptest::collection::vec(
                prop_oneof![20 => segment_text(depth - 1), 1 => scalar()],
                0..4,
            ),
        )
        .boxed()
    };
    (required, extra, subsegments)
        .prop_map(|((name, id, trace, start), extra, subsegments)| {
            let mut members = Vec::new();
            for (k, v) in [
                ("name", name),
                ("id", id),
                ("trace_id", trace),
                ("start_time", start),
            ] {
                if let Some(v) = v {
                    members.push((quoted(k), v));
                }
            }
            members.extend(extra);
            if let Some(subsegments) = subsegments {
                members.push((
                    quoted("subsegments"),
                    format!("[{}]", subsegments.join(",")),
                ));
            }
            object_text(members)
        })
        .boxed()
}

/// A document as the receiver might hand it on: usually a segment tree, sometimes cut short
/// or not an object at all.
fn document() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        8 => segment_text(2).prop_map(String::into_bytes),
        1 => (segment_text(1), any::<prop::sample::Index>()).prop_map(|(text, cut)| {
            let bytes = text.into_bytes();
            let at = cut.index(bytes.len() + 1);
            bytes[..at].to_vec()
        }),
        1 => any_json().prop_map(String::into_bytes),
    ]
    .boxed()
}
