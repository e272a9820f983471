//! Shared support for the collector's integration tests: runs the real `xray-collector` binary on
//! loopback ports, reads its health check and metrics, signals it; serves the fault-injecting
//! servers of `support/`.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub use harness::free_udp_port;

/// A plain HTTP/1.0 GET on loopback: status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The metric names `text` declares: each `# TYPE` family (a counter also by its `_total`
/// sample name) and each sample's name.
pub fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let mut parts = declared.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                if kind == "counter" && !name.ends_with("_total") {
                    names.insert(format!("{name}_total"));
                }
                names.insert(name.to_owned());
            }
        } else if !line.starts_with('#') {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            if end > 0 {
                names.insert(line[..end].to_owned());
            }
        }
    }
    names
}

/// Sums the samples of `metric` whose label text contains every string of `labels` (0 when the
/// metric is there but no sample has those labels).
///
/// Panics when `text` does not have `metric` at all, naming it and listing the metrics that
/// are there: a misspelled, renamed or removed metric, or a `/metrics` page that could not be read,
/// must never read as 0 and pass a "nothing was dropped" assertion.
pub fn metric_sum(text: &str, metric: &str, labels: &[&str]) -> f64 {
    let names = metric_names(text);
    assert!(
        names.contains(metric),
        "metric {metric} does not exist; the metrics present are: [{}]",
        names.into_iter().collect::<Vec<_>>().join(", ")
    );
    sum_samples(text, metric, labels)
}

/// The collector's counters, which appear on `/metrics` only at their first increment (a
/// `prometheus_client` family without a sample prints nothing). `common::metric_tests` checks
/// that each is registered in `collector/src/telemetry/mod.rs`.
pub const COUNTERS: [&str; 25] = [
    "xray_collector_receiver_received_items_total",
    "xray_collector_receiver_accepted_items_total",
    "xray_collector_receiver_refused_items_total",
    "xray_collector_receiver_received_requests_total",
    "xray_collector_receiver_accepted_requests_total",
    "xray_collector_receiver_refused_requests_total",
    "xray_collector_receiver_proxy_requests_total",
    "xray_collector_extension_proxy_requests_total",
    "xray_collector_processor_refused_items_total",
    "xray_collector_processor_batch_batches_sent_total",
    "xray_collector_processor_dropped_items_total",
    "xray_collector_processor_memory_limiter_over_hard_limit_checks_total",
    "xray_collector_processor_k8sattributes_pods_not_cached_total",
    "xray_collector_processor_k8sattributes_api_errors_total",
    "xray_collector_processor_resourcedetection_failures_total",
    "xray_collector_exporter_sent_items_total",
    "xray_collector_exporter_failed_items_total",
    "xray_collector_exporter_dropped_items_total",
    "xray_collector_exporter_persisted_items_total",
    "xray_collector_exporter_replayed_items_total",
    "xray_collector_exporter_retries_total",
    "xray_collector_exporter_requests_total",
    "xray_collector_exporter_storage_truncated_bytes_total",
    "xray_collector_exporter_storage_lost_records_total",
    "xray_collector_exporter_storage_ack_resets_total",
];

/// Like [`metric_sum`], but a counter that has no sample yet reads as 0: for counters that are
/// zero in a good run (refused, failed, dropped, retries) and for accounting read while items are
/// still arriving. Panics when `metric` is not one of the collector's [`COUNTERS`], or when `text` holds no collector metric at all (the page
/// could not be read), naming the metric and listing the ones present.
pub fn metric_sum_or_zero(text: &str, metric: &str, labels: &[&str]) -> f64 {
    let names = metric_names(text);
    let known = COUNTERS.contains(&metric);
    assert!(
        known && names.iter().any(|n| n.starts_with("xray_collector_")),
        "metric {metric} {}; the metrics present are: [{}]",
        if known {
            "cannot be read: the page has no collector metric"
        } else {
            "is not one of the collector's counters"
        },
        names.into_iter().collect::<Vec<_>>().join(", ")
    );
    sum_samples(text, metric, labels)
}

fn sum_samples(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// A running collector.
pub struct Collector {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub health_port: u16,
    pub metrics_port: u16,
}

/// AWS settings that point the SDK at a local emulator with dummy credentials.
pub const FAKE_AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

impl Collector {
    /// Writes `config` (where `HEALTH_PORT` and `METRICS_PORT` are replaced by free ports) and
    /// starts the binary with `extra_args`, waiting until its health check answers 200.
    pub fn start(config: &str, extra_args: &[&str]) -> Collector {
        Collector::start_with_env(config, extra_args, FAKE_AWS_ENV)
    }

    /// Like [`Collector::start`], with exactly the AWS environment `aws_env` (no static keys,
    /// profile files or instance metadata unless given), to test the credential chain.
    pub fn start_with_env(
        config: &str,
        extra_args: &[&str],
        aws_env: &[(&str, &str)],
    ) -> Collector {
        let dir = tempfile::tempdir().expect("temp dir");
        let health_port = harness::free_port();
        let metrics_port = harness::free_port();
        let config = config
            .replace("HEALTH_PORT", &health_port.to_string())
            .replace("METRICS_PORT", &metrics_port.to_string());
        let path = dir.path().join("collector.yaml");
        std::fs::write(&path, config).expect("write config");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
            .arg(format!("--config={}", path.display()))
            .args(extra_args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            )
            .envs(aws_env.iter().copied())
            .env("RUST_LOG", "xray_collector=info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn xray-collector");
        let mut c = Collector {
            child: Some(child),
            dir,
            health_port,
            metrics_port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http_get(health_port, "/").is_some_and(|(s, _)| s == 200) {
                break;
            }
            if let Some(status) = c.child.as_mut().and_then(|ch| ch.try_wait().ok().flatten()) {
                panic!("collector exited early with {status}:\n{}", c.log());
            }
            assert!(
                Instant::now() < deadline,
                "collector not healthy within 30 s:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    /// The collector's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A `kB` field of `/proc/<pid>/status` (`VmHWM`: peak resident memory; `VmRSS`), in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// A path inside the collector's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The current `/metrics` text.
    pub fn metrics(&self) -> String {
        http_get(self.metrics_port, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// Waits until `metric` (filtered by `labels`) reaches `at_least`; returns the last value.
    pub fn wait_metric(
        &self,
        metric: &str,
        labels: &[&str],
        at_least: f64,
        timeout: Duration,
    ) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.metrics();
            // Until the deadline, a page without the metric (the server not answering yet) is
            // read again; at the deadline, metric_sum fails on a metric that does not exist.
            if Instant::now() > deadline {
                return metric_sum(&text, metric, labels);
            }
            if metric_names(&text).contains(metric) {
                let v = sum_samples(&text, metric, labels);
                if v >= at_least {
                    return v;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM {pid} failed");
    }

    /// Sends SIGKILL (`kill -9`, through [`Child::kill`]) and reaps the process; returns its log.
    pub fn kill9(mut self) -> String {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        self.log()
    }

    /// Waits for the process to exit (killing it after `timeout`); returns its status and log.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("collector did not exit within {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The path of a test app script.
pub fn app(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(name)
}

/// Reads back every stored document of `trace_ids` from the X-Ray API at `endpoint` (boto3
/// BatchGetTraces): `(trace_id, segment id, document)`.
pub fn read_back(
    python: &Path,
    endpoint: &str,
    trace_ids: &[String],
    dir: &Path,
) -> Vec<(String, String, String)> {
    read_back_in(python, endpoint, "us-east-1", trace_ids, dir)
}

/// Like [`read_back`], from the documents sent to `region` (moto keeps one store per region).
pub fn read_back_in(
    python: &Path,
    endpoint: &str,
    region: &str,
    trace_ids: &[String],
    dir: &Path,
) -> Vec<(String, String, String)> {
    let ids_path = dir.join("trace_ids.txt");
    std::fs::write(&ids_path, trace_ids.join("\n")).expect("write trace ids");
    let out_path = dir.join("read_back.jsonl");
    let out = Command::new(python)
        .arg(app("read_traces.py"))
        .args([
            endpoint,
            &ids_path.display().to_string(),
            &out_path.display().to_string(),
            region,
        ])
        .output()
        .expect("run read_traces.py");
    assert!(
        out.status.success(),
        "read_traces.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&out_path)
        .expect("read back file")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("read-back line is JSON");
            let s = |k: &str| v[k].as_str().expect("string field").to_owned();
            (s("trace_id"), s("id"), s("document"))
        })
        .collect()
}

/// The collector's item accounting, from its counters.
#[derive(Debug, Default, PartialEq)]
pub struct Accounting {
    pub received: u64,
    pub refused: u64,
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
}

pub fn accounting(c: &Collector) -> Accounting {
    let m = c.metrics();
    let get = |name: &str| metric_sum_or_zero(&m, name, &[]) as u64;
    Accounting {
        received: get("xray_collector_receiver_received_items_total"),
        refused: get("xray_collector_receiver_refused_items_total"),
        sent: get("xray_collector_exporter_sent_items_total"),
        failed: get("xray_collector_exporter_failed_items_total"),
        dropped: get("xray_collector_exporter_dropped_items_total"),
    }
}

/// Waits until all `n` received items are accounted for (sent, failed or dropped).
pub fn settle(c: &Collector, n: u64, timeout: Duration) -> Accounting {
    let deadline = Instant::now() + timeout;
    loop {
        let a = accounting(c);
        if a.received >= n && a.refused + a.sent + a.failed + a.dropped >= a.received {
            // Nothing may be counted twice: give late counters a moment, then re-read.
            std::thread::sleep(Duration::from_millis(200));
            return accounting(c);
        }
        assert!(
            Instant::now() < deadline,
            "not settled within {timeout:?}: {a:?}\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Serves HTTP/1.1 on `127.0.0.1:port` (0: any free port) with `handle`, on a one-worker runtime
/// of its own (the fault-injecting servers of `support/`). The server stops when the returned
/// runtime is dropped.
pub fn serve_http<F, Fut>(port: u16, handle: F) -> (SocketAddr, tokio::runtime::Runtime)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test server runtime");
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind test server");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("local addr");
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
    (addr, runtime)
}

#[cfg(test)]
mod metric_tests {
    use super::{COUNTERS, metric_names, metric_sum, metric_sum_or_zero};

    const PAGE: &str = "# HELP xray_collector_exporter_dropped_items Items dropped.
# TYPE xray_collector_exporter_dropped_items counter
# HELP xray_collector_exporter_sent_items Items sent.
# TYPE xray_collector_exporter_sent_items counter
xray_collector_exporter_sent_items_total{exporter=\"awsxray\"} 3
xray_collector_exporter_sent_items_total{exporter=\"otlphttp\"} 4
# TYPE xray_collector_exporter_queue_size gauge
xray_collector_exporter_queue_size{exporter=\"awsxray\"} 0
# EOF
";

    #[test]
    fn a_declared_metric_sums_its_samples_and_reads_zero_without_any() {
        assert_eq!(
            metric_sum(PAGE, "xray_collector_exporter_sent_items_total", &[]),
            7.0
        );
        assert_eq!(
            metric_sum(
                PAGE,
                "xray_collector_exporter_sent_items_total",
                &["exporter=\"otlphttp\""]
            ),
            4.0
        );
        assert_eq!(
            metric_sum(PAGE, "xray_collector_exporter_dropped_items_total", &[]),
            0.0
        );
        assert!(metric_names(PAGE).contains("xray_collector_exporter_queue_size"));
    }

    #[test]
    #[should_panic(
        expected = "metric xray_collector_exporter_droped_items_total does not exist; the metrics present are: [xray_collector_exporter_dropped_items, xray_collector_exporter_dropped_items_total, xray_collector_exporter_queue_size"
    )]
    fn a_misspelled_metric_fails_and_lists_the_metrics_present() {
        metric_sum(PAGE, "xray_collector_exporter_droped_items_total", &[]);
    }

    #[test]
    fn a_counter_without_a_sample_reads_zero_only_through_metric_sum_or_zero() {
        let page = "xray_collector_exporter_sent_items_total{exporter=\"awsxray\"} 3\n";
        assert_eq!(
            metric_sum_or_zero(page, "xray_collector_exporter_dropped_items_total", &[]),
            0.0
        );
        assert_eq!(
            metric_sum_or_zero(page, "xray_collector_exporter_sent_items_total", &[]),
            3.0
        );
        let strict = std::panic::catch_unwind(|| {
            metric_sum(page, "xray_collector_exporter_dropped_items_total", &[])
        });
        assert!(strict.is_err(), "metric_sum reads an absent metric as 0");
    }

    #[test]
    #[should_panic(
        expected = "metric xray_collector_exporter_droped_items_total is not one of the collector's counters; the metrics present are: [xray_collector_exporter_sent_items_total]"
    )]
    fn a_misspelled_counter_fails_even_where_zero_is_allowed() {
        metric_sum_or_zero(
            "xray_collector_exporter_sent_items_total 3\n",
            "xray_collector_exporter_droped_items_total",
            &[],
        );
    }

    #[test]
    #[should_panic(
        expected = "metric xray_collector_exporter_dropped_items_total cannot be read: the page has no collector metric; the metrics present are: []"
    )]
    fn an_unread_page_fails_even_where_zero_is_allowed() {
        metric_sum_or_zero("", "xray_collector_exporter_dropped_items_total", &[]);
    }

    #[test]
    fn every_counter_the_collector_registers_is_listed() {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/telemetry/mod.rs"),
        )
        .expect("the collector's telemetry module");
        // The registered names are the string literals that follow `metric!(`; the gauges are
        // not counters.
        let gauges = [
            "exporter_queue_size",
            "exporter_queue_capacity",
            "processor_k8sattributes_api_up",
            "processor_k8sattributes_pods",
            "processor_memory_limiter_rss_bytes",
            "skipped_pipelines",
        ];
        let mut registered = Vec::new();
        for chunk in source.split("metric!(").skip(1) {
            let name = chunk.trim_start().trim_start_matches('"');
            let name = &name[..name.find('"').expect("a quoted metric name")];
            if !gauges.contains(&name) {
                registered.push(format!("xray_collector_{name}_total"));
            }
        }
        assert!(registered.len() >= 10, "{registered:?}");
        for name in &registered {
            assert!(
                COUNTERS.contains(&name.as_str()),
                "{name} is registered but not in common::COUNTERS"
            );
        }
    }

    #[test]
    fn every_listed_counter_is_registered_by_the_collector() {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/telemetry/mod.rs"),
        )
        .expect("the collector's telemetry module");
        for counter in COUNTERS {
            let registered = counter
                .strip_prefix("xray_collector_")
                .and_then(|c| c.strip_suffix("_total"))
                .unwrap();
            assert!(
                source.contains(&format!("\"{registered}\"")),
                "{counter} is not registered in src/telemetry/mod.rs"
            );
        }
    }

    #[test]
    #[should_panic(
        expected = "metric xray_collector_exporter_dropped_items_total does not exist; the metrics present are: []"
    )]
    fn an_unread_metrics_page_fails_instead_of_reading_zero() {
        metric_sum("", "xray_collector_exporter_dropped_items_total", &[]);
    }
}
