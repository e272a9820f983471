//! Throttling and unprocessed segments: against a fault-injecting stand-in for the X-Ray API
//! (`apps/throttling_xray_api.py`; moto cannot throttle), throttled calls are retried with backoff
//! until they succeed, and a segment X-Ray reports as unprocessed with a non-retryable code is
//! counted and logged with its ids.

mod common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Collector, metric_sum};

#[test]
fn throttling_is_retried_and_unprocessed_segments_are_counted() {
    let check = "collector retries against a throttling X-Ray API stand-in";
    let Some(python) = harness::python(check) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stored = dir.path().join("stored.jsonl");
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let trace_id = format!("1-{epoch:08x}-{:024x}", 7);
    let reject_id = format!("{:016x}", 3);
    let mut api = Command::new(&python)
        .arg(common::app("throttling_xray_api.py"))
        .args(["3", &reject_id, &stored.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in API");
    let mut port = String::new();
    BufReader::new(api.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{}", port.trim());

    let udp = common::free_udp_port();
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
processors:
  batch:
    timeout: 100ms
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#
    );
    let collector = Collector::start(&config, &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 1..=10u64 {
        let body = format!(
            r#"{{"id":"{n:016x}","name":"svc","start_time":{epoch}.1,"end_time":{epoch}.2,"trace_id":"{trace_id}"}}"#
        );
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{body}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
    }
    let sent = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        9.0,
        Duration::from_secs(20),
    );
    let failed = collector.wait_metric(
        "xray_collector_exporter_failed_items_total",
        &["reason=\"unprocessed\""],
        1.0,
        Duration::from_secs(5),
    );
    let metrics = collector.metrics();
    collector.sigterm();
    let (status, log) = collector.wait(Duration::from_secs(30));
    let _ = api.kill();
    let _ = api.wait();
    assert!(status.success(), "{log}");
    assert_eq!(sent, 9.0, "{metrics}");
    assert_eq!(failed, 1.0, "{metrics}");
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_exporter_retries_total",
            &["reason=\"throttled\""]
        ),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(&metrics, "xray_collector_exporter_dropped_items_total", &[]),
        0.0
    );
    let unprocessed_line = log
        .lines()
        .find(|l| l.contains("X-Ray did not process a segment"))
        .unwrap_or_else(|| panic!("no unprocessed-segment log line:\n{log}"));
    assert!(unprocessed_line.contains(&reject_id), "{unprocessed_line}");
    assert!(unprocessed_line.contains(&trace_id), "{unprocessed_line}");
    assert!(
        unprocessed_line.contains("InvalidSegment"),
        "{unprocessed_line}"
    );
    let stored_count = std::fs::read_to_string(&stored).unwrap().lines().count();
    assert_eq!(stored_count, 9);
}
