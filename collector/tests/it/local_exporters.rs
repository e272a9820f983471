//! The local exporters and fan-out: one UDP receiver shared by two pipelines, one of which fans out
//! to two exporters; documents up to the UDP limit arrive byte for byte in the `file` exporter's
//! JSON lines; malformed datagrams are counted by reason and never stop the receiver.

use crate::common;

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Collector, metric_sum, metric_sum_or_zero};

#[test]
fn shared_receiver_fans_out_to_file_and_debug_exporters() {
    let udp = common::free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let file_a = dir.path().join("a.jsonl");
    let file_b = dir.path().join("b.jsonl");
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
processors:
  batch:
    timeout: 100ms
    send_batch_size: 3
    send_batch_max_size: 3
exporters:
  file/a:
    path: {a}
  file/b:
    path: {b}
  debug:
    verbosity: normal
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces/a:
      receivers: [awsxray]
      processors: [batch]
      exporters: [file/a, debug]
    traces/b:
      receivers: [awsxray]
      exporters: [file/b]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        a = file_a.display(),
        b = file_b.display()
    );
    let collector = Collector::start(&config, &[]);
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let trace_id = format!("1-{epoch:08x}-{:024x}", 42);
    let header = "{\"format\":\"json\",\"version\":1}\n";
    let mut bodies = Vec::new();
    for n in 1..=5u64 {
        bodies.push(format!(
            r#"{{"id": "{n:016x}", "name": "svc", "start_time": {epoch}.1, "end_time": {epoch}.2, "trace_id": "{trace_id}", "metadata": {{"default": {{"note": "caf\u00e9 <&>"}}}}}}"#
        ));
    }
    // The largest document a datagram can carry (65,507 bytes of UDP payload).
    let prefix = format!(
        r#"{{"id": "{:016x}", "name": "big", "start_time": {epoch}.1, "end_time": {epoch}.2, "trace_id": "{trace_id}", "metadata": {{"default": {{"blob": ""#,
        99
    );
    let suffix = "\"}}}";
    let fill = 65_507 - header.len() - prefix.len() - suffix.len();
    bodies.push(format!("{prefix}{}{suffix}", "x".repeat(fill)));
    let malformed: [&[u8]; 4] = [
        b"no header at all",
        b"{\"format\":\"json\",\"version\":2}\n{}",
        b"{\"format\":\"json\",\"version\":1}\n{\"id\": \"zz\"",
        b"{\"format\":\"json\",\"version\":1}\n{\"id\": \"0000000000000001\", \"name\": \"x\"}",
    ];
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, body) in bodies.iter().enumerate() {
        socket
            .send_to(format!("{header}{body}").as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        if let Some(bad) = malformed.get(i) {
            socket.send_to(bad, ("127.0.0.1", udp)).unwrap();
        }
    }
    // Each document goes to file/a, debug and file/b.
    let sent = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        3.0 * bodies.len() as f64,
        Duration::from_secs(20),
    );
    let metrics = collector.metrics();
    collector.sigterm();
    let (status, log) = collector.wait(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert_eq!(sent, 18.0, "{metrics}");
    for (reason, n) in [
        ("missing_header", 1.0),
        ("invalid_header", 1.0),
        ("invalid_json", 1.0),
        ("missing_field", 1.0),
    ] {
        let label = format!("reason=\"{reason}\"");
        assert_eq!(
            metric_sum_or_zero(
                &metrics,
                "xray_collector_receiver_refused_items_total",
                &[&label]
            ),
            n,
            "{reason}: {metrics}"
        );
    }
    assert_eq!(
        metric_sum(
            &metrics,
            "xray_collector_receiver_accepted_items_total",
            &[]
        ),
        6.0
    );
    for file in [&file_a, &file_b] {
        let text = std::fs::read_to_string(file).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        let mut want: Vec<&str> = bodies.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(lines, want, "{}", file.display());
    }
    assert!(log.contains("Malformed X-Ray datagram dropped"), "{log}");
    assert!(
        log.contains(&format!("segment_id=\"{:016x}\"", 99))
            || log.contains(&format!("segment_id={:016x}", 99)),
        "{log}"
    );
}
