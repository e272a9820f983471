//! Table-driven X-Ray → OTLP conversion tests.
//!
//! Each file in `tests/from_xray/` is one case: the X-Ray `documents` as the receiver hands them
//! on (objects, or strings for bodies that are not JSON objects), the `expected` OTLP/JSON
//! `ExportTraceServiceRequest` and the `expected_failed` documents (`{document, error}`). Every
//! field of every span, event, link and resource is compared. The documents of the numbered cases
//! were recorded from the real aws-xray-sdk by `generate_documents.py` (a web segment on EKS,
//! botocore DynamoDB and httplib subsegments with a 429, SQL, exceptions, annotations and metadata,
//! in progress, streamed independent subsegments); `08_invalid` and `09_lenient` are written by
//! hand.
//!
//! Every case that converts also goes back through the X-Ray exporter's translation and must keep
//! what `from_xray/round_trip.rs` says the round trip keeps.
//!
//! `XRB_BLESS=1` rewrites `expected` and `expected_failed` from the current output, for review
//! with `git diff`.

use crate::round_trip;

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use xray_collector::traces::{Segment, SegmentIds};
use xray_collector::translate::from_xray::{FromXray, to_otlp};
use xray_collector::translate::{TranslateSettings, to_xray_documents};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows.
    #[allow(dead_code)]
    about: String,
    documents: Vec<Value>,
    expected: Value,
    #[serde(default)]
    expected_failed: Vec<Value>,
}

/// The ids a segment is handed over with: the document's own when it has valid ones, else a
/// placeholder (the receiver never hands such documents on, but the converter must not care).
fn segment(document: &Value) -> Segment {
    let body = match document {
        Value::String(raw) => raw.clone().into_bytes(),
        other => serde_json::to_vec(other).unwrap(),
    };
    let text = |k: &str| document.get(k).and_then(Value::as_str).unwrap_or("");
    let ids = SegmentIds::new(text("id"), text("trace_id"))
        .unwrap_or_else(|| SegmentIds::new("ffffffffffffffff", "").unwrap());
    Segment {
        body: Bytes::from(body),
        ids,
        received_at: Instant::now(),
        source: None,
        resource: None,
    }
}

fn convert(documents: &[Value]) -> (Vec<Segment>, FromXray) {
    let segments: Vec<Segment> = documents.iter().map(segment).collect();
    let converted = to_otlp(&segments);
    (segments, converted)
}

fn as_json(converted: &FromXray) -> Value {
    let request = ExportTraceServiceRequest {
        resource_spans: converted.resource_spans.clone(),
    };
    serde_json::to_value(&request).unwrap()
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/from_xray");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    let (segments, converted) = convert(&case.documents);
    let actual = as_json(&converted);
    // Failures are reported in document order, so each is matched to the next document with
    // its ids (several invalid documents share the placeholder ids).
    let mut actual_failed = Vec::new();
    let mut next = 0;
    for failed in &converted.failed {
        let index = (next..segments.len())
            .find(|&i| segments[i].ids == failed.ids)
            .ok_or_else(|| format!("failed ids {:?} were not sent", failed.ids))?;
        next = index + 1;
        actual_failed.push(json!({"document": index, "error": failed.error}));
    }

    if harness::bless() {
        let mut file: serde_json::Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| e.to_string())?;
        file.insert("expected".into(), actual);
        file.insert("expected_failed".into(), Value::Array(actual_failed));
        let pretty = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        std::fs::write(path, pretty + "\n").map_err(|e| e.to_string())?;
        return Ok(());
    }

    let mut problems = Vec::new();
    if actual_failed != case.expected_failed {
        problems.push(format!(
            "failed documents differ\n  got:  {actual_failed:?}\n  want: {:?}",
            case.expected_failed
        ));
    }
    if actual != case.expected {
        problems.push(format!(
            "spans differ\n  got:  {}\n  want: {}",
            actual, case.expected
        ));
    }
    // The documents that converted must survive the trip back to X-Ray.
    let converted_documents: Vec<Value> = case
        .documents
        .iter()
        .enumerate()
        .filter(|(idx, _)| !actual_failed.iter().any(|f| f["document"] == *idx))
        .map(|(_, doc)| doc.clone())
        .collect();
    let (_, reconverted) = convert(&converted_documents);
    if let Err(e) = round_trip::check(&converted_documents, &reconverted) {
        problems.push(format!("round trip: {e}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn conversion_cases() {
    let files = case_files();
    assert!(files.len() >= 8, "conversion fixtures are missing");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_case(path)
                .err()
                .map(|e| format!("{}:\n{e}", path.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

// The tests below restate the main conventions in code, independently of the fixtures' recorded
// expectations.

const TRACE: &str = "1-6b062521-2b9fda4e2b50a6d2e6a19b8d";

fn spans(converted: &FromXray) -> Vec<&Span> {
    converted
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string(value: &str) -> Any {
    Any::StringValue(value.to_string())
}

#[test]
fn ids_times_kinds_and_parents_of_a_segment_tree() {
    let doc = json!({
        "name": "web", "id": "00000000000000a1", "trace_id": TRACE,
        "parent_id": "00000000000000f0",
        "start_time": 1795564833.926507, "end_time": 1795564833.937021,
        "subsegments": [
            {"name": "DynamoDB", "id": "00000000000000b1", "namespace": "aws",
             "start_time": 1795564833.93, "end_time": 1795564833.931,
             "subsegments": [{"name": "marshal", "id": "00000000000000c1",
                              "start_time": 1795564833.9301, "end_time": 1795564833.9302}]},
            {"name": "api.example.com", "id": "00000000000000b2", "namespace": "remote",
             "start_time": 1795564833.932, "end_time": 1795564833.933}
        ]
    });
    let (_, converted) = convert(&[doc]);
    assert!(converted.failed.is_empty(), "{:?}", converted.failed);
    let spans = spans(&converted);
    let summary: Vec<(&str, String, String, SpanKind)> = spans
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                hex(&s.span_id),
                hex(&s.parent_span_id),
                s.kind(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "web",
                "00000000000000a1".into(),
                "00000000000000f0".into(),
                SpanKind::Server
            ),
            (
                "DynamoDB",
                "00000000000000b1".into(),
                "00000000000000a1".into(),
                SpanKind::Client
            ),
            (
                "marshal",
                "00000000000000c1".into(),
                "00000000000000b1".into(),
                SpanKind::Internal
            ),
            (
                "api.example.com",
                "00000000000000b2".into(),
                "00000000000000a1".into(),
                SpanKind::Client
            ),
        ]
    );
    for span in &spans {
        assert_eq!(hex(&span.trace_id), "6b0625212b9fda4e2b50a6d2e6a19b8d");
    }
    assert_eq!(spans[0].start_time_unix_nano, 1_795_564_833_926_507_000);
    assert_eq!(spans[0].end_time_unix_nano, 1_795_564_833_937_021_000);
    assert_eq!(attr(spans[1], "aws.service"), Some(&string("DynamoDB")));
    assert_eq!(
        attr(spans[3], "peer.service"),
        Some(&string("api.example.com"))
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn independent_subsegment_is_not_a_server_span() {
    let doc = json!({
        "name": "item 0", "id": "00000000000000b1", "trace_id": TRACE, "type": "subsegment",
        "parent_id": "00000000000000a1", "namespace": "remote",
        "start_time": 1795564833.93, "end_time": 1795564833.931
    });
    let (_, converted) = convert(&[doc]);
    let spans = spans(&converted);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].kind(), SpanKind::Client);
    assert_eq!(hex(&spans[0].parent_span_id), "00000000000000a1");
}

#[test]
fn http_status_cause_and_flags_set_the_status() {
    let base = json!({"name": "web", "id": "00000000000000a1", "trace_id": TRACE,
                      "start_time": 1795564833.0, "end_time": 1795564834.0});
    let with = |extra: Value| {
        let mut doc = base.clone();
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (_, converted) = convert(&[doc]);
        spans(&converted)[0].clone()
    };
    let ok = with(json!({"http": {"response": {"status": 200}}}));
    assert_eq!(ok.status, None);
    assert_eq!(attr(&ok, "http.status_code"), Some(&Any::IntValue(200)));
    assert_eq!(attr(&ok, "aws.xray.fault"), None);

    let throttled = with(json!({"error": true, "throttle": true,
                                "http": {"response": {"status": 429}}}));
    assert_eq!(throttled.status.as_ref().unwrap().code(), StatusCode::Error);
    assert_eq!(
        attr(&throttled, "aws.xray.error"),
        Some(&Any::BoolValue(true))
    );
    assert_eq!(
        attr(&throttled, "aws.xray.throttle"),
        Some(&Any::BoolValue(true))
    );
    assert_eq!(
        attr(&throttled, "aws.xray.fault"),
        Some(&Any::BoolValue(false))
    );

    let fault = with(json!({"fault": true}));
    assert_eq!(fault.status.unwrap().code(), StatusCode::Error);
    let error = with(json!({"error": true}));
    assert_eq!(error.status.unwrap().code(), StatusCode::Error);
    let clean = with(json!({"error": false, "fault": false}));
    assert_eq!(clean.status, None);
    assert_eq!(attr(&clean, "aws.xray.fault"), None);

    let referenced = with(json!({"cause": "a1b2c3d4e5f60718"}));
    let status = referenced.status.unwrap();
    assert_eq!(status.code(), StatusCode::Error);
    assert_eq!(status.message, "a1b2c3d4e5f60718");
}

#[test]
fn annotations_are_listed_and_metadata_is_json_text() {
    let doc = json!({
        "name": "web", "id": "00000000000000a1", "trace_id": TRACE,
        "start_time": 1795564833.0, "end_time": 1795564834.0,
        "annotations": {"tier": "gold", "items": 3, "ratio": 0.5, "new": false, "bad": [1]},
        "metadata": {"default": {"a": {"b": [1, 2]}}, "cache": {"hit": true}}
    });
    let (_, converted) = convert(&[doc]);
    let span = spans(&converted)[0];
    let Some(Any::ArrayValue(list)) = attr(span, "aws.xray.annotations") else {
        panic!("no annotation list: {:?}", span.attributes);
    };
    let keys: Vec<_> = list.values.iter().map(|v| v.value.clone()).collect();
    assert_eq!(
        keys,
        ["items", "new", "ratio", "tier"].map(|k| Some(Any::StringValue(k.into())))
    );
    assert_eq!(attr(span, "tier"), Some(&string("gold")));
    assert_eq!(attr(span, "items"), Some(&Any::IntValue(3)));
    assert_eq!(attr(span, "ratio"), Some(&Any::DoubleValue(0.5)));
    assert_eq!(attr(span, "new"), Some(&Any::BoolValue(false)));
    assert_eq!(attr(span, "bad"), None);
    assert_eq!(
        attr(span, "aws.xray.metadata.default"),
        Some(&string(r#"{"a":{"b":[1,2]}}"#))
    );
    assert_eq!(
        attr(span, "aws.xray.metadata.cache"),
        Some(&string(r#"{"hit":true}"#))
    );
}

#[test]
fn documents_of_one_service_share_a_resource_and_others_get_their_own() {
    let doc = |name: &str, id: &str| {
        json!({"name": name, "id": id, "trace_id": TRACE, "start_time": 1795564833.0,
               "end_time": 1795564834.0, "aws": {"xray": {"sdk": "X-Ray for Go"}}})
    };
    let (_, converted) = convert(&[
        doc("a", "00000000000000a1"),
        doc("b", "00000000000000b1"),
        doc("a", "00000000000000a2"),
    ]);
    let names: Vec<Vec<&str>> = converted
        .resource_spans
        .iter()
        .map(|rs| {
            rs.scope_spans[0]
                .spans
                .iter()
                .map(|s| s.name.as_str())
                .collect()
        })
        .collect();
    assert_eq!(names, [vec!["a", "a"], vec!["b"]]);
    let resource = &converted.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    let get = |k: &str| {
        resource
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(get("service.name"), Some(Any::StringValue("a".into())));
    assert_eq!(get("cloud.provider"), Some(Any::StringValue("aws".into())));
    assert_eq!(
        get("telemetry.sdk.name"),
        Some(Any::StringValue("X-Ray for Go".into()))
    );
    assert_eq!(
        get("telemetry.sdk.language"),
        Some(Any::StringValue("go".into()))
    );
}

/// A segment as the pipelines' stamping stage leaves it for a pod in `namespace`.
fn stamped(id: &str, namespace: &str) -> Value {
    json!({"name": "cart", "id": id, "trace_id": TRACE, "start_time": 1795564833.0,
    "end_time": 1795564834.0, "origin": "AWS::EKS::Container",
    "aws": {"eks": {"cluster_name": "prod", "pod": "cart-7d9", "container_id": "c1"}},
    "metadata": {"default": {
        "otel.resource.k8s.cluster.name": "prod",
        "otel.resource.k8s.pod.name": "cart-7d9",
        "otel.resource.k8s.namespace.name": namespace,
        "otel.resource.k8s.pod.uid": "0f1e",
        "otel.resource.k8s.deployment.name": "cart",
        "otel.resource.k8s.node.name": "ip-10-0-1-2",
        "otel.resource.replicas": 2,
        "otel.resource.labels": {"app": "cart"}
    }}})
}

#[test]
fn stamped_resource_metadata_becomes_the_resource_and_goes_back_to_metadata() {
    let (_, converted) = convert(&[
        stamped("00000000000000a1", "shop"),
        stamped("00000000000000a2", "staging"),
        stamped("00000000000000a3", "shop"),
    ]);
    assert!(converted.failed.is_empty(), "{:?}", converted.failed);
    // Documents that differ only in their lifted attributes get separate resources.
    let counts: Vec<usize> = converted
        .resource_spans
        .iter()
        .map(|rs| rs.scope_spans[0].spans.len())
        .collect();
    assert_eq!(counts, [2, 1]);
    let resource = &converted.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    let get = |k: &str| {
        resource
            .iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    let s = |v: &str| Some(Any::StringValue(v.into()));
    assert_eq!(get("k8s.cluster.name"), s("prod"));
    assert_eq!(get("k8s.pod.name"), s("cart-7d9"));
    assert_eq!(get("container.id"), s("c1"));
    assert_eq!(get("cloud.platform"), s("aws_eks"));
    assert_eq!(get("k8s.namespace.name"), s("shop"));
    assert_eq!(get("k8s.pod.uid"), s("0f1e"));
    assert_eq!(get("k8s.deployment.name"), s("cart"));
    assert_eq!(get("k8s.node.name"), s("ip-10-0-1-2"));
    assert_eq!(get("replicas"), Some(Any::IntValue(2)));
    // Each key once: the lifted copy of an attribute `aws.eks` also gave replaces it.
    let mut keys: Vec<&str> = resource.iter().map(|kv| kv.key.as_str()).collect();
    let all = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all, "{keys:?}");
    assert_eq!(get("labels"), None);
    // What is not a scalar stays in the span's metadata; the lifted members leave it.
    let span = spans(&converted)[0];
    assert_eq!(
        attr(span, "aws.xray.metadata.default"),
        Some(&string(r#"{"otel.resource.labels":{"app":"cart"}}"#))
    );

    // Back to X-Ray, the resource is written to `metadata.default` again.
    let back = to_xray_documents(&converted.resource_spans, &TranslateSettings::default());
    let back: Value = serde_json::from_slice(&back.documents[0].json).unwrap();
    let default = &back["metadata"]["default"];
    for (key, value) in stamped("00000000000000a1", "shop")["metadata"]["default"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&default[key], value, "{key} in {back}");
    }
    assert_eq!(back["aws"]["eks"]["pod"], json!("cart-7d9"), "{back}");
    assert_eq!(back["origin"], json!("AWS::EKS::Container"), "{back}");
}

#[test]
fn in_progress_segment_has_no_end_and_goes_back_in_progress() {
    let doc = json!({"name": "job", "id": "00000000000000a1", "trace_id": TRACE,
                     "start_time": 1795564833.5, "in_progress": true});
    let (_, converted) = convert(std::slice::from_ref(&doc));
    let span = spans(&converted)[0];
    assert_eq!(span.end_time_unix_nano, 0);
    assert_eq!(
        attr(span, "aws.xray.inprogress"),
        Some(&Any::BoolValue(true))
    );
    let back = to_xray_documents(&converted.resource_spans, &TranslateSettings::default());
    let back: Value = serde_json::from_slice(&back.documents[0].json).unwrap();
    assert_eq!(back["in_progress"], json!(true));
    assert!(back.get("end_time").is_none(), "{back}");
}

#[test]
fn a_bad_document_fails_alone_and_names_the_field() {
    let good = json!({"name": "ok", "id": "00000000000000a1", "trace_id": TRACE,
                      "start_time": 1795564833.0, "end_time": 1795564834.0});
    let bad = json!({"name": "bad", "id": "00000000000000a2", "trace_id": TRACE,
                     "start_time": 1795564833.0, "end_time": 1795564834.0,
                     "subsegments": [{"name": "x", "id": "00000000000000b1"}]});
    let (segments, converted) = convert(&[good, bad]);
    assert_eq!(spans(&converted).len(), 1, "no span of the bad document");
    assert_eq!(converted.failed.len(), 1);
    assert_eq!(converted.failed[0].ids, segments[1].ids);
    assert_eq!(
        converted.failed[0].error,
        "subsegments[0].start_time: missing"
    );
}

#[test]
fn output_is_deterministic() {
    if harness::bless() {
        // The files are being rewritten by `conversion_cases`.
        return;
    }
    let files = case_files();
    for path in files {
        let case: Case = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let first = as_json(&convert(&case.documents).1);
        let second = as_json(&convert(&case.documents).1);
        assert_eq!(first, second, "{}", path.display());
    }
}

#[test]
fn deep_nesting_converts_up_to_the_parser_limit_and_fails_beyond_it() {
    // Each level of subsegments is two levels of JSON (an array and an object); serde_json stops
    // at 128, so 60 levels convert and 70 fail, without exhausting the stack.
    fn nested(levels: usize) -> String {
        let mut doc = String::new();
        for level in 0..=levels {
            if level > 0 {
                doc.push_str(r#","subsegments":["#);
            }
            doc.push_str(&format!(
                r#"{{"name":"n{level}","id":"{:016x}","start_time":1795564833.0,"end_time":1795564834.0"#,
                level + 1
            ));
            if level == 0 {
                doc.push_str(&format!(r#","trace_id":"{TRACE}""#));
            }
        }
        for level in (0..=levels).rev() {
            doc.push('}');
            if level > 0 {
                doc.push(']');
            }
        }
        doc
    }
    let deep = to_otlp(&[segment(&Value::String(nested(60)))]);
    assert!(deep.failed.is_empty(), "{:?}", deep.failed);
    assert_eq!(spans(&deep).len(), 61);
    assert_eq!(
        hex(&spans(&deep)[60].parent_span_id),
        format!("{:016x}", 60)
    );
    let too_deep = to_otlp(&[segment(&Value::String(nested(70)))]);
    assert_eq!(spans(&too_deep).len(), 0);
    assert_eq!(too_deep.failed.len(), 1);
    assert!(
        too_deep.failed[0].error.contains("recursion limit"),
        "{}",
        too_deep.failed[0].error
    );
}
