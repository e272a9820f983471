//! End to end: a Python app instrumented with the real AWS X-Ray SDK sends segments over UDP to the
//! collector, which exports them to a local X-Ray API (moto); `BatchGetTraces` must return every
//! document the app sent, JSON-equal. The app's traces include subsegments the SDK streams as
//! separate documents, so independent subsegments travel the path too.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use common::{Collector, metric_sum, metric_sum_or_zero};

#[test]
fn xray_sdk_segments_reach_xray_unchanged() {
    let check = "collector e2e: aws-xray-sdk -> UDP -> xray-collector -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let udp = common::free_udp_port();
    let config = format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
processors:
  batch/traces:
    timeout: 200ms
    send_batch_size: 50
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
    retry_on_failure:
      initial_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch/traces]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#,
        endpoint = moto.endpoint()
    );
    let collector = Collector::start(&config, &[]);

    let sent_path = collector.path("sent.jsonl");
    let out = Command::new(&python)
        .arg(common::app("xray_sdk_app.py"))
        .args([
            &format!("127.0.0.1:{udp}"),
            &sent_path.display().to_string(),
            "40",
        ])
        .output()
        .expect("run the X-Ray SDK app");
    assert!(
        out.status.success(),
        "app failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Vec<serde_json::Value> = std::fs::read_to_string(&sent_path)
        .expect("sent documents")
        .lines()
        .map(|l| serde_json::from_str(l).expect("the SDK sends JSON"))
        .collect();
    // 40 traces of 7 documents: 6 streamed subsegments and the segment.
    assert_eq!(sent.len(), 40 * 7);
    assert!(
        sent.iter().any(|d| d["type"] == "subsegment"),
        "no streamed subsegment"
    );

    let exported = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        sent.len() as f64,
        Duration::from_secs(30),
    );
    let metrics = collector.metrics();
    let received = metric_sum(
        &metrics,
        "xray_collector_receiver_received_items_total",
        &[],
    );
    let accepted = metric_sum(
        &metrics,
        "xray_collector_receiver_accepted_items_total",
        &[],
    );
    let refused = metric_sum_or_zero(&metrics, "xray_collector_receiver_refused_items_total", &[]);
    collector.sigterm();
    let (status, log) = collector.wait(Duration::from_secs(30));
    assert!(status.success(), "collector exit status {status}:\n{log}");

    let mut sent_by_id = BTreeMap::new();
    for d in &sent {
        let id = d["id"].as_str().expect("id").to_owned();
        assert!(
            sent_by_id.insert(id, d.clone()).is_none(),
            "duplicate id sent"
        );
    }
    let trace_ids: Vec<String> = sent
        .iter()
        .map(|d| d["trace_id"].as_str().expect("trace_id").to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored = common::read_back(
        &python,
        &moto.endpoint(),
        &trace_ids,
        collector_dir_for_readback(),
    );
    let mut stored_by_id = BTreeMap::new();
    for (trace_id, id, document) in &stored {
        let v: serde_json::Value = serde_json::from_str(document).expect("stored document is JSON");
        assert_eq!(v["trace_id"].as_str(), Some(trace_id.as_str()));
        stored_by_id.insert(id.clone(), v);
    }

    eprintln!(
        "E2E FIGURES: documents sent by the SDK = {}, received by the collector = {received}, accepted = {accepted}, refused = {refused}, exported = {exported}, read back with BatchGetTraces = {}",
        sent.len(),
        stored.len()
    );
    assert_eq!(received, sent.len() as f64, "received");
    assert_eq!(accepted, sent.len() as f64, "accepted");
    assert_eq!(refused, 0.0, "refused");
    assert_eq!(exported, sent.len() as f64, "exported");
    assert_eq!(stored.len(), sent.len(), "read back");
    assert_eq!(
        stored_by_id.keys().collect::<Vec<_>>(),
        sent_by_id.keys().collect::<Vec<_>>(),
        "the same document ids"
    );
    for (id, doc) in &sent_by_id {
        assert_eq!(&stored_by_id[id], doc, "document {id} differs");
    }
}

/// A scratch directory that outlives the collector for the read-back files.
fn collector_dir_for_readback() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}
