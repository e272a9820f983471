//! The `awsxray` exporter: `PutTraceSegments`, at most 50 documents per call, several calls in
//! flight (one per sender), retries with backoff and jitter, `UnprocessedTraceSegments` retried
//! when retryable and otherwise counted and logged with their ids.
//!
//! Each attempt's request body is written once, straight from the documents' received bytes
//! (module `body`), and handed to the SDK call through `mutate_request`, which runs before
//! signing: the SDK serializes an empty input, then signs (one SHA-256 of the body) and sends the
//! pre-built body on its pooled, kept-alive connections, and parses the answer and the errors as
//! before. Documents are never copied into `String`s or escaped by the SDK's serializer.
//!
//! **Architecture invariant:** this is the only module that depends on `aws-sdk-xray`.

mod body;
pub mod classify;
mod client;
pub mod config;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_xray::Client;
use aws_smithy_types::body::SdkBody;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio_util::sync::CancellationToken;

use crate::config::component::{BoxFuture, Resolve};
use crate::config::id::ComponentId;
use crate::exporters::queue::{self, Codec};
use crate::exporters::retry::{RetryPolicy, or_stop};
use crate::exporters::{Abandoned, Built, Exporter, ExporterConfig, network_queue, open_storage};
use crate::telemetry::{FailReason, RetryReason, Telemetry};
use crate::traces::{Segment, SegmentIds, Traces};
use crate::translate::{self, TranslateSettings};

use self::classify::Failure;
use self::config::AwsXrayExporterConfig;

/// The most documents one `PutTraceSegments` call takes.
pub const MAX_SEGMENTS_PER_PUT: usize = 50;

impl ExporterConfig for AwsXrayExporterConfig {
    fn references(&mut self) -> Vec<(&'static str, &mut dyn Resolve)> {
        let storage = self.sending_queue.storage.as_mut();
        storage
            .into_iter()
            .map(|s| ("sending_queue/storage", s as &mut dyn Resolve))
            .collect()
    }

    fn build<'a>(
        &'a self,
        id: &'a ComponentId,
        telemetry: Telemetry,
    ) -> BoxFuture<'a, anyhow::Result<Built>> {
        Box::pin(async move {
            let consumers = self
                .sending_queue
                .num_consumers
                .or(self.num_workers)
                .unwrap_or(10);
            let queue = network_queue(&self.sending_queue, consumers);
            let exporter =
                Arc::new(AwsXrayExporter::new(&id.to_string(), self, telemetry.clone()).await?);
            let storage =
                open_storage(id, &self.sending_queue, || codec(&exporter), &telemetry).await?;
            Ok(Built {
                exporter,
                queue,
                consumers,
                storage,
            })
        })
    }
}

/// The disk codec: X-Ray documents, one per record (OTLP spans are translated, and what cannot be
/// is counted, before the batch is written).
fn codec(exporter: &Arc<AwsXrayExporter>) -> Codec {
    let exporter = exporter.clone();
    Codec {
        to_records: Arc::new(move |traces| {
            let documents = exporter.documents(traces);
            let records = documents.iter().map(|d| d.body.clone()).collect();
            (Traces::XRay(documents), records)
        }),
        from_records: Arc::new(queue::documents_from_records),
    }
}

impl Exporter for AwsXrayExporter {
    fn id(&self) -> &str {
        &self.id
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn export<'a>(
        &'a self,
        traces: Traces,
        stop: &'a CancellationToken,
        abandoned: &'a Abandoned,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.export_batch(traces, stop, abandoned))
    }
}

/// Sends documents to X-Ray.
pub struct AwsXrayExporter {
    id: String,
    client: Client,
    retry: RetryPolicy,
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
            // contrib's `max_retries` caps the AWS SDK's own retries; the SDK's retries are off
            // here (see `client`), so it caps the shared policy's retries instead.
            retry: RetryPolicy {
                config: cfg.retry_on_failure.clone(),
                max_retries: cfg.max_retries,
            },
            translate: TranslateSettings {
                indexed_attributes: cfg.indexed_attributes.clone(),
                index_all_attributes: cfg.index_all_attributes,
                log_groups: cfg.aws_log_groups.clone(),
                trace_id_validation: translate::TraceIdValidation::Skip,
            },
            telemetry,
        })
    }

    /// Exports one batch in calls of at most 50 documents.
    pub async fn export_batch(
        &self,
        traces: Traces,
        stop: &CancellationToken,
        abandoned: &Abandoned,
    ) {
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
                Some(Segment::new(doc.json.into(), ids?, received_at))
            })
            .collect();
        if untranslatable > 0 {
            self.telemetry
                .exporter_failed(&self.id, FailReason::Untranslatable, untranslatable);
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
        let mut retries = self.retry.start(&self.id, &self.telemetry);
        loop {
            let request = bytes::Bytes::from(body::put_body(&pending));
            let call = self
                .client
                .put_trace_segments()
                .set_trace_segment_documents(Some(Vec::new()))
                .customize()
                .mutate_request(move |req| {
                    req.headers_mut()
                        .insert("content-length", request.len().to_string());
                    *req.body_mut() = SdkBody::from(request.clone());
                })
                .send();
            let Some(result) = or_stop(stop, call).await else {
                self.drop_at_deadline(&pending, abandoned);
                return;
            };
            let (reason, detail) = match result {
                Ok(out) => match self.settle(&mut pending, out.unprocessed_trace_segments()) {
                    Some(retry) => retry,
                    None => return,
                },
                Err(err) => match classify::classify(&err) {
                    Failure::Permanent(detail) => {
                        self.telemetry.exporter_request(&self.id, "permanent_error");
                        self.fail(&pending, FailReason::PermanentError, &detail);
                        return;
                    }
                    Failure::Retryable(reason, detail) => {
                        self.telemetry.exporter_request(&self.id, reason.as_str());
                        (reason, detail)
                    }
                },
            };
            match retries.wait(reason, None, &detail, stop).await {
                Ok(()) => {}
                Err(give_up) => {
                    match give_up.fail_reason() {
                        Some(reason) => self.fail(&pending, reason, &detail),
                        None => self.drop_at_deadline(&pending, abandoned),
                    }
                    return;
                }
            }
        }
    }

    /// Counts a call's answer: documents sent, and unprocessed ones failed (permanent codes) or
    /// kept in `pending` (retryable codes). `None` when nothing is left to retry.
    fn settle(
        &self,
        pending: &mut Vec<Segment>,
        unprocessed: &[aws_sdk_xray::types::UnprocessedTraceSegment],
    ) -> Option<(RetryReason, String)> {
        if unprocessed.is_empty() {
            self.telemetry.exporter_request(&self.id, "success");
            self.telemetry.exporter_sent(&self.id, pending.len());
            return None;
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
            if let (Some(i), true) = (idx, classify::retryable_code(code)) {
                retry_idx.push(i);
                continue;
            }
            failed += 1;
            self.telemetry
                .exporter_failed(&self.id, FailReason::Unprocessed, 1);
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
            return None;
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
        Some((
            RetryReason::Unprocessed,
            format!(
                "{} segments unprocessed with retryable codes",
                pending.len()
            ),
        ))
    }

    fn fail(&self, pending: &[Segment], reason: FailReason, detail: &str) {
        self.telemetry
            .exporter_failed(&self.id, reason, pending.len());
        let trace_ids: Vec<&str> = pending.iter().map(|s| s.ids.trace_id()).take(10).collect();
        tracing::error!(
            exporter = %self.id,
            reason = reason.as_str(),
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
