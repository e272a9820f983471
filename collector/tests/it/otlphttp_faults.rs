//! Fault tests of the `otlphttp` exporter against the fault-injecting OTLP/HTTP server
//! (`support/fault_otlp.rs`): `429` with `Retry-After`, `502`/`503`/`504`, a permanent `400`, a
//! partial success, timeouts, connection refused, and an outage beyond `max_elapsed_time` with a
//! full queue. Each test sends a known set of spans to the real collector binary's OTLP/HTTP
//! receiver and checks the exact accounting: received = sent + failed + dropped, by reason, and
//! every span the server accepted arrived exactly once. Every request is checked by the server
//! (protobuf, gzip that really is gzip, SigV4-signed for `xray` in `us-east-1`).
//!
//! Also: X-Ray segments over UDP are converted, retried and counted by document; OTLP and X-Ray
//! batches in a persistent queue survive `kill -9`; the shutdown deadline counts spans still being
//! retried; `sigv4auth` with no region anywhere stops start-up naming the settings.

use crate::common;
use crate::support::fault_otlp;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Accounting, Collector, accounting, metric_sum_or_zero, settle};
use fault_otlp::{FaultOtlp, Reply};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// Short retry settings, so that a test's outage lasts a second or two.
const FAST_RETRY: &str = "    retry_on_failure:
      initial_interval: 25ms
      max_interval: 150ms
      max_elapsed_time: 0";

fn config(otlp: u16, endpoint: &str, exporter_extra: &str) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 50ms
    send_batch_size: 50
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
  sigv4auth:
    region: us-east-1
    service: xray
exporters:
  otlphttp:
    endpoint: {endpoint}
    auth:
      authenticator: sigv4auth
    timeout: 1s
{exporter_extra}
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: METRICS_PORT
"#
    )
}

/// Posts spans `first..first + n` to the collector's OTLP/HTTP receiver in requests of 10;
/// returns their span ids (hex).
fn send(otlp: u16, first: u64, n: u64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut k = first;
    while k < first + n {
        let end = (k + 10).min(first + n);
        let spans: Vec<Span> = (k..end)
            .map(|i| {
                let span_id = (i + 1).to_be_bytes().to_vec();
                ids.push(span_id.iter().map(|b| format!("{b:02x}")).collect());
                let mut trace_id = vec![0x5e; 8];
                trace_id.extend((i / 10 + 1).to_be_bytes());
                Span {
                    trace_id,
                    span_id,
                    name: format!("fault-{i}"),
                    kind: 2,
                    start_time_unix_nano: 1_700_000_000_000_000_000 + i,
                    end_time_unix_nano: 1_700_000_000_500_000_000 + i,
                    ..Default::default()
                }
            })
            .collect();
        let body = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "fault-test".into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec();
        let status = post(otlp, &body);
        assert_eq!(status, 200, "the receiver takes the spans");
        k = end;
    }
    ids
}

fn post(port: u16, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

fn counter(c: &Collector, metric: &str, reason: &str) -> u64 {
    metric_sum_or_zero(&c.metrics(), metric, &[&format!("reason=\"{reason}\"")]) as u64
}

fn retries(c: &Collector, reason: &str) -> u64 {
    counter(c, "xray_collector_exporter_retries_total", reason)
}

/// Every request the server saw was well formed: protobuf, gzip, signed for X-Ray in us-east-1.
fn assert_requests_well_formed(server: &FaultOtlp) {
    assert!(server.malformed().is_empty(), "{:?}", server.malformed());
    let records = server.records();
    assert!(!records.is_empty());
    for r in &records {
        assert_eq!(r.content_encoding, "gzip");
        assert!(
            r.authorization
                .starts_with("AWS4-HMAC-SHA256 Credential=testing/")
                && r.authorization.contains("/us-east-1/xray/aws4_request"),
            "{}",
            r.authorization
        );
        assert!(
            r.user_agent.starts_with("xray-collector/"),
            "{}",
            r.user_agent
        );
    }
}

/// Asserts the lossless outcome: all `ids` sent, each accepted by the server exactly once.
fn assert_lossless(c: &Collector, server: &FaultOtlp, ids: &[String], a: &Accounting) {
    let n = ids.len() as u64;
    assert_eq!(
        *a,
        Accounting {
            received: n,
            refused: 0,
            sent: n,
            failed: 0,
            dropped: 0
        },
        "{}",
        c.log()
    );
    let accepted = server.accepted();
    let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = accepted.keys().map(String::as_str).collect();
    assert_eq!(got, want, "the server holds exactly the spans sent");
    assert!(accepted.values().all(|&k| k == 1), "no span accepted twice");
    assert_requests_well_formed(server);
}

#[test]
fn throttled_429_waits_for_retry_after_then_delivers_once() {
    // The first call is throttled with `Retry-After: 1`; the backoff alone would be 25 ms.
    let server = FaultOtlp::start(|call| {
        if call.number == 0 {
            Reply::RetryAfter(429, "1".into())
        } else {
            Reply::Accept
        }
    });
    let otlp = harness::free_port();
    let c = Collector::start(&config(otlp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(otlp, 0, 100);
    let a = settle(&c, 100, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert_eq!(server.replies()["retry_after_429"], 1);
    assert_eq!(retries(&c, "throttled"), 1);
    let records = server.records();
    let throttled = &records[0];
    let again = records[1..]
        .iter()
        .find(|r| r.span_ids == throttled.span_ids)
        .expect("the throttled request is sent again");
    let waited = again.elapsed - throttled.elapsed;
    assert!(
        waited >= Duration::from_millis(990),
        "retried after {waited:?}, before Retry-After"
    );
    assert_eq!(
        metric_sum_or_zero(
            &c.metrics(),
            "xray_collector_exporter_requests_total",
            &["outcome=\"throttled\""]
        ),
        1.0
    );
}

#[test]
fn server_errors_502_503_504_are_retried_until_accepted() {
    let server = FaultOtlp::start(|call| match call.number {
        0 | 1 => Reply::Status(503, "injected: unavailable"),
        2 => Reply::Status(502, "injected: bad gateway"),
        3 => Reply::Status(504, "injected: gateway timeout"),
        _ => Reply::Accept,
    });
    let otlp = harness::free_port();
    let c = Collector::start(&config(otlp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(otlp, 0, 200);
    let a = settle(&c, 200, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert_eq!(retries(&c, "server_error"), 4);
}

#[test]
fn bad_request_is_permanent_counted_and_not_retried() {
    let server = FaultOtlp::start(|_| Reply::Status(400, "injected: span name too long"));
    let otlp = harness::free_port();
    let c = Collector::start(&config(otlp, &server.endpoint(), FAST_RETRY), &[]);
    send(otlp, 0, 120);
    let a = settle(&c, 120, Duration::from_secs(30));
    assert_eq!(
        a,
        Accounting {
            received: 120,
            refused: 0,
            sent: 0,
            failed: 120,
            dropped: 0
        },
        "{}",
        c.log()
    );
    assert_eq!(
        counter(
            &c,
            "xray_collector_exporter_failed_items_total",
            "permanent_error"
        ),
        120
    );
    let m = c.metrics();
    assert_eq!(
        metric_sum_or_zero(&m, "xray_collector_exporter_retries_total", &[]),
        0.0
    );
    // One call per batch, none repeated.
    let records = server.records();
    let calls: Vec<&Vec<String>> = records.iter().map(|r| &r.span_ids).collect();
    let distinct: BTreeSet<&Vec<String>> = calls.iter().copied().collect();
    assert_eq!(
        calls.len(),
        distinct.len(),
        "a permanent error is not retried"
    );
    assert_eq!(records.iter().map(|r| r.span_ids.len()).sum::<usize>(), 120);
    assert!(server.accepted().is_empty());
    // The server's google.rpc.Status message is logged.
    assert!(
        c.log().contains("injected: span name too long"),
        "{}",
        c.log()
    );
}

#[test]
fn partial_success_counts_the_rejected_spans() {
    let server = FaultOtlp::start(|call| {
        if call.number == 0 {
            Reply::Partial(3, "injected: 3 spans too old")
        } else {
            Reply::Accept
        }
    });
    let otlp = harness::free_port();
    let c = Collector::start(&config(otlp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(otlp, 0, 100);
    let a = settle(&c, 100, Duration::from_secs(30));
    assert_eq!(
        a,
        Accounting {
            received: 100,
            refused: 0,
            sent: 97,
            failed: 3,
            dropped: 0
        },
        "{}",
        c.log()
    );
    assert_eq!(
        counter(
            &c,
            "xray_collector_exporter_failed_items_total",
            "partial_success"
        ),
        3
    );
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 97);
    assert!(accepted.values().all(|&k| k == 1));
    assert!(ids.iter().filter(|id| !accepted.contains_key(*id)).count() == 3);
    assert_eq!(
        metric_sum_or_zero(&c.metrics(), "xray_collector_exporter_retries_total", &[]),
        0.0,
        "rejected spans are not retried"
    );
    let log = c.log();
    assert!(
        log.lines()
            .any(|l| l.contains("partial success") && l.contains("injected: 3 spans too old")),
        "{log}"
    );
    assert_requests_well_formed(&server);
}

#[test]
fn timeouts_and_refused_connections_are_retried() {
    // The exporter's endpoint is down at first (connection refused); when it comes up, its first
    // two answers are slower than the 1 s timeout.
    let port = harness::free_port();
    let otlp = harness::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = Collector::start(&config(otlp, &endpoint, FAST_RETRY), &[]);
    let ids = send(otlp, 0, 100);
    let deadline = Instant::now() + Duration::from_secs(20);
    while retries(&c, "connection") < 2 {
        assert!(
            Instant::now() < deadline,
            "no connection retries:\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(accounting(&c).sent, 0);
    let server = FaultOtlp::start_on(port, |call| {
        if call.number < 2 {
            Reply::Stall(Duration::from_secs(3))
        } else {
            Reply::Accept
        }
    });
    let a = settle(&c, 100, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert!(retries(&c, "timeout") >= 2, "{}", c.metrics());
}

#[test]
fn outage_beyond_max_elapsed_time_and_a_full_queue_are_counted_exactly() {
    // A permanent outage, a queue of 2 batches with 1 sender, a 1 s retry budget: every span
    // ends failed (retries exhausted) or dropped (queue full), none silently.
    let server = FaultOtlp::start(|_| Reply::Status(503, "injected: down"));
    let otlp = harness::free_port();
    let extra = "    sending_queue:
      num_consumers: 1
      queue_size: 2
    retry_on_failure:
      initial_interval: 25ms
      max_interval: 100ms
      max_elapsed_time: 1s";
    let c = Collector::start(&config(otlp, &server.endpoint(), extra), &[]);
    for round in 0..8 {
        send(otlp, round * 50, 50);
        std::thread::sleep(Duration::from_millis(60));
    }
    let a = settle(&c, 400, Duration::from_secs(60));
    assert_eq!(a.received, 400, "{}", c.log());
    assert_eq!(a.sent, 0);
    assert_eq!(a.refused + a.failed + a.dropped, 400, "{a:?}");
    let exhausted = counter(
        &c,
        "xray_collector_exporter_failed_items_total",
        "retries_exhausted",
    );
    let full = counter(
        &c,
        "xray_collector_exporter_dropped_items_total",
        "queue_full",
    );
    assert!(exhausted > 0 && full > 0, "{a:?}");
    assert_eq!(exhausted, a.failed);
    assert_eq!(full, a.dropped);
    assert!(server.accepted().is_empty());
    assert_requests_well_formed(&server);
}

/// Sends X-Ray documents `0..n` over UDP, each a segment with one embedded subsegment; returns
/// the ids of both (the span ids they become).
fn send_segments(udp: u16, n: u64) -> Vec<String> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut ids = Vec::new();
    for k in 0..n {
        let id = format!("{:016x}", k + 1);
        let sub = format!("{:016x}", (1u64 << 40) + k);
        let body = format!(
            r#"{{"id":"{id}","name":"legacy","start_time":{epoch}.5,"end_time":{epoch}.75,"trace_id":"1-{epoch:08x}-{:024x}","subsegments":[{{"id":"{sub}","name":"db","start_time":{epoch}.6,"end_time":{epoch}.7}}]}}"#,
            k / 10 + 1
        );
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{body}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        ids.push(id);
        ids.push(sub);
        if k % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    ids
}

#[test]
fn xray_segments_over_udp_are_converted_retried_and_counted_by_document() {
    // Legacy X-Ray SDK traffic through the same exporter: every document and its embedded
    // subsegment arrive as spans, once, after a 503; the counters count documents.
    let server = FaultOtlp::start(|call| {
        if call.number == 0 {
            Reply::Status(503, "injected: unavailable")
        } else {
            Reply::Accept
        }
    });
    let otlp = harness::free_port();
    let udp = common::free_udp_port();
    let text = config(otlp, &server.endpoint(), FAST_RETRY)
        .replace(
            "receivers:\n  otlp:",
            &format!("receivers:\n  awsxray:\n    endpoint: 127.0.0.1:{udp}\n  otlp:"),
        )
        .replace("receivers: [otlp]", "receivers: [awsxray, otlp]");
    let c = Collector::start(&text, &[]);
    let ids = send_segments(udp, 150);
    let a = settle(&c, 150, Duration::from_secs(30));
    assert_eq!(
        a,
        Accounting {
            received: 150,
            refused: 0,
            sent: 150,
            failed: 0,
            dropped: 0
        },
        "{}",
        c.log()
    );
    let accepted = server.accepted();
    let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = accepted.keys().map(String::as_str).collect();
    assert_eq!(got, want, "every segment and subsegment became one span");
    assert!(accepted.values().all(|&k| k == 1), "no span accepted twice");
    assert_eq!(retries(&c, "server_error"), 1);
    assert_requests_well_formed(&server);
}

#[test]
fn sigv4auth_without_any_region_stops_startup_naming_the_settings() {
    // Neither `region`, nor the endpoint host (127.0.0.1), nor the environment gives a region.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collector.yaml");
    let text = config(harness::free_port(), "http://127.0.0.1:9", "")
        .replace("    region: us-east-1\n", "")
        .replace("METRICS_PORT", &harness::free_port().to_string())
        .replace("HEALTH_PORT", &harness::free_port().to_string());
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .arg(format!("--config={}", path.display()))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("extensions.sigv4auth: no AWS region for exporter `otlphttp`: set `region`"),
        "{stderr}"
    );
}

#[test]
fn the_disk_queue_keeps_otlp_and_xray_batches_through_kill_9() {
    // The endpoint is down; spans and X-Ray documents wait in the disk queue; the collector is
    // killed with SIGKILL, the endpoint comes up, and a restarted collector sends them all.
    let storage = tempfile::tempdir().unwrap();
    let port = harness::free_port();
    let otlp = harness::free_port();
    let udp = common::free_udp_port();
    let text = config(otlp, &format!("http://127.0.0.1:{port}"), FAST_RETRY)
        .replace(
            "receivers:\n  otlp:",
            &format!("receivers:\n  awsxray:\n    endpoint: 127.0.0.1:{udp}\n  otlp:"),
        )
        .replace("receivers: [otlp]", "receivers: [awsxray, otlp]")
        .replace(
            "extensions:\n  health_check:",
            &format!(
                "extensions:\n  file_storage:\n    directory: {}\n  health_check:",
                storage.path().display()
            ),
        )
        .replace(
            "    timeout: 1s\n",
            "    timeout: 1s\n    sending_queue:\n      storage: file_storage\n",
        )
        .replace(
            "extensions: [health_check, sigv4auth]",
            "extensions: [health_check, sigv4auth, file_storage]",
        );
    let c = Collector::start(&text, &[]);
    // OTLP span ids start far above the X-Ray ids, so that the two sets do not meet.
    let mut ids = send(otlp, 1 << 32, 100);
    ids.extend(send_segments(udp, 60));
    let deadline = Instant::now() + Duration::from_secs(20);
    while accounting(&c).received < 160 || retries(&c, "connection") < 1 {
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            accounting(&c),
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The batch processor flushes within 50 ms; give it ten times that to reach the disk.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(accounting(&c).sent, 0);
    c.kill9();

    let server = FaultOtlp::start_on(port, |_| Reply::Accept);
    let c = Collector::start(&text, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.accepted().len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} spans arrived; missing {:?}\n{}",
            server.accepted().len(),
            ids.len(),
            ids.iter()
                .filter(|id| !server.accepted().contains_key(*id))
                .take(5)
                .collect::<Vec<_>>(),
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let accepted = server.accepted();
    let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = accepted.keys().map(String::as_str).collect();
    assert_eq!(got, want, "every span and document survived the kill");
    assert!(accepted.values().all(|&k| k == 1), "no span sent twice");
    // The restarted collector counts what it replayed: 100 spans and 60 documents.
    let a = settle(&c, 0, Duration::from_secs(10));
    assert_eq!(
        (a.received, a.sent, a.failed, a.dropped),
        (0, 160, 0, 0),
        "{}",
        c.log()
    );
    assert_requests_well_formed(&server);
}

/// The numbers of the "Shutdown complete" log line.
fn summary(log: &str) -> std::collections::BTreeMap<String, u64> {
    let line = log
        .lines()
        .find(|l| l.contains("Shutdown complete"))
        .unwrap_or_else(|| panic!("no shutdown summary in log:\n{log}"));
    line.split_whitespace()
        .filter_map(|tok| tok.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

#[test]
fn the_shutdown_deadline_counts_spans_still_being_retried() {
    // The endpoint answers 503 for ever; SIGTERM with a 1 s deadline drops and counts them.
    let server = FaultOtlp::start(|_| Reply::Status(503, "injected: down"));
    let otlp = harness::free_port();
    let c = Collector::start(
        &config(otlp, &server.endpoint(), FAST_RETRY),
        &["--shutdown-timeout=1s"],
    );
    send(otlp, 0, 80);
    let deadline = Instant::now() + Duration::from_secs(20);
    while retries(&c, "server_error") < 2 {
        assert!(Instant::now() < deadline, "no retries:\n{}", c.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    c.sigterm();
    let (status, log) = c.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}:\n{log}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline bounds shutdown"
    );
    let s = summary(&log);
    assert_eq!(
        (s["received"], s["sent"], s["failed"], s["dropped"]),
        (80, 0, 0, 80),
        "{log}"
    );
    assert!(log.contains("Shutdown deadline reached"), "{log}");
}
