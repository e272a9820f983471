//! End to end: a Python app instrumented with the real OpenTelemetry SDK (`AwsXRayIdGenerator`,
//! the OTLP/gRPC and OTLP/HTTP exporters) sends spans to the collector's `otlp` receiver; the
//! collector translates them and exports them to a local X-Ray API (moto); `BatchGetTraces` must
//! return one document per span with the fields the translation rules give.
//!
//! A second test drives the OTLP/HTTP server directly: an OTLP/JSON request reaches X-Ray too, and
//! malformed, oversized or wrongly typed requests get OTLP's non-retryable answers and are counted.
//! Others fill a pipeline to get `503` with `Retry-After`, check gRPC's retryable and non-retryable
//! codes, repeat the SDK run over TLS on both protocols, and stop start-up on bad TLS settings.
//!
//! The hardening tests (issue 14) need no AWS emulator (an `otlp` receiver feeding `debug`):
//! decoded-size bombs are refused within the memory budget (peak RSS checked), connections beyond
//! the gRPC cap are closed and counted, gRPC refusals are `INVALID_ARGUMENT` or a retryable
//! `RESOURCE_EXHAUSTED` with `RetryInfo`, slow bodies hold no in-flight slot, and for requests and
//! items received = accepted + refused.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{Collector, metric_sum, metric_sum_or_zero};
use serde_json::{Value, json};

/// The X-Ray form of a 32-hex-digit OTLP trace id.
fn xray_trace_id(hex: &str) -> String {
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

fn config(grpc: u16, http: u16, moto: &str) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
        max_request_body_size: 100000
processors:
  batch/traces:
    timeout: 200ms
    send_batch_size: 50
exporters:
  awsxray:
    region: us-east-1
    endpoint: {moto}
    indexed_attributes: [tenant]
    retry_on_failure:
      initial_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch/traces]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#
    )
}

/// One HTTP/1.1 POST with `Connection: close`: status, headers and body.
/// A collector config whose `awsxray` exporter has one sender, stuck on `black_hole` (a listener
/// nobody accepts on), and a queue of two requests, behind an `otlp` receiver with `protocols`
/// (YAML indented to sit under `protocols:`).
fn stuck_exporter_config(protocols: &str, black_hole: &std::net::TcpListener) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      {protocols}
exporters:
  awsxray:
    region: us-east-1
    endpoint: http://{hole}
    request_timeout_seconds: 60
    sending_queue:
      num_consumers: 1
      queue_size: 2
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        hole = black_hole.local_addr().unwrap()
    )
}

fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}

#[test]
fn otel_sdk_spans_over_grpc_and_http_reach_xray_translated() {
    let check = "collector e2e: opentelemetry-sdk -> OTLP gRPC/HTTP -> xray-collector -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(&config(grpc, http, &moto.endpoint()), &[]);

    let traces_per_protocol = 5;
    let sent_path = collector.path("spans.jsonl");
    let out = Command::new(&python)
        .arg(common::app("otel_app.py"))
        .args([
            &format!("127.0.0.1:{grpc}"),
            &format!("http://127.0.0.1:{http}/v1/traces"),
            &sent_path.display().to_string(),
            &traces_per_protocol.to_string(),
        ])
        .output()
        .expect("run the OpenTelemetry app");
    assert!(
        out.status.success(),
        "app failed: {}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );
    let spans: Vec<Value> = std::fs::read_to_string(&sent_path)
        .expect("span list")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(spans.len(), 2 * traces_per_protocol * 3);
    for protocol in ["grpc", "http"] {
        assert_eq!(
            spans.iter().filter(|s| s["protocol"] == protocol).count(),
            traces_per_protocol * 3
        );
    }

    let exported = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        spans.len() as f64,
        Duration::from_secs(30),
    );
    let metrics = collector.metrics();
    let accepted = metric_sum(
        &metrics,
        "xray_collector_receiver_accepted_items_total",
        &["receiver=\"otlp\""],
    );
    let refused = metric_sum_or_zero(&metrics, "xray_collector_receiver_refused_items_total", &[]);
    let failed = metric_sum_or_zero(&metrics, "xray_collector_exporter_failed_items_total", &[]);
    assert_eq!(accepted, spans.len() as f64, "accepted spans\n{metrics}");
    assert_eq!(refused, 0.0, "refused\n{metrics}");
    assert_eq!(failed, 0.0, "failed\n{metrics}");
    assert_eq!(
        exported,
        spans.len() as f64,
        "exported documents\n{metrics}"
    );

    let trace_ids: Vec<String> = spans
        .iter()
        .map(|s| xray_trace_id(s["trace_id"].as_str().unwrap()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored = common::read_back(&python, &moto.endpoint(), &trace_ids, collector.dir.path());
    assert_eq!(stored.len(), spans.len(), "one document per span");
    let by_id: BTreeMap<String, Value> = stored
        .iter()
        .map(|(_, id, doc)| {
            (
                id.clone(),
                serde_json::from_str(doc).expect("JSON document"),
            )
        })
        .collect();

    for span in &spans {
        let id = span["span_id"].as_str().unwrap();
        let doc = by_id
            .get(id)
            .unwrap_or_else(|| panic!("span {id} ({}) not stored", span["name"]));
        let context = format!("{} span {id}: {doc}", span["protocol"]);
        // Ids and times: the trace id's epoch rule holds because AwsXRayIdGenerator put the
        // current time in its first 8 hex digits.
        let trace_id = xray_trace_id(span["trace_id"].as_str().unwrap());
        assert_eq!(doc["trace_id"], json!(trace_id), "{context}");
        let epoch = u64::from_str_radix(&trace_id[2..10], 16).unwrap();
        let start_secs = span["start"].as_u64().unwrap() / 1_000_000_000;
        assert!(epoch.abs_diff(start_secs) <= 60, "{context}");
        for (field, key) in [("start_time", "start"), ("end_time", "end")] {
            let want = span[key].as_u64().unwrap() as f64 / 1e9;
            let got = doc[field].as_f64().expect("time");
            assert!(
                (got - want).abs() < 1e-6,
                "{field}: {got} vs {want}: {context}"
            );
        }
        assert_eq!(
            doc["aws"]["xray"]["sdk"], "opentelemetry for python",
            "{context}"
        );
        match span["name"].as_str().unwrap() {
            "GET /cart" => {
                assert!(
                    doc.get("type").is_none() && doc.get("parent_id").is_none(),
                    "{context}"
                );
                assert_eq!(doc["name"], "checkout", "{context}");
                assert_eq!(doc["user"], "alice", "{context}");
                assert_eq!(doc["annotations"], json!({"tenant": "acme"}), "{context}");
                assert_eq!(doc["http"]["request"]["method"], "GET", "{context}");
                assert!(
                    doc["http"]["request"]["url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("http://shop.example.com/cart?i=")),
                    "{context}"
                );
                assert_eq!(doc["http"]["response"]["status"], 200, "{context}");
                let metadata = &doc["metadata"]["default"];
                assert_eq!(
                    metadata["otel.resource.service.name"], "checkout",
                    "{context}"
                );
                assert_eq!(
                    metadata["otel.resource.deployment.environment"], "e2e",
                    "{context}"
                );
                assert_eq!(
                    (doc["fault"].clone(), doc["error"].clone()),
                    (json!(false), json!(false))
                );
            }
            "SELECT carts" => {
                assert_eq!(doc["type"], "subsegment", "{context}");
                assert_eq!(doc["parent_id"], span["parent_id"], "{context}");
                assert_eq!(doc["name"], "shop", "{context}");
                assert_eq!(doc["namespace"], "remote", "{context}");
                assert_eq!(
                    doc["sql"],
                    json!({
                        "url": "SELECT carts",
                        "connection_string": "localhost/shop",
                        "database_type": "postgresql",
                        "user": "app",
                        "sanitized_query": "SELECT * FROM carts WHERE id = ?"
                    }),
                    "{context}"
                );
                assert!(
                    doc.get("metadata").is_none(),
                    "subsegments carry no resource: {context}"
                );
            }
            "charge" => {
                assert_eq!(doc["type"], "subsegment", "{context}");
                assert_eq!(doc["name"], "payments", "{context}");
                assert_eq!(doc["fault"], true, "{context}");
                assert_eq!(doc["error"], false, "{context}");
                assert_eq!(doc["http"]["response"]["status"], 503, "{context}");
                let exception = &doc["cause"]["exceptions"][0];
                assert_eq!(exception["type"], "RuntimeError", "{context}");
                assert_eq!(exception["message"], "payment backend down", "{context}");
                assert_eq!(exception["remote"], true, "{context}");
                let frame = &exception["stack"][0];
                assert!(
                    frame["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("otel_app.py")),
                    "{context}"
                );
                assert_eq!(frame["label"], "run", "{context}");
            }
            other => panic!("unexpected span {other}"),
        }
    }
    eprintln!(
        "E2E FIGURES: spans sent by the SDK = {}, accepted = {accepted}, exported = {exported}, read back with BatchGetTraces = {}",
        spans.len(),
        stored.len()
    );
}

#[test]
fn otlp_http_json_and_bad_requests() {
    let check = "collector e2e: OTLP/HTTP JSON and error answers -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(&config(grpc, http, &moto.endpoint()), &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let trace_hex = format!("{:08x}0123456789abcdef01234567", now.as_secs());
    let start = now.as_nanos() - 5_000_000;
    let request = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-client"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_hex,
            "spanId": "00f067aa0ba902b7",
            "name": "GET /json",
            "kind": 2,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": now.as_nanos().to_string(),
            "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}},
                           {"key": "http.response.status_code", "value": {"intValue": "404"}}]
        }]}]
    }]});
    let json_ct = [("Content-Type", "application/json")];
    let (status, _, body) = post(http, "/v1/traces", &json_ct, request.to_string().as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({}));

    // Non-retryable answers: malformed JSON and protobuf, unknown content type, too large.
    let (status, _, body) = post(http, "/v1/traces", &json_ct, b"{\"resourceSpans\": 7}");
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).expect("JSON google.rpc.Status");
    assert_eq!(error["code"], 3);
    let proto_ct = [("Content-Type", "application/x-protobuf")];
    assert_eq!(
        post(http, "/v1/traces", &proto_ct, &[0xff, 0xff, 0xff]).0,
        400
    );
    assert_eq!(
        post(http, "/v1/traces", &[("Content-Type", "text/plain")], b"x").0,
        415
    );
    assert_eq!(
        post(http, "/v1/traces", &proto_ct, &vec![0u8; 100_001]).0,
        413
    );
    assert_eq!(post(http, "/v1/logs", &proto_ct, b"").0, 404);

    collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        1.0,
        Duration::from_secs(30),
    );
    let metrics = collector.metrics();
    let refused = |reason: &str| {
        metric_sum_or_zero(
            &metrics,
            "xray_collector_receiver_refused_items_total",
            &[&format!("reason=\"{reason}\"")],
        )
    };
    assert_eq!(refused("malformed"), 2.0, "{metrics}");
    assert_eq!(refused("unsupported_content_type"), 1.0, "{metrics}");
    assert_eq!(refused("too_large"), 1.0, "{metrics}");

    let stored = common::read_back(
        &python,
        &moto.endpoint(),
        &[xray_trace_id(&trace_hex)],
        collector.dir.path(),
    );
    assert_eq!(stored.len(), 1);
    let doc: Value = serde_json::from_str(&stored[0].2).unwrap();
    assert_eq!(doc["name"], "json-client");
    assert_eq!(doc["id"], "00f067aa0ba902b7");
    assert_eq!(doc["error"], true);
    assert_eq!(doc["http"]["request"]["method"], "GET");
    assert_eq!(doc["http"]["response"]["status"], 404);
}

#[test]
fn a_full_pipeline_answers_503_with_retry_after() {
    // The exporter's only sender is stuck on an X-Ray endpoint that never answers (a listener
    // nobody accepts on), its queue holds two requests, so the fourth export must be refused with
    // OTLP/HTTP's retryable answer instead of being buffered.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let config = stuck_exporter_config(
        &format!(
            "grpc:\n        endpoint: 127.0.0.1:{grpc}\n      http:\n        endpoint: 127.0.0.1:{http}"
        ),
        &black_hole,
    );
    let collector = Collector::start(&config, &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let request = |n: u32| {
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": format!("{:08x}0123456789abcdef{n:08x}", now.as_secs()),
            "spanId": format!("{:016x}", n + 1),
            "name": "work",
            "kind": 2,
            "startTimeUnixNano": now.as_nanos().to_string(),
            "endTimeUnixNano": now.as_nanos().to_string()
        }]}]}]})
        .to_string()
    };
    let json_ct = [("Content-Type", "application/json")];
    let mut answers = Vec::new();
    for n in 0..8 {
        let (status, head, _) = post(http, "/v1/traces", &json_ct, request(n).as_bytes());
        answers.push(status);
        if status == 503 {
            assert!(
                head.to_ascii_lowercase().contains("retry-after: 1"),
                "503 without Retry-After: {head}"
            );
            break;
        }
        assert_eq!(status, 200, "{head}");
        // Give the sender time to take the first batch off the queue.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        answers.last(),
        Some(&503),
        "no backpressure after {answers:?}:\n{}",
        collector.log()
    );
    assert!(answers.len() <= 5, "too much was buffered: {answers:?}");
    let refused = metric_sum_or_zero(
        &collector.metrics(),
        "xray_collector_receiver_refused_items_total",
        &["reason=\"pipeline_full\""],
    );
    assert_eq!(refused, 1.0);
}

#[test]
fn otlp_over_tls_on_both_protocols() {
    let check =
        "collector e2e: opentelemetry-sdk -> OTLP gRPC/HTTP over TLS -> xray-collector -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    // A test CA and a server certificate for 127.0.0.1 signed by it.
    let pki = tempfile::tempdir().expect("temp dir");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "xray-collector test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut server_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    // Python 3.13's default context verifies strictly (VERIFY_X509_STRICT), which requires an
    // authority key identifier.
    server_params.use_authority_key_identifier_extension = true;
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let path = |name: &str| pki.path().join(name).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("server.pem"), server.pem()).unwrap();
    std::fs::write(path("server.key"), server_key.serialize_pem()).unwrap();

    let (grpc, http) = (harness::free_port(), harness::free_port());
    let tls = format!(
        "\n        tls:\n          cert_file: {}\n          key_file: {}",
        path("server.pem"),
        path("server.key")
    );
    let config = config(grpc, http, &moto.endpoint())
        .replace(
            &format!("endpoint: 127.0.0.1:{grpc}\n"),
            &format!("endpoint: 127.0.0.1:{grpc}{tls}\n"),
        )
        .replace(
            "max_request_body_size: 100000",
            &format!("max_request_body_size: 100000{tls}"),
        );
    let collector = Collector::start(&config, &[]);

    // Plaintext is not served on a TLS port.
    let mut plain = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = plain.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plaintext answered on the TLS port"
    );

    let sent_path = collector.path("spans.jsonl");
    let out = Command::new(&python)
        .arg(common::app("otel_app.py"))
        .args([
            &format!("127.0.0.1:{grpc}"),
            &format!("https://127.0.0.1:{http}/v1/traces"),
            &sent_path.display().to_string(),
            "2",
            &path("ca.pem"),
        ])
        // requests lets these variables replace the exporter's `certificate_file` (psf/requests
        // #3829), so they must not leak in from the machine's environment.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("run the OpenTelemetry app");
    assert!(
        out.status.success(),
        "app failed over TLS: {}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );
    let n_spans = std::fs::read_to_string(&sent_path).unwrap().lines().count();
    assert_eq!(n_spans, 2 * 2 * 3);
    let exported = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        n_spans as f64,
        Duration::from_secs(30),
    );
    assert_eq!(exported, n_spans as f64, "{}", collector.metrics());
}

#[test]
fn grpc_answers_follow_otlp_retry_rules() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    // As in the HTTP backpressure test: one stuck sender and a queue of two requests.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let grpc = harness::free_port();
    let config = stuck_exporter_config(
        &format!("grpc:\n        endpoint: 127.0.0.1:{grpc}\n        max_recv_msg_size_mib: 1"),
        &black_hole,
    );
    let collector = Collector::start(&config, &[]);
    let request = |name: String, n: u8| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![n; 16],
                    span_id: vec![n; 8],
                    name,
                    kind: 2,
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let codes = runtime.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
            .await
            .expect("connect")
            .max_encoding_message_size(8 << 20);
        // Larger than max_recv_msg_size_mib: not retryable.
        let too_large = client
            .export(request("x".repeat(2 << 20), 1))
            .await
            .expect_err("a 2 MiB request must be refused");
        let mut codes = vec![too_large.code()];
        for n in 2..10 {
            match client.export(request("work".into(), n)).await {
                Ok(_) => codes.push(tonic::Code::Ok),
                Err(status) => {
                    codes.push(status.code());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        codes
    });
    assert_eq!(
        codes[0],
        tonic::Code::InvalidArgument,
        "an oversized request must get OTLP's non-retryable code: {codes:?}"
    );
    assert_eq!(
        codes.last(),
        Some(&tonic::Code::Unavailable),
        "a full pipeline must answer UNAVAILABLE (retryable): {codes:?}\n{}",
        collector.log()
    );
    assert!(codes.len() <= 6, "too much was buffered: {codes:?}");
    let refused = metric_sum_or_zero(
        &collector.metrics(),
        "xray_collector_receiver_refused_items_total",
        &["reason=\"pipeline_full\""],
    );
    assert_eq!(refused, 1.0);
}

#[test]
fn bad_tls_settings_stop_startup_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("server.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
        tls:
          cert_file: {cert}
exporters:
  debug: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
  telemetry:
    metrics:
      level: none
"#,
        port = harness::free_port(),
        cert = cert.display()
    );
    let path = dir.path().join("collector.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .arg(format!("--config={}", path.display()))
        .envs(common::FAKE_AWS_ENV.iter().copied())
        .output()
        .expect("run the collector");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("receivers.otlp.protocols.http.tls.key_file: required"),
        "{stderr}"
    );
}

/// An `otlp` receiver on both protocols (`grpc_extra` / `http_extra`: YAML lines under the
/// protocol, indented to sit there) feeding the `debug` exporter.
/// A config with one `otlp` receiver feeding `debug`. Its memory budget is set to 64 MiB (what
/// a 256Mi pod derives) so the hardening tests do not depend on the test machine's cgroup limit.
fn local_config(grpc: u16, http: u16, grpc_extra: &str, http_extra: &str) -> String {
    format!(
        r#"
receivers:
  otlp:
    memory_limit_mib: 64
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
{grpc_extra}
      http:
        endpoint: 127.0.0.1:{http}
{http_extra}
exporters:
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `n` empty spans as a protobuf `ExportTraceServiceRequest` (two bytes a span), written
/// directly rather than by encoding a million `Span` structs.
fn empty_spans_protobuf(n: usize) -> Vec<u8> {
    // A length-delimited field: key, length, bytes.
    fn field(number: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    }
    // ScopeSpans.spans (2) x n -> ResourceSpans.scope_spans (2) -> request.resource_spans (1).
    let scope_spans = [0x12u8, 0x00].repeat(n);
    field(1, &field(2, &scope_spans))
}

/// `n` empty spans as OTLP/JSON (`{}` each).
fn empty_spans_json(n: usize) -> Vec<u8> {
    format!(
        "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{}]}}]}}]}}",
        vec!["{}"; n].join(",")
    )
    .into_bytes()
}

/// One valid OTLP/JSON request of one span.
fn one_span_json(n: u32) -> Vec<u8> {
    json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": format!("5f000000{n:024x}"),
        "spanId": format!("{:016x}", n + 1),
        "name": "work",
        "kind": 2,
        "startTimeUnixNano": "1600000000000000000",
        "endTimeUnixNano": "1600000000100000000"
    }]}]}]})
    .to_string()
    .into_bytes()
}

/// `(received, accepted, refused)` of a receiver counter family (`items` or `requests`).
fn receiver_counts(metrics: &str, unit: &str) -> (f64, f64, f64) {
    // A family with no increment yet is absent from the page: read as 0 (e.g. nothing accepted).
    let get = |what: &str| {
        metric_sum_or_zero(
            metrics,
            &format!("xray_collector_receiver_{what}_{unit}_total"),
            &["receiver=\"otlp\""],
        )
    };
    (get("received"), get("accepted"), get("refused"))
}

fn refused_with(metrics: &str, unit: &str, reason: &str) -> f64 {
    metric_sum(
        metrics,
        &format!("xray_collector_receiver_refused_{unit}_total"),
        &[&format!("reason=\"{reason}\"")],
    )
}

#[test]
fn decoded_size_amplification_is_refused_within_the_memory_budget() {
    // Issue 14 item 1: a few KB of gzip holding a million empty spans (2 bytes each on the wire,
    // a whole `Span` each decoded) must be refused before it is decoded, and the collector's
    // peak memory must stay far below what decoding it takes (~300 MB each).
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(&local_config(grpc, http, "", ""), &[]);
    let before = collector.status_kib("VmHWM");
    let spans = 1_000_000;
    let protobuf = gzip(&empty_spans_protobuf(spans));
    let json_body = gzip(&empty_spans_json(spans));
    assert!(protobuf.len() < 20_000 && json_body.len() < 40_000);
    let gz_proto = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "gzip"),
    ];
    let gz_json = [
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
    ];
    let (status, _, body) = post(http, "/v1/traces", &gz_proto, &protobuf);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = post(http, "/v1/traces", &gz_json, &json_body);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    // An ordinary request still passes.
    let json_ct = [("Content-Type", "application/json")];
    assert_eq!(post(http, "/v1/traces", &json_ct, &one_span_json(1)).0, 200);
    let grown_mib = (collector.status_kib("VmHWM").saturating_sub(before)) / 1024;
    assert!(
        grown_mib < 100,
        "peak memory grew by {grown_mib} MiB (from {} MiB)",
        before / 1024
    );
    let metrics = collector.metrics();
    // Exact accounting: each refused body counts its million spans, the good one its one.
    assert_eq!(
        refused_with(&metrics, "items", "too_large"),
        2.0 * spans as f64,
        "{metrics}"
    );
    assert_eq!(
        receiver_counts(&metrics, "items"),
        (2.0 * spans as f64 + 1.0, 1.0, 2.0 * spans as f64)
    );
    assert_eq!(receiver_counts(&metrics, "requests"), (3.0, 1.0, 2.0));
    assert_eq!(refused_with(&metrics, "requests", "too_large"), 2.0);
}

#[test]
fn idle_grpc_connections_beyond_the_cap_are_closed_and_counted() {
    // Issue 14 item 8: the gRPC port holds at most 512 connections; more are closed at once and
    // counted, while the health check keeps answering.
    const CAP: usize = 512;
    const EXTRA: usize = 20;
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(&local_config(grpc, http, "", ""), &[]);
    let mut conns: Vec<TcpStream> = (0..CAP + EXTRA)
        .map(|_| TcpStream::connect(("127.0.0.1", grpc)).expect("connect"))
        .collect();
    // Wait until every connection has been accepted or refused.
    let refused = collector.wait_metric(
        "xray_collector_receiver_refused_requests_total",
        &["reason=\"too_many_connections\""],
        EXTRA as f64,
        Duration::from_secs(20),
    );
    assert_eq!(refused, EXTRA as f64, "{}", collector.log());
    // Exactly the connections beyond the cap were closed.
    let mut closed = 0;
    for conn in &mut conns {
        conn.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut buf = [0u8; 64];
        match conn.read(&mut buf) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, EXTRA);
    assert_eq!(
        common::http_get(collector.health_port, "/").map(|(s, _)| s),
        Some(200)
    );
    let metrics = collector.metrics();
    assert_eq!(
        refused_with(&metrics, "items", "too_many_connections"),
        EXTRA as f64
    );
    assert_eq!(
        receiver_counts(&metrics, "requests"),
        (EXTRA as f64, 0.0, EXTRA as f64)
    );
    // Capacity comes back once the idle connections go.
    drop(conns);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
            .await
            .expect("connect");
        client
            .export(ExportTraceServiceRequest::default())
            .await
            .expect("an export after the idle connections closed");
    });
}

/// A gRPC codec that sends raw bytes as the message (to send malformed requests).
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Exports `message` (raw bytes) over gRPC; the status code of the answer.
async fn raw_export(grpc: u16, message: Vec<u8>) -> tonic::Code {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{grpc}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut client = tonic::client::Grpc::new(channel).max_encoding_message_size(8 << 20);
    client.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    match client
        .unary(tonic::Request::new(message), path, RawCodec)
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

#[test]
fn grpc_refusals_are_invalid_argument_and_counted() {
    // Issue 14 item 9: malformed and oversized messages get INVALID_ARGUMENT (OTLP clients do
    // not retry it), never OUT_OF_RANGE or INTERNAL, and each is counted with its reason.
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(
        &local_config(grpc, http, "        max_recv_msg_size_mib: 1", ""),
        &[],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let empty_spans = 500_000;
    let codes = runtime.block_on(async {
        vec![
            // Not protobuf.
            raw_export(grpc, vec![0xff, 0xff, 0xff]).await,
            // Over max_recv_msg_size_mib.
            raw_export(grpc, vec![0; 2 << 20]).await,
            // Within the message size, but half a million decoded spans: over the memory limit.
            raw_export(grpc, empty_spans_protobuf(empty_spans)).await,
            // A good one.
            raw_export(grpc, empty_spans_protobuf(1)).await,
        ]
    });
    use tonic::Code::{InvalidArgument, Ok};
    assert_eq!(
        codes,
        [InvalidArgument, InvalidArgument, InvalidArgument, Ok],
        "{}",
        collector.log()
    );
    let metrics = collector.metrics();
    assert_eq!(refused_with(&metrics, "requests", "malformed"), 1.0);
    assert_eq!(refused_with(&metrics, "requests", "too_large"), 2.0);
    assert_eq!(refused_with(&metrics, "items", "malformed"), 1.0);
    assert_eq!(
        refused_with(&metrics, "items", "too_large"),
        1.0 + empty_spans as f64
    );
    assert_eq!(receiver_counts(&metrics, "requests"), (4.0, 1.0, 3.0));
    assert_eq!(
        receiver_counts(&metrics, "items"),
        (3.0 + empty_spans as f64, 1.0, 2.0 + empty_spans as f64)
    );
}

#[test]
fn slow_bodies_do_not_hold_the_in_flight_slots() {
    // Issue 14 item 10: 80 clients that send headers and a few bytes of body, then stall, must
    // not keep a normal request out; an over-limit Content-Length is refused before its body.
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(
        &local_config(grpc, http, "", "        max_request_body_size: 100000"),
        &[],
    );
    let slow: Vec<TcpStream> = (0..80)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", http)).expect("connect");
            s.write_all(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"resourceSpans\":",
            )
            .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let json_ct = [("Content-Type", "application/json")];
    let (status, _, body) = post(http, "/v1/traces", &json_ct, &one_span_json(7));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Content-Length over max_request_body_size: 413 without sending the body.
    let mut big = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    big.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100001\r\n\r\n",
    )
    .unwrap();
    let mut answer = [0u8; 12];
    big.read_exact(&mut answer)
        .expect("an answer before the body");
    assert_eq!(&answer, b"HTTP/1.1 413");
    // The stalled clients give up: each is counted once, as malformed (a broken body).
    drop(slow);
    let refused = collector.wait_metric(
        "xray_collector_receiver_refused_requests_total",
        &[],
        81.0,
        Duration::from_secs(10),
    );
    assert_eq!(refused, 81.0);
    let metrics = collector.metrics();
    assert_eq!(refused_with(&metrics, "requests", "too_large"), 1.0);
    assert_eq!(refused_with(&metrics, "requests", "malformed"), 80.0);
    assert_eq!(receiver_counts(&metrics, "requests"), (82.0, 1.0, 81.0));
    assert_eq!(receiver_counts(&metrics, "items"), (82.0, 1.0, 81.0));
}

#[test]
fn received_is_accepted_plus_refused_for_items_and_requests() {
    // Issue 14 item 11: after a mix of good and bad requests on both protocols, every request
    // and every item is counted as received once and as accepted or refused once.
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let collector = Collector::start(
        &local_config(grpc, http, "", "        max_request_body_size: 100000"),
        &[],
    );
    let json_ct = [("Content-Type", "application/json")];
    let proto_ct = [("Content-Type", "application/x-protobuf")];
    let answers = [
        post(http, "/v1/traces", &json_ct, &one_span_json(1)).0,
        post(http, "/v1/traces", &proto_ct, &empty_spans_protobuf(3)).0,
        post(http, "/v1/traces", &json_ct, b"{\"resourceSpans\": 7}").0,
        post(http, "/v1/traces", &proto_ct, &[0xff, 0xff]).0,
        post(http, "/v1/traces", &[("Content-Type", "text/plain")], b"x").0,
        post(http, "/v1/traces", &proto_ct, &vec![0u8; 100_001]).0,
        post(
            http,
            "/v1/traces",
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", "br"),
            ],
            b"x",
        )
        .0,
    ];
    assert_eq!(answers, [200, 200, 400, 400, 415, 413, 415]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let codes = runtime.block_on(async {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        use prost::Message;
        // A gzip-compressed export of one span (charged its inflated size up front).
        let mut gzipped = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
            .await
            .expect("connect")
            .send_compressed(tonic::codec::CompressionEncoding::Gzip);
        let one = ExportTraceServiceRequest::decode(empty_spans_protobuf(1).as_slice()).unwrap();
        vec![
            raw_export(grpc, empty_spans_protobuf(2)).await,
            raw_export(grpc, vec![0xff]).await,
            match gzipped.export(one).await {
                Ok(_) => tonic::Code::Ok,
                Err(status) => status.code(),
            },
        ]
    });
    assert_eq!(
        codes,
        [
            tonic::Code::Ok,
            tonic::Code::InvalidArgument,
            tonic::Code::Ok
        ]
    );
    let metrics = collector.metrics();
    let (received, accepted, refused) = receiver_counts(&metrics, "requests");
    assert_eq!((received, accepted, refused), (10.0, 4.0, 6.0), "{metrics}");
    let (received, accepted, refused) = receiver_counts(&metrics, "items");
    assert_eq!(accepted, 7.0, "{metrics}");
    assert_eq!(received, accepted + refused, "{metrics}");
    assert_eq!(refused, 6.0, "{metrics}");
}

#[test]
fn hand_written_empty_spans_decode_as_empty_spans() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;
    let request = ExportTraceServiceRequest::decode(empty_spans_protobuf(3).as_slice()).unwrap();
    assert_eq!(
        request.resource_spans[0].scope_spans[0].spans,
        vec![Span::default(); 3]
    );
}

#[test]
fn a_budget_held_by_other_requests_is_refused_retryably() {
    // Issue 14 items 1 and 9: when other requests hold the memory budget, a request that would
    // fit alone gets the retryable answer (gRPC RESOURCE_EXHAUSTED with RetryInfo, HTTP 503 with
    // Retry-After), counted as `memory_limit`, and passes once the budget is free again.
    let (grpc, http) = (harness::free_port(), harness::free_port());
    let config = local_config(grpc, http, "        max_recv_msg_size_mib: 1", "").replace(
        "  otlp:\n    memory_limit_mib: 64\n",
        "  otlp:\n    memory_limit_mib: 2\n",
    );
    let collector = Collector::start(&config, &[]);
    // A slow client declares a 1.9 MB body and stalls: the declared size is charged up front.
    let mut slow = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    slow.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1900000\r\n\r\n\x0a",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A thousand empty spans: a few hundred KB decoded, more than what is left.
    let export = |message: Vec<u8>| {
        runtime.block_on(async {
            use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
            use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
            use prost::Message;
            let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
                .await
                .expect("connect");
            client
                .export(ExportTraceServiceRequest::decode(message.as_slice()).unwrap())
                .await
        })
    };
    let status = export(empty_spans_protobuf(1000)).expect_err("the budget is held");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let retry_info = b"type.googleapis.com/google.rpc.RetryInfo";
    assert!(
        status
            .details()
            .windows(retry_info.len())
            .any(|w| w == retry_info),
        "RESOURCE_EXHAUSTED without RetryInfo: {status:?}"
    );
    let json_ct = [("Content-Type", "application/json")];
    let (code, head, _) = post(http, "/v1/traces", &json_ct, &empty_spans_json(1000));
    assert_eq!(code, 503, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    // The stalled client goes; its budget comes back and the same export passes.
    drop(slow);
    collector.wait_metric(
        "xray_collector_receiver_refused_requests_total",
        &["reason=\"malformed\""],
        1.0,
        Duration::from_secs(10),
    );
    export(empty_spans_protobuf(1000)).expect("an export once the budget is free");
    let metrics = collector.metrics();
    assert_eq!(refused_with(&metrics, "requests", "memory_limit"), 2.0);
    assert_eq!(refused_with(&metrics, "items", "memory_limit"), 2000.0);
    assert_eq!(receiver_counts(&metrics, "requests"), (4.0, 1.0, 3.0));
    assert_eq!(receiver_counts(&metrics, "items"), (3001.0, 1000.0, 2001.0));
}
