//! End to end: the real aws-xray-sdk (`AWS_XRAY_DAEMON_ADDRESS="tcp:… udp:…"`, centralized
//! sampling) gets its sampling rules and targets through the collector's sampling proxy
//! (`receivers.awsxray.proxy_server`) from the SigV4-checking sampling upstream
//! (`tests/apps/sampling_upstream.py`, a stand-in for the X-Ray sampling API, which moto lacks).
//!
//! The upstream recomputes every signature with botocore; the SDK sends its requests unsigned, so
//! they are served only because the proxy signed them. Requests for any other path, or with
//! another method, are refused by the proxy with 404 / 405, never reach the upstream, and are
//! counted in `xray_collector_receiver_proxy_requests_total`.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Collector, metric_sum_or_zero};
use serde_json::Value;

/// The SigV4-checking sampling upstream, killed on drop.
struct SamplingUpstream {
    child: Child,
    port: u16,
}

impl SamplingUpstream {
    fn start(python: &std::path::Path) -> SamplingUpstream {
        let mut child = Command::new(python)
            .arg(common::app("sampling_upstream.py"))
            .args(["testing", "testing", "us-east-1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the sampling upstream");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the upstream's port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected upstream banner {line:?}"));
        SamplingUpstream { child, port }
    }

    /// What reached the upstream so far.
    fn requests(&self) -> Vec<Value> {
        let (status, body) = common::http_get(self.port, "/_requests").expect("upstream answers");
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("request log is JSON")
    }
}

impl Drop for SamplingUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 request with `Connection: close`: the status code.
fn raw_request(port: u16, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send request");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}

#[test]
fn xray_sdk_gets_sampling_rules_through_the_signing_proxy_and_nothing_else_passes() {
    let check = "collector e2e: aws-xray-sdk sampling -> proxy_server (SigV4) -> sampling upstream";
    let Some(python) = harness::python(check) else {
        return;
    };
    let upstream = SamplingUpstream::start(&python);

    // The checker itself rejects what is not signed: without this, a pass below would prove nothing.
    let unsigned = raw_request(upstream.port, "POST", "/GetSamplingRules", "{}");
    assert_eq!(unsigned, 403, "the upstream must refuse unsigned requests");
    let log = upstream.requests();
    assert_eq!(log.len(), 1);
    assert!(
        log[0]["signature_error"]
            .as_str()
            .is_some_and(|e| e.contains("unsigned"))
    );

    let udp = common::free_udp_port();
    let tcp = harness::free_port();
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
    proxy_server:
      endpoint: 127.0.0.1:{tcp}
      region: us-east-1
      aws_endpoint: http://127.0.0.1:{up}
      local_mode: true
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
      receivers: [awsxray]
      exporters: [debug]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        up = upstream.port
    );
    let collector = Collector::start(&config, &[]);
    assert!(
        harness::wait_for_port(tcp, Duration::from_secs(10)),
        "the proxy does not listen:\n{}",
        collector.log()
    );

    let out = Command::new(&python)
        .arg(common::app("xray_sampling_app.py"))
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            format!("tcp:127.0.0.1:{tcp} udp:127.0.0.1:{udp}"),
        )
        .output()
        .expect("run the X-Ray SDK sampling app");
    assert!(
        out.status.success(),
        "app failed: {}\n{}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("the app prints JSON");
    assert_eq!(
        result["rules"],
        serde_json::json!(["Default", "checkout-rule"]),
        "rules must come from the upstream: {result}"
    );
    assert_eq!(result["targets"]["checkout-rule"]["rate"], 0.25, "{result}");
    assert_eq!(result["targets"]["checkout-rule"]["quota"], 3, "{result}");

    let forwarded: Vec<Value> = upstream.requests().into_iter().skip(1).collect();
    let paths: Vec<&str> = forwarded
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(paths.contains(&"/GetSamplingRules"), "{forwarded:?}");
    assert!(paths.contains(&"/SamplingTargets"), "{forwarded:?}");
    for request in &forwarded {
        assert_eq!(
            request["signature_error"],
            Value::Null,
            "the upstream rejected a forwarded signature: {request}"
        );
    }
    let targets = forwarded
        .iter()
        .find(|r| r["path"] == "/SamplingTargets")
        .expect("targets request");
    let statistics: Value =
        serde_json::from_str(targets["body"].as_str().unwrap()).expect("targets body is JSON");
    assert!(
        statistics["SamplingStatisticsDocuments"]
            .as_array()
            .is_some_and(|docs| docs.iter().any(|d| d["RuleName"] == "checkout-rule")),
        "the SDK's statistics were forwarded unchanged: {statistics}"
    );

    // Anything else is refused by the proxy and never forwarded.
    let before = upstream.requests().len();
    assert_eq!(
        raw_request(
            tcp,
            "POST",
            "/TraceSegments",
            r#"{"TraceSegmentDocuments":[]}"#
        ),
        404
    );
    assert_eq!(raw_request(tcp, "POST", "/TelemetryRecords", "{}"), 404);
    assert_eq!(raw_request(tcp, "POST", "/GetSamplingRules?x=1", "{}"), 404);
    assert_eq!(raw_request(tcp, "GET", "/GetSamplingRules", ""), 405);
    let oversized = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    assert_eq!(
        raw_request(tcp, "POST", "/SamplingTargets", &oversized),
        413
    );
    assert_eq!(
        upstream.requests().len(),
        before,
        "a refused request reached the upstream"
    );

    let metrics = collector.metrics();
    let count = |outcome: &str| {
        metric_sum_or_zero(
            &metrics,
            "xray_collector_receiver_proxy_requests_total",
            &[&format!("outcome=\"{outcome}\""), "receiver=\"awsxray\""],
        )
    };
    assert_eq!(count("refused_path"), 3.0, "{metrics}");
    assert_eq!(count("refused_method"), 1.0, "{metrics}");
    assert_eq!(count("refused_body"), 1.0, "{metrics}");
    assert_eq!(count("forwarded"), forwarded.len() as f64, "{metrics}");
}

/// The node_modules directory holding the OpenTelemetry X-Ray remote sampler for JavaScript
/// (`tests/tools/package.json`), or `None` after recording the skip.
fn remote_sampler_modules(check: &str) -> Option<std::path::PathBuf> {
    let modules = harness::project_root().join(".tools/node/node_modules");
    if modules.join("@opentelemetry/sampler-aws-xray").is_dir() {
        return Some(modules);
    }
    if harness::tools_required() {
        panic!(
            "{check}: @opentelemetry/sampler-aws-xray is not installed; run tests/tools/setup.sh"
        );
    }
    harness::record_skip(check, "@opentelemetry/sampler-aws-xray in .tools/node");
    None
}

#[test]
fn awsproxy_extension_serves_the_otel_remote_sampler_and_the_xray_sdk() {
    let check = "collector e2e: OpenTelemetry X-Ray remote sampler + aws-xray-sdk -> extensions.awsproxy (SigV4) -> sampling upstream";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(node) = harness::require_tool("node", check) else {
        return;
    };
    let Some(modules) = remote_sampler_modules(check) else {
        return;
    };
    let upstream = SamplingUpstream::start(&python);
    let udp = common::free_udp_port();
    let tcp = harness::free_port();
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
exporters:
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
  awsproxy:
    endpoint: 127.0.0.1:{tcp}
    region: us-east-1
    aws_endpoint: http://127.0.0.1:{up}
    local_mode: true
service:
  extensions: [health_check, awsproxy]
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [debug]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        up = upstream.port
    );
    let collector = Collector::start(&config, &[]);
    assert!(
        harness::wait_for_port(tcp, Duration::from_secs(10)),
        "the awsproxy extension does not listen:\n{}",
        collector.log()
    );

    // The OpenTelemetry SDK's remote sampler.
    let out = Command::new(&node)
        .arg(common::app("otel_remote_sampler_app.js"))
        .arg(format!("http://127.0.0.1:{tcp}"))
        .env("NODE_PATH", &modules)
        .output()
        .expect("run the remote sampler app");
    assert!(
        out.status.success(),
        "remote sampler app failed: {}\n{}\ncollector log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        collector.log()
    );
    let otel: Value = serde_json::from_slice(&out.stdout).expect("the app prints JSON");
    assert_eq!(
        otel["rules"],
        serde_json::json!(["Default", "checkout-rule"]),
        "{otel}"
    );
    assert_eq!(otel["targets"]["checkout-rule"]["rate"], 0.25, "{otel}");
    assert_eq!(otel["targets"]["checkout-rule"]["quota"], 3, "{otel}");
    let after_otel = upstream.requests();

    // The X-Ray SDK, through the same extension.
    let out = Command::new(&python)
        .arg(common::app("xray_sampling_app.py"))
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            format!("tcp:127.0.0.1:{tcp} udp:127.0.0.1:{udp}"),
        )
        .output()
        .expect("run the X-Ray SDK sampling app");
    assert!(
        out.status.success(),
        "X-Ray SDK app failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).expect("the app prints JSON");
    assert_eq!(
        sdk["rules"],
        serde_json::json!(["Default", "checkout-rule"]),
        "{sdk}"
    );
    assert_eq!(sdk["targets"]["checkout-rule"]["rate"], 0.25, "{sdk}");

    // Everything reached the upstream signed (it refuses unsigned requests), from both clients.
    let forwarded = upstream.requests();
    for request in &forwarded {
        assert_eq!(request["signature_error"], Value::Null, "{request}");
    }
    for log in [&after_otel, &forwarded] {
        for path in ["/GetSamplingRules", "/SamplingTargets"] {
            assert!(log.iter().any(|r| r["path"] == path), "{path}: {log:?}");
        }
    }
    let targets = after_otel
        .iter()
        .find(|r| r["path"] == "/SamplingTargets")
        .expect("the remote sampler's targets request");
    let statistics: Value =
        serde_json::from_str(targets["body"].as_str().unwrap()).expect("targets body is JSON");
    assert!(
        statistics["SamplingStatisticsDocuments"]
            .as_array()
            .is_some_and(|docs| docs
                .iter()
                .any(|d| d["RuleName"] == "checkout-rule" && d["RequestCount"] == 5)),
        "the sampler's statistics were forwarded unchanged: {statistics}"
    );
    // Only the two routes: anything else is refused by the extension, as by the receiver's proxy.
    assert_eq!(raw_request(tcp, "POST", "/TraceSegments", "{}"), 404);
    let metrics = collector.metrics();
    let count = |outcome: &str| {
        metric_sum_or_zero(
            &metrics,
            "xray_collector_extension_proxy_requests_total",
            &[&format!("outcome=\"{outcome}\""), "extension=\"awsproxy\""],
        )
    };
    assert_eq!(count("forwarded"), forwarded.len() as f64, "{metrics}");
    assert_eq!(count("refused_path"), 1.0, "{metrics}");
}
