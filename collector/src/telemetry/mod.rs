//! The collector's own telemetry: Prometheus counters by component (served on `:8888/metrics` by
//! `telemetry::server`) and the structured log setup (`telemetry::logs`).
//!
//! Every item (an X-Ray document or an OTLP span) that enters the collector ends in exactly one of:
//! refused by a receiver or processor, filtered (removed on purpose by a `filter` or
//! `probabilistic_sampler` processor), sent, failed (rejected by X-Ray or a permanent error),
//! dropped (queue overflow, shutdown deadline), or, behind a persistent queue, persisted (left in
//! the disk log at shutdown for the next start). Each has a counter with a `reason` label, whose
//! values are the closed enums of `telemetry::reason`. A persistent queue's batches read back at
//! start-up count as replayed, so in each run
//! `received + replayed = refused + filtered + sent + failed + dropped + persisted` (once
//! settled, for a single pipeline; a fan-out to several counts each pipeline's copy downstream).
//!
//! Gauges besides the queue sizes: `skipped_pipelines{pipeline}` (1 for each pipeline the
//! `--skip-unsupported-pipelines` opt-in skipped) and the `memory_limiter`'s last reading
//! (`processor_memory_limiter_rss_bytes`).

pub mod logs;
pub mod reason;
pub mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use self::reason::{
    AckResetReason, DropReason, FailReason, ProcessorDrop, ProcessorRefusal, ReceiverRefusal,
    RetryReason,
};

type Labels = Vec<(String, String)>;

/// Shared handle to the counters. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    receiver_received: Family<Labels, Counter>,
    receiver_accepted: Family<Labels, Counter>,
    receiver_refused: Family<Labels, Counter>,
    receiver_requests_received: Family<Labels, Counter>,
    receiver_requests_accepted: Family<Labels, Counter>,
    receiver_requests_refused: Family<Labels, Counter>,
    processor_refused: Family<Labels, Counter>,
    processor_batches: Family<Labels, Counter>,
    processor_dropped: Family<Labels, Counter>,
    memory_limiter_rss: Family<Labels, Gauge>,
    memory_limiter_over_hard: Family<Labels, Counter>,
    skipped_pipelines: Family<Labels, Gauge>,
    exporter_sent: Family<Labels, Counter>,
    exporter_failed: Family<Labels, Counter>,
    exporter_dropped: Family<Labels, Counter>,
    exporter_retries: Family<Labels, Counter>,
    exporter_requests: Family<Labels, Counter>,
    exporter_queue_size: Family<Labels, Gauge>,
    exporter_queue_capacity: Family<Labels, Gauge>,
    exporter_storage_truncated: Family<Labels, Counter>,
    exporter_storage_lost: Family<Labels, Counter>,
    exporter_storage_ack_reset: Family<Labels, Counter>,
    exporter_persisted: Family<Labels, Counter>,
    exporter_replayed: Family<Labels, Counter>,
    proxy_requests: Family<Labels, Counter>,
    extension_proxy_requests: Family<Labels, Counter>,
    k8s_api_up: Family<Labels, Gauge>,
    k8s_pods: Family<Labels, Gauge>,
    k8s_pods_not_cached: Family<Labels, Counter>,
    k8s_api_errors: Family<Labels, Counter>,
    detection_failures: Family<Labels, Counter>,
    totals: Totals,
}

/// Process-wide totals, for the summary logged at shutdown.
#[derive(Default, Debug)]
pub struct Totals {
    pub received: AtomicU64,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub persisted: AtomicU64,
    pub filtered: AtomicU64,
}

/// One receiver's item counters, looked up once: counting is two atomic additions, with no label
/// lookup (the UDP reader counts every burst of datagrams).
#[derive(Clone)]
pub struct ReceiverCounters {
    received: Counter,
    accepted: Counter,
    inner: Arc<Inner>,
}

impl ReceiverCounters {
    /// Items the receiver read (before validation).
    pub fn received(&self, n: usize) {
        self.received.inc_by(n as u64);
        self.inner
            .totals
            .received
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Items the receiver handed to its pipelines.
    pub fn accepted(&self, n: usize) {
        self.accepted.inc_by(n as u64);
        self.inner
            .totals
            .accepted
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A copy of [`Totals`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub received: u64,
    pub accepted: u64,
    pub refused: u64,
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Items left in a persistent queue's disk log at shutdown, sent by the next start.
    pub persisted: u64,
    /// Items a `filter` or `probabilistic_sampler` processor removed on purpose.
    pub filtered: u64,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    /// Creates and registers every metric.
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("xray_collector");
        macro_rules! metric {
            ($name:literal, $help:literal) => {{
                let family = Family::default();
                registry.register($name, $help, family.clone());
                family
            }};
        }
        let inner = Inner {
            receiver_received: metric!(
                "receiver_received_items",
                "Items (X-Ray datagrams or OTLP spans) a receiver read, before validation."
            ),
            receiver_accepted: metric!(
                "receiver_accepted_items",
                "Items a receiver passed to its pipelines."
            ),
            receiver_refused: metric!(
                "receiver_refused_items",
                "Items a receiver dropped, by reason (malformed input, full pipeline, shutdown)."
            ),
            receiver_requests_received: metric!(
                "receiver_received_requests",
                "Requests an OTLP receiver read (each ends accepted or refused)."
            ),
            receiver_requests_accepted: metric!(
                "receiver_accepted_requests",
                "OTLP requests whose spans were passed to the pipelines."
            ),
            receiver_requests_refused: metric!(
                "receiver_refused_requests",
                "OTLP requests refused, by reason (the same reasons as receiver_refused_items)."
            ),
            processor_refused: metric!(
                "processor_refused_items",
                "Items a processor refused, by reason (its input was full or closed, or a memory_limiter found the process above its soft limit)."
            ),
            processor_dropped: metric!(
                "processor_dropped_items",
                "Items an inline processor removed on purpose, by reason (filtered by `filter`, not sampled by `probabilistic_sampler`)."
            ),
            memory_limiter_rss: metric!(
                "processor_memory_limiter_rss_bytes",
                "The process's resident memory at the memory_limiter's last check."
            ),
            memory_limiter_over_hard: metric!(
                "processor_memory_limiter_over_hard_limit_checks",
                "Readings of the memory_limiter that found the process at or above its hard limit (data is refused meanwhile)."
            ),
            skipped_pipelines: metric!(
                "skipped_pipelines",
                "1 for each pipeline of the config that this collector does not run, skipped on the --skip-unsupported-pipelines opt-in."
            ),
            processor_batches: metric!(
                "processor_batch_batches_sent",
                "Batches the batch processor sent, by trigger (size, timeout, shutdown)."
            ),
            exporter_sent: metric!("exporter_sent_items", "Items an exporter delivered."),
            exporter_failed: metric!(
                "exporter_failed_items",
                "Items an exporter could not deliver, by reason (unprocessed, permanent error, retries exhausted)."
            ),
            exporter_dropped: metric!(
                "exporter_dropped_items",
                "Items an exporter dropped without trying, by reason (queue full, shutdown deadline)."
            ),
            exporter_retries: metric!("exporter_retries", "Retried export requests, by reason."),
            exporter_requests: metric!("exporter_requests", "Export requests, by outcome."),
            exporter_queue_size: metric!(
                "exporter_queue_size",
                "Current size of an exporter's sending queue, in units of its sizer."
            ),
            exporter_queue_capacity: metric!(
                "exporter_queue_capacity",
                "Capacity of an exporter's sending queue, in units of its sizer."
            ),
            exporter_storage_truncated: metric!(
                "exporter_storage_truncated_bytes",
                "Bytes of torn or corrupt records cut off a persistent queue's disk log when it was opened."
            ),
            exporter_storage_lost: metric!(
                "exporter_storage_lost_records",
                "Records (X-Ray documents for awsxray, OTLP requests for otlphttp) in torn or corrupt parts of a persistent queue's disk log, skipped when it was opened; uncountable damage is only in exporter_storage_truncated_bytes."
            ),
            exporter_storage_ack_reset: metric!(
                "exporter_storage_ack_resets",
                "Times a persistent queue's `ack` file was missing or damaged at start-up, by reason (missing, invalid); every batch on disk is then sent again."
            ),
            exporter_persisted: metric!(
                "exporter_persisted_items",
                "Items the shutdown deadline left unsent in a persistent queue: they stay in its disk log and the next start sends them (not lost, not dropped)."
            ),
            exporter_replayed: metric!(
                "exporter_replayed_items",
                "Items a persistent queue read back from its disk log at start-up and queued again."
            ),
            proxy_requests: metric!(
                "receiver_proxy_requests",
                "Sampling proxy requests, by outcome (forwarded, refused_path, refused_method, refused_body, client_timeout, too_many_connections, upstream_error, upstream_timeout)."
            ),
            extension_proxy_requests: metric!(
                "extension_proxy_requests",
                "Requests of the awsproxy extension's sampling proxy, by outcome (the values of receiver_proxy_requests)."
            ),
            k8s_api_up: metric!(
                "processor_k8sattributes_api_up",
                "1 while a k8sattributes processor's pod watch is in sync with the Kubernetes API, 0 while it cannot reach or read it (spans then pass unchanged)."
            ),
            k8s_pods: metric!(
                "processor_k8sattributes_pods",
                "Pods in a k8sattributes processor's cache, deleted ones in their grace period included."
            ),
            k8s_pods_not_cached: metric!(
                "processor_k8sattributes_pods_not_cached",
                "Pods (or replicasets) a k8sattributes processor did not cache because its cache was at max_pods."
            ),
            k8s_api_errors: metric!(
                "processor_k8sattributes_api_errors",
                "Failed list or watch requests of a k8sattributes processor (retried with backoff)."
            ),
            detection_failures: metric!(
                "processor_resourcedetection_failures",
                "Detectors of a resourcedetection processor that failed or timed out at start-up, by detector; spans pass without their attributes."
            ),
            registry,
            totals: Totals::default(),
        };
        Telemetry {
            inner: Arc::new(inner),
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The process-wide totals so far.
    pub fn summary(&self) -> Summary {
        let t = &self.inner.totals;
        Summary {
            received: t.received.load(Ordering::Relaxed),
            accepted: t.accepted.load(Ordering::Relaxed),
            refused: t.refused.load(Ordering::Relaxed),
            sent: t.sent.load(Ordering::Relaxed),
            failed: t.failed.load(Ordering::Relaxed),
            dropped: t.dropped.load(Ordering::Relaxed),
            persisted: t.persisted.load(Ordering::Relaxed),
            filtered: t.filtered.load(Ordering::Relaxed),
        }
    }

    /// One request of a receiver's sampling proxy, by outcome.
    pub fn proxy_request(&self, receiver: &str, outcome: &str) {
        self.inner
            .proxy_requests
            .get_or_create(&labels(&[("receiver", receiver), ("outcome", outcome)]))
            .inc();
    }

    /// One request of an `awsproxy` extension, by outcome.
    pub fn extension_proxy_request(&self, extension: &str, outcome: &str) {
        self.inner
            .extension_proxy_requests
            .get_or_create(&labels(&[("extension", extension), ("outcome", outcome)]))
            .inc();
    }

    /// Whether a k8sattributes processor's watch is in sync with the API.
    pub fn k8s_api_up(&self, processor: &str, up: bool) {
        self.inner
            .k8s_api_up
            .get_or_create(&labels(&[("processor", processor)]))
            .set(i64::from(up));
    }

    /// The pods in a k8sattributes processor's cache.
    pub fn k8s_pods(&self, processor: &str, pods: usize) {
        self.inner
            .k8s_pods
            .get_or_create(&labels(&[("processor", processor)]))
            .set(i64::try_from(pods).unwrap_or(i64::MAX));
    }

    /// A pod or replicaset a k8sattributes processor's full cache did not take.
    pub fn k8s_pod_not_cached(&self, processor: &str, kind: &str) {
        self.inner
            .k8s_pods_not_cached
            .get_or_create(&labels(&[("processor", processor), ("kind", kind)]))
            .inc();
    }

    /// A failed list or watch request of a k8sattributes processor.
    pub fn k8s_api_error(&self, processor: &str) {
        self.inner
            .k8s_api_errors
            .get_or_create(&labels(&[("processor", processor)]))
            .inc();
    }

    /// A resourcedetection detector that failed at start-up.
    pub fn detection_failed(&self, processor: &str, detector: &str) {
        self.inner
            .detection_failures
            .get_or_create(&labels(&[("processor", processor), ("detector", detector)]))
            .inc();
    }

    /// The item counters of the receiver `receiver`, resolved once (the series exist from then
    /// on, at 0).
    pub fn receiver_counters(&self, receiver: &str) -> ReceiverCounters {
        let label = labels(&[("receiver", receiver)]);
        ReceiverCounters {
            received: self.inner.receiver_received.get_or_create(&label).clone(),
            accepted: self.inner.receiver_accepted.get_or_create(&label).clone(),
            inner: self.inner.clone(),
        }
    }

    /// Items a receiver dropped, with the reason.
    pub fn receiver_refused(&self, receiver: &str, reason: ReceiverRefusal, n: usize) {
        self.inner
            .receiver_refused
            .get_or_create(&labels(&[
                ("receiver", receiver),
                ("reason", reason.as_str()),
            ]))
            .inc_by(n as u64);
        self.inner
            .totals
            .refused
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One request of an OTLP receiver: counted as received, and as accepted (`Ok`) or refused
    /// with its reason, so that received = accepted + refused for requests.
    pub fn receiver_request(&self, receiver: &str, outcome: Result<(), ReceiverRefusal>) {
        let receiver_label = labels(&[("receiver", receiver)]);
        self.inner
            .receiver_requests_received
            .get_or_create(&receiver_label)
            .inc();
        match outcome {
            Ok(()) => {
                self.inner
                    .receiver_requests_accepted
                    .get_or_create(&receiver_label)
                    .inc();
            }
            Err(reason) => {
                self.inner
                    .receiver_requests_refused
                    .get_or_create(&labels(&[
                        ("receiver", receiver),
                        ("reason", reason.as_str()),
                    ]))
                    .inc();
            }
        }
    }

    /// Items a processor refused.
    pub fn processor_refused(
        &self,
        processor: &str,
        pipeline: &str,
        reason: ProcessorRefusal,
        n: usize,
    ) {
        self.inner
            .processor_refused
            .get_or_create(&labels(&[
                ("processor", processor),
                ("pipeline", pipeline),
                ("reason", reason.as_str()),
            ]))
            .inc_by(n as u64);
    }

    /// Items an inline processor removed on purpose (not an error: they count as filtered).
    pub fn processor_dropped(
        &self,
        processor: &str,
        pipeline: &str,
        reason: ProcessorDrop,
        n: usize,
    ) {
        self.inner
            .processor_dropped
            .get_or_create(&labels(&[
                ("processor", processor),
                ("pipeline", pipeline),
                ("reason", reason.as_str()),
            ]))
            .inc_by(n as u64);
        self.inner
            .totals
            .filtered
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The memory_limiter `processor`'s last reading of the process's resident memory.
    pub fn memory_limiter_rss(&self, processor: &str, bytes: u64) {
        self.inner
            .memory_limiter_rss
            .get_or_create(&labels(&[("processor", processor)]))
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// A reading of the memory_limiter `processor` at or above its hard limit.
    pub fn memory_limiter_over_hard_limit(&self, processor: &str) {
        self.inner
            .memory_limiter_over_hard
            .get_or_create(&labels(&[("processor", processor)]))
            .inc();
    }

    /// A pipeline of the config this collector skipped, on the explicit opt-in.
    pub fn skipped_pipeline(&self, pipeline: &str) {
        self.inner
            .skipped_pipelines
            .get_or_create(&labels(&[("pipeline", pipeline)]))
            .set(1);
    }

    /// A batch the batch processor sent.
    pub fn processor_batch_sent(&self, processor: &str, pipeline: &str, trigger: &str) {
        self.inner
            .processor_batches
            .get_or_create(&labels(&[
                ("processor", processor),
                ("pipeline", pipeline),
                ("trigger", trigger),
            ]))
            .inc();
    }

    /// Items an exporter delivered.
    pub fn exporter_sent(&self, exporter: &str, n: usize) {
        self.inner
            .exporter_sent
            .get_or_create(&labels(&[("exporter", exporter)]))
            .inc_by(n as u64);
        self.inner
            .totals
            .sent
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Items an exporter could not deliver.
    pub fn exporter_failed(&self, exporter: &str, reason: FailReason, n: usize) {
        self.inner
            .exporter_failed
            .get_or_create(&labels(&[
                ("exporter", exporter),
                ("reason", reason.as_str()),
            ]))
            .inc_by(n as u64);
        self.inner
            .totals
            .failed
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Items an exporter dropped without delivering.
    pub fn exporter_dropped(&self, exporter: &str, reason: DropReason, n: usize) {
        self.inner
            .exporter_dropped
            .get_or_create(&labels(&[
                ("exporter", exporter),
                ("reason", reason.as_str()),
            ]))
            .inc_by(n as u64);
        self.inner
            .totals
            .dropped
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A retried request.
    pub fn exporter_retry(&self, exporter: &str, reason: RetryReason) {
        self.inner
            .exporter_retries
            .get_or_create(&labels(&[
                ("exporter", exporter),
                ("reason", reason.as_str()),
            ]))
            .inc();
    }

    /// An export request and its outcome.
    pub fn exporter_request(&self, exporter: &str, outcome: &str) {
        self.inner
            .exporter_requests
            .get_or_create(&labels(&[("exporter", exporter), ("outcome", outcome)]))
            .inc();
    }

    /// Sets the current size of an exporter's queue.
    pub fn exporter_queue_size(&self, exporter: &str, size: usize) {
        self.inner
            .exporter_queue_size
            .get_or_create(&labels(&[("exporter", exporter)]))
            .set(size as i64);
    }

    /// Sets the capacity of an exporter's queue.
    pub fn exporter_queue_capacity(&self, exporter: &str, capacity: usize) {
        self.inner
            .exporter_queue_capacity
            .get_or_create(&labels(&[("exporter", exporter)]))
            .set(capacity as i64);
    }

    /// Counts records lost to torn or corrupt parts of a persistent queue's log.
    pub fn exporter_storage_lost(&self, exporter: &str, records: u64) {
        self.inner
            .exporter_storage_lost
            .get_or_create(&labels(&[("exporter", exporter)]))
            .inc_by(records);
    }

    /// Counts a distrusted `ack` file.
    pub fn exporter_storage_ack_reset(&self, exporter: &str, reason: AckResetReason) {
        self.inner
            .exporter_storage_ack_reset
            .get_or_create(&labels(&[
                ("exporter", exporter),
                ("reason", reason.as_str()),
            ]))
            .inc();
    }

    /// Items the shutdown deadline left in a persistent queue's disk log.
    pub fn exporter_persisted(&self, exporter: &str, n: usize) {
        self.inner
            .exporter_persisted
            .get_or_create(&labels(&[("exporter", exporter)]))
            .inc_by(n as u64);
        self.inner
            .totals
            .persisted
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Items read back from a persistent queue's disk log and queued again.
    pub fn exporter_replayed(&self, exporter: &str, n: usize) {
        self.inner
            .exporter_replayed
            .get_or_create(&labels(&[("exporter", exporter)]))
            .inc_by(n as u64);
    }

    /// Counts bytes of torn or corrupt records cut off a persistent queue's log.
    pub fn exporter_storage_truncated(&self, exporter: &str, bytes: u64) {
        self.inner
            .exporter_storage_truncated
            .get_or_create(&labels(&[("exporter", exporter)]))
            .inc_by(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_labels() {
        let t = Telemetry::new();
        t.receiver_refused("awsxray", ReceiverRefusal::InvalidJson, 2);
        t.exporter_sent("awsxray", 5);
        let text = t.encode();
        assert!(
            text.contains(
                "xray_collector_receiver_refused_items_total{receiver=\"awsxray\",reason=\"invalid_json\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("xray_collector_exporter_sent_items_total{exporter=\"awsxray\"} 5"));
        assert_eq!(t.summary().refused, 2);
        assert_eq!(t.summary().sent, 5);
    }
}
