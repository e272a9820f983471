//! The persistent sending queue (`sending_queue.storage` naming a `file_storage` extension): its
//! config checks with located messages, and the real collector binary through an X-Ray outage
//! (the fault-injecting X-Ray server answering 503), `kill -9`, a SIGTERM whose deadline abandons
//! batches, a restart with a backlog many times the memory queue, a full disk bound and a torn
//! record in the log.
//!
//! Asserted: every document survives the outage and `kill -9` and is delivered once after the
//! restart, and a further restart sends nothing again; beyond the disk bound only the excess is
//! counted as `storage_full`; the batches a SIGTERM abandons are counted as persisted, and the
//! next start replays and sends every one; a backlog many times the memory queue is replayed with
//! peak memory near that of a collector without one; a torn tail is cut and its bytes counted, and
//! the records before it are delivered. A machine crash (the page cache lost) is
//! not simulated: only `fsync: true` covers it, and the disk log's unit tests check its framing.

use crate::common;
use crate::support::fault_xray;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Collector, metric_sum, metric_sum_or_zero};
use fault_xray::{FaultXray, Reply};
use xray_collector::config;
use xray_collector::exporters::awsxray::config::AwsXrayExporterConfig;
use xray_collector::extensions::file_storage::config::FileStorageConfig;

fn load(text: &str) -> Result<config::Loaded, Vec<String>> {
    config::load_str(text, "collector.yaml", &|_| None)
        .map_err(|e| e.0.iter().map(|d| d.to_string()).collect())
}

fn with(extensions: &str, storage: &str, service_extensions: &str) -> String {
    format!(
        "\
receivers:
  awsxray:
exporters:
  awsxray:
    region: eu-west-1
    sending_queue:
      storage: {storage}
extensions:
{extensions}
service:
  extensions: [{service_extensions}]
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [awsxray]
"
    )
}

#[test]
fn a_named_file_storage_is_accepted() {
    let text = with(
        "  file_storage/queue:\n    directory: /var/lib/xray-collector\n    max_size_bytes: 1048576\n    fsync: true",
        "file_storage/queue",
        "file_storage/queue",
    );
    let loaded = load(&text).unwrap();
    let c = &loaded.config;
    let Some(e) = c.exporter::<AwsXrayExporterConfig>("awsxray") else {
        panic!("awsxray exporter missing")
    };
    assert_eq!(
        e.sending_queue.storage.as_ref().map(|s| s.name()),
        Some("file_storage/queue")
    );
    let Some(s) = c.extension::<FileStorageConfig>("file_storage/queue") else {
        panic!("file_storage extension missing")
    };
    assert_eq!(s.directory, "/var/lib/xray-collector");
    assert_eq!(s.max_size_bytes, 1_048_576);
    assert!(s.fsync);
}

#[test]
fn config_errors_are_located() {
    let cases = [
        (
            with(
                "  file_storage:\n    directory: /d",
                "file_storage/other",
                "file_storage",
            ),
            "collector.yaml:7:7: exporters.awsxray.sending_queue.storage: `file_storage/other` is not a `file_storage` extension defined in `extensions`",
        ),
        (
            with("  file_storage:\n    directory: /d", "file_storage", ""),
            "collector.yaml:7:7: exporters.awsxray.sending_queue.storage: extension `file_storage` is not listed in `service.extensions`",
        ),
        (
            with(
                "  file_storage:\n    directory: /d\n    max_bytes: 5",
                "file_storage",
                "file_storage",
            ),
            "max_bytes",
        ),
        (
            with(
                "  file_storage:\n    fsync: true",
                "file_storage",
                "file_storage",
            ),
            "`directory` is required",
        ),
    ];
    for (text, expected) in cases {
        let errors = load(&text).expect_err(&text);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected:?} not in {errors:#?}"
        );
    }
}

/// The collector's config for the end-to-end tests: a `file_storage` queue in `dir` bounded to
/// `max_size_bytes`, fast retries that never give up, and the fault server at `endpoint`.
fn collector_config(udp: u16, endpoint: &str, dir: &Path, max_size_bytes: u64) -> String {
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
    retry_on_failure:
      initial_interval: 25ms
      max_interval: 100ms
      max_elapsed_time: 0
    sending_queue:
      storage: file_storage/queue
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
  file_storage/queue:
    directory: {dir}
    max_size_bytes: {max_size_bytes}
service:
  extensions: [health_check, file_storage/queue]
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
"#,
        dir = dir.display()
    )
}

/// Sends documents `0..n` over UDP, paced so loopback never overflows; returns their ids.
pub(crate) fn send(udp: u16, n: u64) -> BTreeSet<String> {
    send_padded(udp, n, 0)
}

/// Like [`send`], each document carrying `pad` more bytes of metadata.
fn send_padded(udp: u16, n: u64, pad: usize) -> BTreeSet<String> {
    let padding = if pad == 0 {
        String::new()
    } else {
        format!(
            r#","metadata":{{"default":{{"pad":"{}"}}}}"#,
            "p".repeat(pad)
        )
    };
    let every = if pad == 0 { 50 } else { 5 };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut ids = BTreeSet::new();
    for k in 0..n {
        let id = format!("{:016x}", k + 1);
        let body = format!(
            r#"{{"id":"{id}","name":"durable","start_time":{epoch}.5,"end_time":{epoch}.75,"trace_id":"1-{epoch:08x}-{:024x}"{padding}}}"#,
            k / 10 + 1
        );
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{body}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        ids.insert(id);
        if k % every == every - 1 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    ids
}

/// A fault server that answers 503 until `healthy` is set, then accepts everything.
pub(crate) fn outage_server() -> (FaultXray, Arc<AtomicBool>) {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let server = FaultXray::start(move |_| {
        if flag.load(Ordering::SeqCst) {
            Reply::Accept
        } else {
            Reply::Status(503)
        }
    });
    (server, healthy)
}

/// The document ids (`"id":"<16 hex digits>"`) in the segment files of a queue directory.
fn ids_on_disk(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return ids;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        if !entry.file_name().to_string_lossy().ends_with(".log") {
            continue;
        }
        let data = std::fs::read(entry.path()).unwrap_or_default();
        let key = b"\"id\":\"";
        let mut at = 0;
        while let Some(k) = data[at..].windows(key.len()).position(|w| w == key) {
            let start = at + k + key.len();
            if let Some(id) = data.get(start..start + 16) {
                ids.insert(String::from_utf8_lossy(id).into_owned());
            }
            at = start;
        }
    }
    ids
}

/// Waits until every id in `ids` is in the disk queue under `dir`.
pub(crate) fn wait_on_disk(dir: &Path, ids: &BTreeSet<String>, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let on_disk = ids_on_disk(dir);
        if ids.is_subset(&on_disk) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} documents on disk\n{}",
            ids.intersection(&on_disk).count(),
            ids.len(),
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the server has accepted every id in `ids`; returns how many calls were duplicates.
pub(crate) fn wait_delivered(
    server: &FaultXray,
    ids: &BTreeSet<String>,
    log: impl Fn() -> String,
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let accepted = server.accepted();
        if ids.iter().all(|id| accepted.contains_key(id)) {
            let unknown: Vec<&String> = accepted.keys().filter(|k| !ids.contains(*k)).collect();
            assert!(unknown.is_empty(), "unexpected documents {unknown:?}");
            return accepted.values().map(|n| n - 1).sum();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered\n{}",
            ids.iter().filter(|id| accepted.contains_key(*id)).count(),
            ids.len(),
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_outage_and_a_kill_9_lose_nothing() {
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let udp = common::free_udp_port();
    let config = collector_config(udp, &server.endpoint(), storage.path(), 64 << 20);
    let c = Collector::start(&config, &[]);
    let ids = send(udp, 500);
    let received = c.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        500.0,
        Duration::from_secs(10),
    );
    assert_eq!(received, 500.0, "{}", c.log());
    // Every document is on disk (and nothing was accepted).
    wait_on_disk(&storage.path().join("awsxray"), &ids, || c.log());
    assert!(server.accepted().is_empty());
    c.kill9();
    // A call the dead process sent just before the kill is still answered 503, so nothing
    // is accepted that the next run replays.
    std::thread::sleep(Duration::from_millis(300));

    healthy.store(true, Ordering::SeqCst);
    let c = Collector::start(&config, &[]);
    let duplicates = wait_delivered(&server, &ids, || c.log());
    eprintln!("500 documents sent, all delivered after kill -9, {duplicates} duplicates");
    assert_eq!(duplicates, 0, "nothing was accepted before the kill");
    // Once delivered and acknowledged, a further restart sends nothing again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.metrics().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    c.kill9();
    let calls = server.calls();
    let c = Collector::start(&config, &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.calls(),
        calls,
        "acknowledged batches were sent again"
    );
    drop(c);
}

#[test]
fn beyond_the_disk_bound_exactly_the_excess_is_counted() {
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let udp = common::free_udp_port();
    // About 40 KiB: room for roughly three batches of 50 documents of ~200 bytes.
    let config = collector_config(udp, &server.endpoint(), storage.path(), 40 * 1024);
    let c = Collector::start(&config, &[]);
    let ids = send(udp, 600);
    c.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        600.0,
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(300));
    let metrics = c.metrics();
    let full = metric_sum_or_zero(
        &metrics,
        "xray_collector_exporter_dropped_items_total",
        &["reason=\"storage_full\""],
    ) as u64;
    assert!(full > 0 && full < 600, "storage_full = {full}\n{}", c.log());
    healthy.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = c.metrics();
        let sent = metric_sum_or_zero(&m, "xray_collector_exporter_sent_items_total", &[]) as u64;
        let dropped =
            metric_sum_or_zero(&m, "xray_collector_exporter_dropped_items_total", &[]) as u64;
        let received =
            metric_sum_or_zero(&m, "xray_collector_receiver_received_items_total", &[]) as u64;
        if sent + dropped >= received {
            assert_eq!(received, 600);
            assert_eq!(dropped, full, "only the disk bound dropped");
            assert_eq!(sent + full, 600);
            let accepted = server.accepted();
            assert_eq!(accepted.len() as u64, sent);
            assert!(accepted.keys().all(|k| ids.contains(k)));
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {m}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_torn_tail_is_cut_and_the_rest_delivered() {
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let udp = common::free_udp_port();
    let config = collector_config(udp, &server.endpoint(), storage.path(), 64 << 20);
    let c = Collector::start(&config, &[]);
    let ids = send(udp, 200);
    c.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        200.0,
        Duration::from_secs(10),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.calls() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    c.kill9();
    // A write cut short by a crash: half a record header at the end of the last segment.
    let queue_dir = storage.path().join("awsxray");
    let mut segments: Vec<_> = std::fs::read_dir(&queue_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    let last = segments.last().expect("a segment file");
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[0x40, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);

    healthy.store(true, Ordering::SeqCst);
    let c = Collector::start(&config, &[]);
    wait_delivered(&server, &ids, || c.log());
    assert!(
        c.log()
            .contains("Cut a torn or corrupt record off the disk queue"),
        "{}",
        c.log()
    );
    let truncated = metric_sum_or_zero(
        &c.metrics(),
        "xray_collector_exporter_storage_truncated_bytes_total",
        &["exporter=\"awsxray\""],
    );
    assert_eq!(truncated, 7.0, "the seven bytes appended are counted");
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

/// Issue 14 item 2: a SIGTERM during an outage abandons the batches in flight at the shutdown
/// deadline; with the disk queue they stay on disk, are counted as persisted (not dropped), and
/// the next start delivers every one, counted as replayed and sent.
#[test]
fn a_sigterm_during_an_outage_keeps_the_abandoned_batches_on_disk() {
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let udp = common::free_udp_port();
    let config = collector_config(udp, &server.endpoint(), storage.path(), 64 << 20);
    let c = Collector::start(&config, &["--shutdown-timeout=1s"]);
    let ids = send(udp, 500);
    let received = c.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        500.0,
        Duration::from_secs(10),
    );
    assert_eq!(received, 500.0, "{}", c.log());
    wait_on_disk(&storage.path().join("awsxray"), &ids, || c.log());
    c.sigterm();
    let (status, log) = c.wait(Duration::from_secs(15));
    assert!(status.success(), "{status}\n{log}");
    let s = summary(&log);
    assert_eq!(s["received"], 500, "{log}");
    assert_eq!(s["sent"], 0, "{log}");
    assert_eq!(s["dropped"], 0, "nothing is lost: {log}");
    assert_eq!(s["persisted"], 500, "everything stays on disk: {log}");

    healthy.store(true, Ordering::SeqCst);
    let c = Collector::start(&config, &[]);
    let duplicates = wait_delivered(&server, &ids, || c.log());
    assert_eq!(duplicates, 0, "nothing was accepted before the restart");
    let m = c.metrics();
    assert_eq!(
        metric_sum(&m, "xray_collector_exporter_replayed_items_total", &[]),
        500.0,
        "{m}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = c.metrics();
        let sent = metric_sum(&m, "xray_collector_exporter_sent_items_total", &[]);
        if sent >= 500.0 || Instant::now() > deadline {
            assert_eq!(sent, 500.0, "{m}");
            assert_eq!(
                metric_sum_or_zero(&m, "xray_collector_exporter_dropped_items_total", &[]),
                0.0
            );
            assert_eq!(
                metric_sum_or_zero(&m, "xray_collector_exporter_persisted_items_total", &[]),
                0.0
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Peak resident memory of a process, in bytes (`VmHWM` of `/proc/<pid>/status`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

/// Bytes of segment files in a queue directory.
fn log_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Issue 14 item 6: a restart reads a disk backlog many times the memory queue's bound back as
/// the queue drains: peak memory stays near that of a collector without a backlog.
#[test]
fn a_restart_with_a_large_backlog_holds_only_the_queue_bound_in_memory() {
    const DOCS: u64 = 3000;
    const PAD: usize = 8 * 1024;
    let storage = tempfile::tempdir().unwrap();
    let (server, healthy) = outage_server();
    let udp = common::free_udp_port();
    // The first run queues everything (in memory and on disk) through the outage.
    let config = collector_config(udp, &server.endpoint(), storage.path(), 256 << 20);
    let c = Collector::start(&config, &[]);
    let ids = send_padded(udp, DOCS, PAD);
    let received = c.wait_metric(
        "xray_collector_receiver_received_items_total",
        &[],
        DOCS as f64,
        Duration::from_secs(20),
    );
    assert_eq!(received, DOCS as f64, "{}", c.log());
    let queue_dir = storage.path().join("awsxray");
    wait_on_disk(&queue_dir, &ids, || c.log());
    c.kill9();
    let backlog = log_bytes(&queue_dir);

    // The second run may hold two batches of 50 documents (about 0.8 MiB).
    let small = config.replace(
        "      storage: file_storage/queue\n",
        "      storage: file_storage/queue\n      queue_size: 2\n",
    );
    assert_ne!(small, config);
    healthy.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let c = Collector::start(&small, &[]);
    wait_delivered(&server, &ids, || c.log());
    let restarted = peak_rss(c.pid());
    let delivery = started.elapsed();
    let replayed = metric_sum(
        &c.metrics(),
        "xray_collector_exporter_replayed_items_total",
        &[],
    );
    drop(c);

    // The same configuration without a backlog, sending a few batches of the same documents.
    let fresh = tempfile::tempdir().unwrap();
    let reference_config = collector_config(udp, &server.endpoint(), fresh.path(), 256 << 20)
        .replace(
            "      storage: file_storage/queue\n",
            "      storage: file_storage/queue\n      queue_size: 2\n",
        );
    let c = Collector::start(&reference_config, &[]);
    send_padded(udp, 200, PAD);
    c.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        200.0,
        Duration::from_secs(10),
    );
    let reference = peak_rss(c.pid());
    eprintln!(
        "backlog {} MiB delivered in {delivery:?}; peak RSS after the restart {} MiB, without a backlog {} MiB",
        backlog >> 20,
        restarted >> 20,
        reference >> 20
    );
    assert!(
        restarted < reference + (8 << 20),
        "a {} MiB backlog raised the peak RSS from {} MiB to {} MiB",
        backlog >> 20,
        reference >> 20,
        restarted >> 20
    );
    assert_eq!(replayed, DOCS as f64, "every document counted as replayed");
}
