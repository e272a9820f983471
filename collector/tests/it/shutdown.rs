//! Graceful shutdown: SIGTERM while segments are arriving flushes everything the collector accepted
//! to the X-Ray API (moto) and exits 0; when the deadline passes first, what is left is counted as
//! dropped and the process still exits 0.

use crate::common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Collector, metric_sum_or_zero};

/// The datagram of segment `n` of trace `t`.
fn datagram(epoch: u64, t: u64, n: u64) -> (String, String, Vec<u8>) {
    let trace_id = format!("1-{epoch:08x}-{:024x}", t + 1);
    let id = format!("{:016x}", (t << 20) + n + 1);
    let body = format!(
        r#"{{"id":"{id}","name":"load","start_time":{epoch}.5,"end_time":{epoch}.75,"trace_id":"{trace_id}","annotations":{{"n":{n}}}}}"#
    );
    let bytes = format!("{{\"format\":\"json\",\"version\":1}}\n{body}").into_bytes();
    (trace_id, id, bytes)
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

fn config(udp: u16, endpoint: &str, extra_exporter: &str) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
processors:
  batch:
    timeout: 10s
    send_batch_size: 5000
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
{extra_exporter}
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
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: METRICS_PORT
"#
    )
}

#[test]
fn sigterm_under_load_flushes_everything_accepted() {
    let check = "collector shutdown flush: UDP load -> SIGTERM -> moto";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let udp = common::free_udp_port();
    let collector = Collector::start(
        &config(udp, &moto.endpoint(), ""),
        &["--shutdown-timeout=60s"],
    );

    // A sender that keeps going until told to stop, then reports what it sent.
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut sent = Vec::new();
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) && k < 40_000 {
                let (trace_id, id, bytes) = datagram(epoch, k / 100, k % 100);
                socket.send_to(&bytes, ("127.0.0.1", udp)).unwrap();
                sent.push((trace_id, id));
                k += 1;
                if k % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            sent
        })
    };
    let received_before = collector.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        2000.0,
        Duration::from_secs(30),
    );
    assert!(
        received_before >= 2000.0,
        "the load did not arrive:\n{}",
        collector.log()
    );
    let exported_before = metric_sum_or_zero(
        &collector.metrics(),
        "xray_collector_exporter_sent_items_total",
        &[],
    );
    collector.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    let (status, log) = collector.wait(Duration::from_secs(90));
    assert!(status.success(), "exit status {status}:\n{log}");

    let s = summary(&log);
    eprintln!(
        "SHUTDOWN FIGURES: datagrams sent = {}, summary = {s:?}, exported before SIGTERM = {exported_before}",
        sent.len()
    );
    assert_eq!(s["refused"], 0, "{log}");
    assert_eq!(s["received"], s["accepted"], "{log}");
    assert_eq!(s["failed"], 0, "{log}");
    assert_eq!(s["dropped"], 0, "{log}");
    assert_eq!(
        s["sent"], s["accepted"],
        "everything accepted was exported:\n{log}"
    );
    assert!(
        (s["sent"] as f64) > exported_before,
        "data held in the batch processor at SIGTERM was flushed"
    );

    // moto holds exactly the accepted documents, all of them ones the load sent.
    let sent_ids: BTreeSet<&str> = sent.iter().map(|(_, id)| id.as_str()).collect();
    let trace_ids: Vec<String> = sent
        .iter()
        .map(|(t, _)| t.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let stored = common::read_back(&python, &moto.endpoint(), &trace_ids, dir.path());
    let stored_ids: BTreeSet<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(
        stored_ids.len() as u64,
        s["sent"],
        "documents stored in X-Ray"
    );
    assert!(stored_ids.is_subset(&sent_ids));
}

#[test]
fn shutdown_deadline_counts_what_could_not_be_flushed() {
    // Nothing listens on this port: every PutTraceSegments fails to connect and is retried.
    let dead_endpoint = format!("http://127.0.0.1:{}", harness::free_port());
    let udp = common::free_udp_port();
    let retry = "    retry_on_failure:\n      initial_interval: 50ms\n      max_interval: 100ms\n      max_elapsed_time: 0";
    let collector = Collector::start(
        &config(udp, &dead_endpoint, retry),
        &["--shutdown-timeout=1s"],
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for k in 0..120 {
        socket
            .send_to(&datagram(epoch, 0, k).2, ("127.0.0.1", udp))
            .unwrap();
    }
    // One malformed datagram, counted and dropped by the receiver.
    socket
        .send_to(
            b"{\"format\":\"json\",\"version\":1}\n{not json",
            ("127.0.0.1", udp),
        )
        .unwrap();
    collector.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        121.0,
        Duration::from_secs(10),
    );
    let started = std::time::Instant::now();
    collector.sigterm();
    let (status, log) = collector.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}:\n{log}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline bounds shutdown"
    );
    let s = summary(&log);
    assert_eq!(s["received"], 121, "{log}");
    assert_eq!(s["refused"], 1, "{log}");
    assert_eq!(s["accepted"], 120, "{log}");
    assert_eq!(s["sent"], 0, "{log}");
    assert_eq!(
        s["dropped"], 120,
        "undelivered documents are counted:\n{log}"
    );
    assert!(log.contains("Shutdown deadline reached"), "{log}");
}
