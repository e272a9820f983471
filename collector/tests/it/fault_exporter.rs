//! Fault tests of the `awsxray` exporter against the fault-injecting X-Ray server
//! (`support/fault_xray.rs`): throttling, 5xx, timeouts, connection refused, partial
//! `UnprocessedTraceSegments`, and a 10-minute outage compressed in time. Each test sends a known
//! set of documents over UDP to the real collector binary and checks the exact accounting:
//! received = exported + counted drops, every exported document reached the server exactly once
//! (or, under timeouts, at least once), and no drop at all while the fault stays within the
//! configured retry and queue bounds.
//!
//! Connection refused is a port with no listener until the exporter has retried. The 10-minute
//! outage is the default retry schedule (5 s to 30 s) divided by 200: 3 s of 503s while documents
//! keep arriving. An outage beyond a tiny queue and a 1 s retry budget must end with every document
//! counted as `retries_exhausted` or `queue_full`. The server is a stand-in because moto cannot
//! throttle or fail on demand; what X-Ray itself would answer is not checked here.

use crate::common;
use crate::support::fault_xray;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Accounting, Collector, accounting, metric_sum_or_zero, settle};
use fault_xray::{FaultXray, Reply};

/// The retry settings of the tests: the defaults (5 s initial, 30 s max, ×1.5) divided by 200,
/// which turns a 10-minute outage into 3 seconds with the same number of retries.
const FAST_RETRY: &str = "    retry_on_failure:
      initial_interval: 25ms
      max_interval: 150ms
      max_elapsed_time: 0";

fn config(udp: u16, endpoint: &str, exporter_extra: &str) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
processors:
  batch:
    timeout: 50ms
    send_batch_size: 50
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
    local_mode: true
{exporter_extra}
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

/// Sends documents `first..first + n` over UDP, paced so loopback never overflows; returns their ids.
fn send(udp: u16, first: u64, n: u64) -> Vec<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut ids = Vec::new();
    for k in first..first + n {
        let id = format!("{:016x}", k + 1);
        let body = format!(
            r#"{{"id":"{id}","name":"fault","start_time":{epoch}.5,"end_time":{epoch}.75,"trace_id":"1-{epoch:08x}-{:024x}","subsegments":[{{"id":"{:016x}","name":"db","start_time":{epoch}.6,"end_time":{epoch}.7}}]}}"#,
            k / 10 + 1,
            (1 << 40) + k
        );
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{body}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        ids.push(id);
        if k % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    ids
}

/// Asserts the lossless outcome: all `ids` exported, each accepted by the server exactly once.
fn assert_lossless(c: &Collector, server: &FaultXray, ids: &[String], a: &Accounting) {
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
    assert_eq!(got, want, "the server holds exactly the documents sent");
    assert!(
        accepted.values().all(|&k| k == 1),
        "no document accepted twice"
    );
}

fn retries(c: &Collector, reason: &str) -> f64 {
    metric_sum_or_zero(
        &c.metrics(),
        "xray_collector_exporter_retries_total",
        &[&format!("reason=\"{reason}\"")],
    )
}

#[test]
fn throttling_is_retried_until_accepted() {
    let server = FaultXray::start(|call| {
        if call.number < 6 {
            Reply::Throttle
        } else {
            Reply::Accept
        }
    });
    let udp = common::free_udp_port();
    let c = Collector::start(&config(udp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(udp, 0, 300);
    let a = settle(&c, 300, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert_eq!(server.replies()["throttle"], 6);
    assert_eq!(retries(&c, "throttled"), 6.0);
}

#[test]
fn server_errors_are_retried_until_accepted() {
    let server = FaultXray::start(|call| match call.number {
        0..=2 => Reply::Status(500),
        3..=5 => Reply::Status(503),
        _ => Reply::Accept,
    });
    let udp = common::free_udp_port();
    let c = Collector::start(&config(udp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(udp, 0, 300);
    let a = settle(&c, 300, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert_eq!(retries(&c, "server_error"), 6.0);
}

#[test]
fn timeouts_are_retried_until_accepted() {
    // The first two calls stall past the 1 s attempt timeout; the server does not record them.
    let server = FaultXray::start(|call| {
        if call.number < 2 {
            Reply::Stall(Duration::from_secs(3))
        } else {
            Reply::Accept
        }
    });
    let udp = common::free_udp_port();
    let extra = format!("    request_timeout_seconds: 1\n{FAST_RETRY}");
    let c = Collector::start(&config(udp, &server.endpoint(), &extra), &[]);
    let ids = send(udp, 0, 200);
    let a = settle(&c, 200, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
    assert_eq!(retries(&c, "timeout"), 2.0);
}

#[test]
fn connection_refused_until_the_api_comes_up() {
    let port = harness::free_port();
    let udp = common::free_udp_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = Collector::start(&config(udp, &endpoint, FAST_RETRY), &[]);
    let ids = send(udp, 0, 200);
    // Wait until the exporter has met the refused connection, then bring the API up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while retries(&c, "connection") < 3.0 {
        assert!(
            Instant::now() < deadline,
            "no connection retries:\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(accounting(&c).sent, 0);
    let server = FaultXray::start_on(port, |_| Reply::Accept);
    let a = settle(&c, 200, Duration::from_secs(30));
    assert_lossless(&c, &server, &ids, &a);
}

#[test]
fn partial_unprocessed_segments_are_retried_or_counted() {
    // The first call leaves three documents unprocessed with a retryable code and two with a
    // permanent one: the three are retried and delivered, the two are counted as failed.
    let server = FaultXray::start(|call| {
        if call.number == 0 && call.ids.len() >= 5 {
            let mut list: Vec<(String, String)> = call.ids[..3]
                .iter()
                .map(|id| (id.clone(), "ThrottledException".to_owned()))
                .collect();
            list.extend(
                call.ids[3..5]
                    .iter()
                    .map(|id| (id.clone(), "InvalidSegment".to_owned())),
            );
            Reply::Partial(list)
        } else {
            Reply::Accept
        }
    });
    let udp = common::free_udp_port();
    let c = Collector::start(&config(udp, &server.endpoint(), FAST_RETRY), &[]);
    let ids = send(udp, 0, 200);
    let a = settle(&c, 200, Duration::from_secs(30));
    assert_eq!(server.replies()["partial"], 1, "{:?}", server.replies());
    assert_eq!(
        a,
        Accounting {
            received: 200,
            refused: 0,
            sent: 198,
            failed: 2,
            dropped: 0
        },
        "{}",
        c.log()
    );
    assert_eq!(
        metric_sum_or_zero(
            &c.metrics(),
            "xray_collector_exporter_failed_items_total",
            &["reason=\"unprocessed\""]
        ),
        2.0
    );
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 198);
    assert!(accepted.values().all(|&k| k == 1));
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !accepted.contains_key(*id))
        .collect();
    assert_eq!(
        missing.len(),
        2,
        "only the two permanently rejected are missing"
    );
    assert_eq!(retries(&c, "unprocessed"), 1.0);
    // Each permanently rejected document is logged with its segment id and the error code.
    let log = c.log();
    for id in missing {
        let line = log
            .lines()
            .find(|l| l.contains("X-Ray did not process a segment") && l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no unprocessed-segment log line for {id}:\n{log}"));
        assert!(line.contains("InvalidSegment"), "{line}");
    }
}

#[test]
fn ten_minute_outage_compressed_loses_nothing_within_bounds() {
    // 10 minutes of 503s at the default retry schedule, compressed 200 times: 3 s of outage,
    // 25 ms to 150 ms backoff. Documents keep arriving during the outage; the queue holds them.
    let outage = Duration::from_secs(3);
    let server = FaultXray::start(move |call| {
        if call.elapsed < outage {
            Reply::Status(503)
        } else {
            Reply::Accept
        }
    });
    let udp = common::free_udp_port();
    let c = Collector::start(&config(udp, &server.endpoint(), FAST_RETRY), &[]);
    let mut ids = Vec::new();
    for round in 0..10 {
        ids.extend(send(udp, round * 100, 100));
        std::thread::sleep(Duration::from_millis(250));
    }
    let a = settle(&c, 1000, Duration::from_secs(60));
    assert_lossless(&c, &server, &ids, &a);
    assert!(
        server.replies()["status_503"] > 10,
        "{:?}",
        server.replies()
    );
}

#[test]
fn outage_beyond_bounds_is_counted_exactly() {
    // A permanent outage with a tiny queue (2 batches, 1 sender) and a 1 s retry budget: every
    // document ends either failed (retries exhausted) or dropped (queue full), none silently.
    let server = FaultXray::start(|_| Reply::Status(503));
    let udp = common::free_udp_port();
    let extra = "    sending_queue:
      num_consumers: 1
      queue_size: 2
    retry_on_failure:
      initial_interval: 25ms
      max_interval: 100ms
      max_elapsed_time: 1s";
    let c = Collector::start(&config(udp, &server.endpoint(), extra), &[]);
    send(udp, 0, 400);
    let a = settle(&c, 400, Duration::from_secs(60));
    assert_eq!(a.received, 400, "{}", c.log());
    assert_eq!(a.sent, 0);
    assert_eq!(a.refused + a.failed + a.dropped, 400, "{a:?}");
    assert!(a.failed > 0 && a.dropped > 0, "{a:?}");
    let m = c.metrics();
    assert_eq!(
        metric_sum_or_zero(
            &m,
            "xray_collector_exporter_failed_items_total",
            &["reason=\"retries_exhausted\""]
        ) as u64,
        a.failed
    );
    assert!(server.accepted().is_empty());
}
