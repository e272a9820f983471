//! The `awsxray` exporter: `PutTraceSegments`, at most 50 documents per call, several calls in
//! flight (one per sender), retries with backoff and jitter, `UnprocessedTraceSegments` retried
//! when retryable and otherwise counted and logged with their ids.
//!
//! **Architecture invariant:** this is the only module that depends on `aws-sdk-xray`.

mod client;
pub mod retry;

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_xray::Client;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio_util::sync::CancellationToken;

use crate::config::exporters::{AwsXrayExporterConfig, RetryConfig};
use crate::exporters::Abandoned;
use crate::pipeline::{Segment, SegmentIds, Traces};
use crate::telemetry::Telemetry;
use crate::translate::{self, TranslateSettings};

use self::retry::{Backoff, Failure};

/// The most documents one `PutTraceSegments` call takes.
pub const MAX_SEGMENTS_PER_PUT: usize = 50;

/// Sends documents to X-Ray.
pub struct AwsXrayExporter {
    id: String,
    client: Client,
    retry: RetryConfig,
    max_retries: Option<u32>,
    translate: TranslateSettings,
    telemetry: Telemetry,
}

impl AwsXrayExporter {
    /// Builds the exporter and its API client.
    pub async fn new(
        id: &str,
        cfg: &AwsXrayExporterConfig,
        telemetry: Telemetry,
    ) -> anyhow::Result<AwsXrayExporter> {
        Ok(AwsXrayExporter {
            id: id.to_owned(),
            client: client::build(id, cfg).await?,
            retry: cfg.retry_on_failure.clone(),
            max_retries: cfg.max_retries,
            translate: TranslateSettings {
                indexed_attributes: cfg.indexed_attributes.clone(),
                index_all_attributes: cfg.index_all_attributes,
                log_groups: cfg.aws_log_groups.clone(),
                trace_id_validation: translate::TraceIdValidation::Skip,
            },
            telemetry,
        })
    }

    /// The exporter id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The collector's counters.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Exports one batch in calls of at most 50 documents.
    pub async fn export(&self, traces: Traces, stop: &CancellationToken, abandoned: &Abandoned) {
        let documents = match traces {
            Traces::XRay(segments) => segments,
            Traces::Otlp(resource_spans) => self.documents_from_otlp(&resource_spans),
        };
        let mut rest = documents;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(MAX_SEGMENTS_PER_PUT));
            self.put(rest, stop, abandoned).await;
            rest = tail;
        }
    }

    /// The batch as X-Ray documents: OTLP spans are translated (what cannot be is counted).
    pub fn documents(&self, traces: Traces) -> Vec<Segment> {
        match traces {
            Traces::XRay(segments) => segments,
            Traces::Otlp(resource_spans) => self.documents_from_otlp(&resource_spans),
        }
    }

    /// OTLP spans to X-Ray documents (the `translate` module). Spans that cannot be translated,
    /// and documents without a valid id, are counted as failed (`reason="untranslatable"`).
    fn documents_from_otlp(&self, resource_spans: &[ResourceSpans]) -> Vec<Segment> {
        let out = translate::to_xray_documents(resource_spans, &self.translate);
        let received_at = Instant::now();
        let mut untranslatable = out.dropped.len();
        if let Some(first) = out.dropped.first() {
            tracing::warn!(exporter = %self.id, spans = out.dropped.len(), error = %first, "Cannot translate OTLP spans; spans failed.");
        }
        let documents: Vec<Segment> = out
            .documents
            .into_iter()
            .filter_map(|doc| {
                let ids = SegmentIds::new(&doc.id, &doc.trace_id);
                if ids.is_none() {
                    untranslatable += 1;
                    tracing::warn!(exporter = %self.id, trace_id = %doc.trace_id, "OTLP span without a valid span id; document failed.");
                }
                Some(Segment {
                    body: doc.json.into(),
                    ids: ids?,
                    received_at,
                })
            })
            .collect();
        if untranslatable > 0 {
            self.telemetry
                .exporter_failed(&self.id, "untranslatable", untranslatable);
        }
        documents
    }

    /// Sends one call's worth of documents until each is sent, failed or dropped.
    async fn put(
        &self,
        mut pending: Vec<Segment>,
        stop: &CancellationToken,
        abandoned: &Abandoned,
    ) {
        let started = Instant::now();
        let mut backoff = Backoff::new(&self.retry);
        let mut retries = 0u32;
        loop {
            let documents: Vec<String> = pending
                .iter()
                .map(|s| String::from_utf8_lossy(&s.body).into_owned())
                .collect();
            let call = self
                .client
                .put_trace_segments()
                .set_trace_segment_documents(Some(documents))
                .send();
            let result = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    self.drop_at_deadline(&pending, abandoned);
                    return;
                }
                r = call => r,
            };
            let (reason, detail) = match result {
                Ok(out) => {
                    let unprocessed = out.unprocessed_trace_segments();
                    if unprocessed.is_empty() {
                        self.telemetry.exporter_request(&self.id, "success");
                        self.telemetry.exporter_sent(&self.id, pending.len());
                        return;
                    }
                    self.telemetry.exporter_request(&self.id, "partial");
                    let mut by_id: HashMap<&str, usize> = HashMap::new();
                    for (i, s) in pending.iter().enumerate() {
                        by_id.entry(s.ids.id()).or_insert(i);
                    }
                    let mut retry_idx = Vec::new();
                    let mut failed = 0usize;
                    for u in unprocessed {
                        let code = u.error_code().unwrap_or("Unknown");
                        let idx = u.id().and_then(|id| by_id.remove(id));
                        let trace_id = idx.map(|i| pending[i].ids.trace_id()).unwrap_or("");
                        if let (Some(i), true) = (idx, retry::retryable_code(code)) {
                            retry_idx.push(i);
                            continue;
                        }
                        failed += 1;
                        self.telemetry.exporter_failed(&self.id, "unprocessed", 1);
                        tracing::warn!(
                            exporter = %self.id,
                            segment_id = u.id().unwrap_or(""),
                            trace_id,
                            error_code = code,
                            message = u.message().unwrap_or(""),
                            "X-Ray did not process a segment; it is dropped."
                        );
                    }
                    let sent = pending.len().saturating_sub(failed + retry_idx.len());
                    self.telemetry.exporter_sent(&self.id, sent);
                    if retry_idx.is_empty() {
                        return;
                    }
                    let mut keep = vec![false; pending.len()];
                    for i in retry_idx {
                        keep[i] = true;
                    }
                    let mut i = 0;
                    pending.retain(|_| {
                        i += 1;
                        keep[i - 1]
                    });
                    (
                        "unprocessed",
                        format!(
                            "{} segments unprocessed with retryable codes",
                            pending.len()
                        ),
                    )
                }
                Err(err) => match retry::classify(&err) {
                    Failure::Permanent(detail) => {
                        self.telemetry.exporter_request(&self.id, "permanent_error");
                        self.fail(&pending, "permanent_error", &detail);
                        return;
                    }
                    Failure::Retryable(reason, detail) => {
                        self.telemetry.exporter_request(&self.id, reason);
                        (reason, detail)
                    }
                },
            };
            if !self.retry.enabled {
                self.fail(&pending, "retry_disabled", &detail);
                return;
            }
            retries += 1;
            let delay = backoff.next_delay();
            let out_of_time = !self.retry.max_elapsed_time.is_zero()
                && started.elapsed() + delay > self.retry.max_elapsed_time;
            if out_of_time || self.max_retries.is_some_and(|m| retries > m) {
                self.fail(&pending, "retries_exhausted", &detail);
                return;
            }
            self.telemetry.exporter_retry(&self.id, reason);
            tracing::debug!(exporter = %self.id, reason, documents = pending.len(), delay_ms = delay.as_millis() as u64, error = %detail, "Retrying PutTraceSegments.");
            tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    self.drop_at_deadline(&pending, abandoned);
                    return;
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn fail(&self, pending: &[Segment], reason: &str, detail: &str) {
        self.telemetry
            .exporter_failed(&self.id, reason, pending.len());
        let trace_ids: Vec<&str> = pending.iter().map(|s| s.ids.trace_id()).take(10).collect();
        tracing::error!(
            exporter = %self.id,
            reason,
            documents = pending.len(),
            first_trace_ids = ?trace_ids,
            error = %detail,
            "PutTraceSegments failed; documents dropped."
        );
    }

    fn drop_at_deadline(&self, pending: &[Segment], abandoned: &Abandoned) {
        abandoned.add(pending.len());
        tracing::warn!(exporter = %self.id, documents = pending.len(), "Shutdown deadline reached; documents in flight not sent (dropped, or kept in a persistent queue's disk log).");
    }
}
