//! End to end, the X-Ray SDK migration path: a legacy app instrumented with the real AWS X-Ray SDK
//! (segments over UDP) and a new app instrumented with the real OpenTelemetry SDK (OTLP over gRPC and
//! HTTP) send to ONE collector, which exports everything with `otlphttp` signed by `sigv4auth` to a
//! local stand-in for X-Ray's OTLP endpoint (`apps/xray_otlp_endpoint.py`). That endpoint decodes the
//! bodies with the official OpenTelemetry protobuf definitions and recomputes each SigV4 signature
//! with botocore (service `xray`, the configured region); a request that fails a check is refused.
//!
//! Asserted: every span arrives exactly once, with the trace id, span id, parent, name, kind and
//! timing its client gave it, and the content the conventions carry (X-Ray annotations, HTTP, SQL,
//! metadata and causes; OTLP attributes, resource, status and events); every request is gzip,
//! protobuf, signed for `xray` in the configured region, and accepted; the collector's counters
//! account for every item with nothing failed or dropped. A collector signing with a wrong secret
//! is refused by the endpoint and counted as failed, never as sent. The stand-in checks the
//! protocol and the signature, not X-Ray's storage or Transaction Search, which need a real
//! account.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{Collector, metric_sum, metric_sum_or_zero};
use serde_json::Value;

/// The region the collector signs for: not the environment's (`us-east-1`), so the test shows
/// that `sigv4auth.region` is what counts.
const REGION: &str = "eu-west-1";

/// The local OTLP endpoint process, killed on drop.
pub(crate) struct Endpoint {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Endpoint {
    fn start(python: &Path) -> Endpoint {
        Endpoint::start_for(python, REGION)
    }

    /// The endpoint, checking signatures for `region`.
    pub(crate) fn start_for(python: &Path, region: &str) -> Endpoint {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let child = Command::new(python)
            .arg(common::app("xray_otlp_endpoint.py"))
            .arg(&port_file)
            .arg(dir.path())
            .args([region, "testing", "testing"])
            .spawn()
            .expect("start xray_otlp_endpoint.py");
        let mut endpoint = Endpoint {
            child,
            port: 0,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                endpoint.port = port;
                return endpoint;
            }
            if let Some(status) = endpoint.child.try_wait().expect("poll the endpoint") {
                panic!("xray_otlp_endpoint.py exited with {status}");
            }
            assert!(Instant::now() < deadline, "the OTLP endpoint did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn rows(&self, file: &str) -> Vec<Value> {
        read_jsonl(&self.dir.path().join(file))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_jsonl(path: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn config(udp: u16, grpc: u16, http: u16, endpoint: u16) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch:
    timeout: 200ms
    send_batch_size: 50
exporters:
  otlphttp:
    traces_endpoint: http://127.0.0.1:{endpoint}/v1/traces
    auth:
      authenticator: sigv4auth
    compression: gzip
    retry_on_failure:
      initial_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
  sigv4auth:
    region: {REGION}
    service: xray
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [awsxray, otlp]
      processors: [batch]
      exporters: [otlphttp]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#
    )
}

/// One span the test expects, as its client described it.
#[derive(Debug)]
struct Expected {
    parent: String,
    name: String,
    start: u64,
    end: u64,
    /// The X-Ray document (for X-Ray SDK spans) or the SDK's own record (for OTLP spans).
    source: Value,
    xray: bool,
}

/// X-Ray seconds (a float with microseconds) as Unix nanoseconds, rounded to the microsecond:
/// whole seconds, plus the fraction (exact in binary after the subtraction) in microseconds.
fn nanos(seconds: &Value) -> u64 {
    let s = seconds.as_f64().expect("a time in seconds");
    let whole = s.trunc();
    whole as u64 * 1_000_000_000 + ((s - whole) * 1e6).round() as u64 * 1000
}

/// `1-5f2b3c4d-0123456789abcdef01234567` as the 32 hex digits of an OTLP trace id.
fn otlp_trace_id(xray: &str) -> String {
    xray.trim_start_matches("1-").replace('-', "")
}

/// Every span one X-Ray document stands for: the document and its embedded subsegments, keyed by
/// (trace id, span id).
fn expect_xray(
    doc: &Value,
    trace_id: &str,
    parent: &str,
    out: &mut BTreeMap<(String, String), Expected>,
) {
    let id = doc["id"].as_str().expect("document id").to_owned();
    let previous = out.insert(
        (trace_id.to_owned(), id.clone()),
        Expected {
            parent: parent.to_owned(),
            name: doc["name"].as_str().expect("name").to_owned(),
            start: nanos(&doc["start_time"]),
            end: nanos(&doc["end_time"]),
            source: doc.clone(),
            xray: true,
        },
    );
    assert!(previous.is_none(), "the SDK sent span {id} twice");
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        expect_xray(sub, trace_id, &id, out);
    }
}

#[test]
fn xray_sdk_and_otel_sdk_spans_reach_the_xray_otlp_endpoint_signed() {
    let check = "collector e2e: aws-xray-sdk (UDP) + opentelemetry-sdk (OTLP) -> xray-collector -> otlphttp + sigv4auth -> OTLP endpoint";
    let Some(python) = harness::python(check) else {
        return;
    };
    let endpoint = Endpoint::start(&python);
    let udp = common::free_udp_port();
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(&config(udp, grpc, http, endpoint.port), &[]);

    // The legacy app: X-Ray segments over UDP.
    let xray_sent = collector.path("xray-sent.jsonl");
    let out = Command::new(&python)
        .arg(common::app("xray_sdk_app.py"))
        .args([
            &format!("127.0.0.1:{udp}"),
            &xray_sent.display().to_string(),
            "20",
        ])
        .output()
        .expect("run the X-Ray SDK app");
    assert!(
        out.status.success(),
        "X-Ray SDK app failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The new app: OTLP over gRPC, then over HTTP.
    let otel_sent = collector.path("otel-sent.jsonl");
    let out = Command::new(&python)
        .arg(common::app("otel_app.py"))
        .args([
            &format!("127.0.0.1:{grpc}"),
            &format!("http://127.0.0.1:{http}/v1/traces"),
            &otel_sent.display().to_string(),
            "5",
        ])
        .output()
        .expect("run the OpenTelemetry app");
    assert!(
        out.status.success(),
        "OpenTelemetry app failed: {}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );

    let mut expected: BTreeMap<(String, String), Expected> = BTreeMap::new();
    let documents = read_jsonl(&xray_sent);
    assert_eq!(documents.len(), 20 * 7, "20 traces of 7 documents");
    for doc in &documents {
        let trace_id = otlp_trace_id(doc["trace_id"].as_str().expect("trace id"));
        let parent = doc["parent_id"].as_str().unwrap_or("");
        expect_xray(doc, &trace_id, parent, &mut expected);
    }
    let xray_spans = expected.len();
    let otel = read_jsonl(&otel_sent);
    assert_eq!(otel.len(), 2 * 5 * 3, "2 protocols x 5 traces x 3 spans");
    for span in &otel {
        let key = (
            span["trace_id"].as_str().unwrap().to_owned(),
            span["span_id"].as_str().unwrap().to_owned(),
        );
        let previous = expected.insert(
            key,
            Expected {
                parent: span["parent_id"].as_str().unwrap_or("").to_owned(),
                name: span["name"].as_str().unwrap().to_owned(),
                start: span["start"].as_u64().unwrap(),
                end: span["end"].as_u64().unwrap(),
                source: span.clone(),
                xray: false,
            },
        );
        assert!(previous.is_none(), "span ids collide");
    }
    // 20 traces: each segment embeds 3 subsegments after streaming (the SQL one embeds its
    // cursor), next to 6 streamed documents: the counts below come from what the SDK sent.
    assert!(
        xray_spans > documents.len(),
        "embedded subsegments expected"
    );

    // The collector counts items in the unit they arrived in: X-Ray documents and OTLP spans.
    let items = (documents.len() + otel.len()) as f64;
    let sent = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        items,
        Duration::from_secs(60),
    );
    let metrics = collector.metrics();
    assert_eq!(
        sent,
        items,
        "items exported\n{metrics}\n{}",
        collector.log()
    );
    let xray_accepted = metric_sum(
        &metrics,
        "xray_collector_receiver_accepted_items_total",
        &["receiver=\"awsxray\""],
    );
    let otlp_accepted = metric_sum(
        &metrics,
        "xray_collector_receiver_accepted_items_total",
        &["receiver=\"otlp\""],
    );
    assert_eq!(xray_accepted, documents.len() as f64, "\n{metrics}");
    assert_eq!(otlp_accepted, otel.len() as f64, "\n{metrics}");
    for lost in [
        "xray_collector_receiver_refused_items_total",
        "xray_collector_processor_refused_items_total",
        "xray_collector_exporter_failed_items_total",
        "xray_collector_exporter_dropped_items_total",
    ] {
        assert_eq!(
            metric_sum_or_zero(&metrics, lost, &[]),
            0.0,
            "{lost}\n{metrics}"
        );
    }

    // Every request: accepted, signed for xray in REGION, gzip-compressed protobuf.
    let requests = endpoint.rows("requests.jsonl");
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r["accepted"], true, "refused request: {r}");
        assert_eq!(r["content_encoding"], "gzip", "{r}");
        assert_eq!(r["content_type"], "application/x-protobuf", "{r}");
        let scope = r["scope"].as_str().unwrap();
        assert!(
            scope.ends_with(&format!("/{REGION}/xray/aws4_request")),
            "scope {scope}"
        );
    }

    // Every span exactly once, as its client made it.
    let received = endpoint.rows("spans.jsonl");
    let mut seen = BTreeSet::new();
    for span in &received {
        let key = (
            span["trace_id"].as_str().unwrap().to_owned(),
            span["span_id"].as_str().unwrap().to_owned(),
        );
        assert!(seen.insert(key.clone()), "span {key:?} arrived twice");
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected span {span}"));
        assert_eq!(span["name"], want.name.as_str(), "{span}");
        assert_eq!(
            span["parent_span_id"].as_str().unwrap(),
            want.parent,
            "{span}"
        );
        assert_eq!(span["start"].as_u64().unwrap(), want.start, "{span}");
        assert_eq!(span["end"].as_u64().unwrap(), want.end, "{span}");
        if want.xray {
            check_xray_span(span, &want.source);
        } else {
            check_otel_span(span, &want.source);
        }
    }
    let missing: Vec<_> = expected.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "spans never arrived: {missing:?}");
    assert_eq!(received.len(), expected.len());
}

/// OTLP `Span.Kind` values.
const KIND_INTERNAL: i64 = 1;
const KIND_SERVER: i64 = 2;
const KIND_CLIENT: i64 = 3;
/// OTLP `Status.StatusCode.STATUS_CODE_ERROR`.
const STATUS_ERROR: i64 = 2;

/// A span converted from an X-Ray document: kind, status and the awsxrayreceiver conventions.
fn check_xray_span(span: &Value, doc: &Value) {
    let attrs = &span["attributes"];
    let is_segment = doc.get("trace_id").is_some() && doc["type"] != "subsegment";
    let kind = span["kind"].as_i64().unwrap();
    if is_segment {
        assert_eq!(kind, KIND_SERVER, "a segment is a SERVER span: {span}");
        assert_eq!(
            span["resource"]["service.name"], "checkout-service",
            "{span}"
        );
    } else if doc["namespace"] == "remote" || doc["namespace"] == "aws" {
        assert_eq!(
            kind, KIND_CLIENT,
            "a remote subsegment is a CLIENT span: {span}"
        );
    } else {
        assert_eq!(
            kind, KIND_INTERNAL,
            "a local subsegment is INTERNAL: {span}"
        );
    }
    if let Some(annotations) = doc["annotations"].as_object() {
        for (key, value) in annotations {
            assert_eq!(
                &attrs[key], value,
                "annotation {key} as an attribute: {span}"
            );
        }
    }
    if let Some(http) = doc.get("http") {
        if let Some(method) = http["request"].get("method") {
            assert_eq!(&attrs["http.method"], method, "{span}");
        }
        if let Some(url) = http["request"].get("url") {
            assert_eq!(&attrs["http.url"], url, "{span}");
        }
        if let Some(status) = http["response"].get("status") {
            assert_eq!(&attrs["http.status_code"], status, "{span}");
        }
    }
    if let Some(sql) = doc.get("sql") {
        assert_eq!(attrs["db.statement"], sql["sanitized_query"], "{span}");
    }
    if let Some(metadata) = doc["metadata"].as_object() {
        for (namespace, content) in metadata {
            let key = format!("aws.xray.metadata.{namespace}");
            let text = attrs[&key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} missing: {span}"));
            let carried: Value = serde_json::from_str(text).expect("metadata is JSON text");
            assert_eq!(&carried, content, "{key}: {span}");
        }
    }
    let failed = doc["fault"] == true || doc["error"] == true;
    if failed {
        assert_eq!(span["status_code"], STATUS_ERROR, "{span}");
    } else {
        assert_ne!(span["status_code"], STATUS_ERROR, "{span}");
    }
    let exceptions = doc["cause"]["exceptions"].as_array().map_or(0, Vec::len);
    let events = span["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "exception")
        .count();
    assert_eq!(events, exceptions, "one exception event per cause: {span}");
    if exceptions > 0 {
        let message = doc["cause"]["exceptions"][0]["message"].as_str().unwrap();
        assert!(
            span["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["attributes"]["exception.message"] == message),
            "exception message carried: {span}"
        );
    }
}

/// A span the OpenTelemetry SDK sent: carried unchanged.
fn check_otel_span(span: &Value, sent: &Value) {
    let attrs = &span["attributes"];
    assert_eq!(span["resource"]["service.name"], "checkout", "{span}");
    assert_eq!(span["resource"]["deployment.environment"], "e2e", "{span}");
    let kind = span["kind"].as_i64().unwrap();
    match sent["kind"].as_str().unwrap() {
        "SERVER" => {
            assert_eq!(kind, KIND_SERVER);
            assert_eq!(attrs["tenant"], "acme", "{span}");
            assert_eq!(attrs["http.status_code"], 200, "{span}");
        }
        "CLIENT" => assert_eq!(kind, KIND_CLIENT),
        other => panic!("unexpected kind {other}"),
    }
    match sent["name"].as_str().unwrap() {
        "SELECT carts" => {
            assert_eq!(attrs["db.statement"], "SELECT * FROM carts WHERE id = ?")
        }
        "charge" => {
            assert_eq!(span["status_code"], STATUS_ERROR, "{span}");
            assert_eq!(span["status_message"], "payment failed", "{span}");
            assert!(
                span["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["name"] == "exception"
                        && e["attributes"]["exception.message"] == "payment backend down"),
                "{span}"
            );
        }
        _ => {}
    }
}

/// The endpoint's signature check bites: a collector signing with the wrong secret key gets 403 for
/// every request, which the exporter counts as failed (permanent, not retried) and never as sent.
#[test]
fn a_request_signed_with_the_wrong_secret_is_refused_and_counted() {
    let check = "collector e2e: otlphttp + sigv4auth with a wrong secret -> OTLP endpoint refuses";
    let Some(python) = harness::python(check) else {
        return;
    };
    let endpoint = Endpoint::start(&python);
    let udp = common::free_udp_port();
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let env: Vec<(&str, &str)> = common::FAKE_AWS_ENV
        .iter()
        .map(|&(k, v)| {
            if k == "AWS_SECRET_ACCESS_KEY" {
                (k, "not-the-secret")
            } else {
                (k, v)
            }
        })
        .collect();
    let collector = Collector::start_with_env(&config(udp, grpc, http, endpoint.port), &[], &env);
    let out = Command::new(&python)
        .arg(common::app("xray_sdk_app.py"))
        .args([
            &format!("127.0.0.1:{udp}"),
            &collector.path("sent.jsonl").display().to_string(),
            "2",
        ])
        .output()
        .expect("run the X-Ray SDK app");
    assert!(out.status.success());
    let failed = collector.wait_metric(
        "xray_collector_exporter_failed_items_total",
        &[],
        14.0,
        Duration::from_secs(30),
    );
    let metrics = collector.metrics();
    assert_eq!(failed, 14.0, "2 traces x 7 documents failed\n{metrics}");
    assert_eq!(
        metric_sum_or_zero(&metrics, "xray_collector_exporter_sent_items_total", &[]),
        0.0
    );
    assert_eq!(
        metric_sum_or_zero(&metrics, "xray_collector_exporter_retries_total", &[]),
        0.0,
        "403 is permanent\n{metrics}"
    );
    let requests = endpoint.rows("requests.jsonl");
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r["accepted"], false, "{r}");
        assert_eq!(r["reason"], "signature mismatch", "{r}");
    }
    assert!(endpoint.rows("spans.jsonl").is_empty());
}
