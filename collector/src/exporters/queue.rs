//! The sending queue in front of an exporter's senders (`sending_queue`): bounded in requests,
//! items or bytes, drained by `num_consumers` senders. A full queue refuses the batch and counts its
//! items as dropped (`reason="queue_full"`), unless `block_on_overflow` makes the caller wait.
//!
//! A batch holds its share of the capacity until its export has finished, so the bound covers
//! batches in flight as well as waiting ones: memory stays bounded however slow the API is.
//!
//! With `storage` (a disk log, `disklog`), every batch is appended before it is queued and
//! acknowledged once delivered (sent, or failed for good and counted). A batch the shutdown
//! deadline abandons stays on disk and is counted as persisted
//! (`xray_collector_exporter_persisted_items_total`), not dropped; the next start reads the log
//! back one batch at a time as the queue has room (`xray_collector_exporter_replayed_items_total`).
//! Disk IO runs in `spawn_blocking`, off the runtime's threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};

use bytes::Bytes;

use serde::Deserialize;

use crate::config::component::{Checker, ExtensionRef};
use crate::exporters::disklog::{AppendError, DiskLog, Replay};
use crate::extensions::file_storage::config::FileStorageConfig;
use crate::telemetry::{DropReason, Telemetry};
use crate::traces::{Refused, Segment, SegmentIds, Traces};

/// What `sending_queue.queue_size` counts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    /// Batches (requests), the collector's default.
    #[default]
    Requests,
    /// Items: X-Ray documents or OTLP spans.
    Items,
    /// Bytes of document bodies (bounds memory directly).
    Bytes,
}

/// `sending_queue` (the collector's exporter-helper keys).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Whether batches are queued. When false the pipeline waits for a free sender.
    pub enabled: bool,
    /// Senders working in parallel (requests in flight); default 10.
    pub num_consumers: Option<usize>,
    /// Capacity, in units of `sizer`; default 1000.
    pub queue_size: usize,
    /// The unit of `queue_size`.
    pub sizer: Sizer,
    /// Wait for room instead of refusing (and counting) a batch when the queue is full.
    pub block_on_overflow: bool,
    /// A `file_storage` extension to keep the queue on disk, so that an outage or a restart
    /// (even `kill -9`) loses nothing received, up to the extension's disk bound.
    pub storage: Option<ExtensionRef<FileStorageConfig>>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: None,
            queue_size: 1000,
            sizer: Sizer::Requests,
            block_on_overflow: false,
            storage: None,
        }
    }
}

impl QueueConfig {
    /// Checks `sending_queue` (located under the exporter).
    pub fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.queue_size == 0 {
            c.error("sending_queue/queue_size", "must be at least 1");
        }
        if self.num_consumers == Some(0) {
            c.error("sending_queue/num_consumers", "must be at least 1");
        }
    }
}

/// Settings of one queue.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    pub capacity: usize,
    pub sizer: Sizer,
    pub block_on_overflow: bool,
}

/// Turns a batch into the records written to disk, and the batch to queue in its place (the
/// awsxray exporter translates OTLP to X-Ray documents first; otlphttp keeps the batch as is).
pub type ToRecords = Arc<dyn Fn(Traces) -> (Traces, Vec<Bytes>) + Send + Sync>;
/// Turns the records of one batch read back from disk into the batch to send.
pub type FromRecords = Arc<dyn Fn(Vec<Bytes>) -> Traces + Send + Sync>;

/// An exporter's disk codec: what a persistent queue writes for a batch, and reads back.
#[derive(Clone)]
pub struct Codec {
    pub to_records: ToRecords,
    pub from_records: FromRecords,
}

impl Codec {
    /// Batches stored as they are ([`records_as_is`], [`batch_from_records`]).
    pub fn as_is() -> Codec {
        Codec {
            to_records: Arc::new(records_as_is),
            from_records: Arc::new(batch_from_records),
        }
    }
}

/// The disk under a persistent queue (`sending_queue.storage`): every batch is appended to the
/// log before it is queued, and acknowledged once its export has finished.
pub struct Storage {
    pub log: std::sync::Mutex<DiskLog>,
    pub codec: Codec,
}

/// The first byte of a record holding an OTLP batch (an `ExportTraceServiceRequest`); X-Ray
/// documents are JSON and never start with it.
const OTLP_RECORD: u8 = 0;

/// The records of a batch as is: X-Ray documents one per record, OTLP spans as one encoded
/// `ExportTraceServiceRequest` behind [`OTLP_RECORD`].
pub fn records_as_is(traces: Traces) -> (Traces, Vec<Bytes>) {
    let records = match &traces {
        Traces::XRay(documents) => documents.iter().map(|d| d.body.clone()).collect(),
        Traces::Otlp(resource_spans) => {
            use prost::Message;
            let request =
                opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                    resource_spans: resource_spans.clone(),
                };
            let mut record = Vec::with_capacity(request.encoded_len() + 1);
            record.push(OTLP_RECORD);
            request
                .encode(&mut record)
                .expect("a Vec grows to take any message");
            vec![Bytes::from(record)]
        }
    };
    (traces, records)
}

/// The batch [`records_as_is`] wrote, or X-Ray documents (what the awsxray exporter writes).
pub fn batch_from_records(records: Vec<Bytes>) -> Traces {
    if let [record] = records.as_slice() {
        if record.first() == Some(&OTLP_RECORD) {
            use prost::Message;
            // The record passed its CRC check, so it is what `records_as_is` wrote; should it
            // still not decode, the batch cannot be counted by item and is logged instead.
            type Request =
                opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
            return match Request::decode(&record[1..]) {
                Ok(request) => Traces::Otlp(request.resource_spans),
                Err(error) => {
                    tracing::error!(%error, bytes = record.len(), "An OTLP batch in the disk queue does not decode; it is skipped.");
                    Traces::Otlp(Vec::new())
                }
            };
        }
    }
    documents_from_records(records)
}

/// Stored X-Ray documents, with the ids read back for logs and retries.
pub fn documents_from_records(records: Vec<Bytes>) -> Traces {
    let received_at = std::time::Instant::now();
    Traces::XRay(
        records
            .into_iter()
            .filter_map(|body| {
                let ids = document_ids(&body)?;
                Some(Segment::new(body, ids, received_at))
            })
            .collect(),
    )
}

/// The sending side; cloned into every pipeline that uses the exporter.
#[derive(Clone)]
pub struct ExporterQueue {
    inner: Arc<Shared>,
    tx: mpsc::UnboundedSender<Queued>,
}

struct Shared {
    exporter: Arc<str>,
    semaphore: Arc<Semaphore>,
    capacity: u32,
    settings: QueueSettings,
    telemetry: Telemetry,
    last_warning: AtomicU64,
    storage: Option<Arc<Storage>>,
}

/// A queued batch. Dropping it gives its capacity back.
pub struct Queued {
    pub traces: Traces,
    _permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
    /// The batch's sequence number in the disk log, when the queue is persistent.
    seq: Option<u64>,
}

impl Queued {
    /// Ends the batch's export. With nothing `abandoned` (every item sent, or failed and
    /// counted), the disk log may forget it. Items abandoned at the shutdown deadline are counted
    /// as persisted when the batch is on disk (it stays there and the next start sends it
    /// again), otherwise as dropped (`reason="shutdown_deadline"`).
    pub async fn finish(self, abandoned: usize) {
        let on_disk = self.seq.zip(self.shared.storage.clone());
        match on_disk {
            Some((_, _)) if abandoned > 0 => {
                self.shared
                    .telemetry
                    .exporter_persisted(&self.shared.exporter, abandoned);
                tracing::info!(exporter = %self.shared.exporter, items = abandoned, "Shutdown deadline reached; the batch stays in the disk queue for the next start.");
            }
            None if abandoned > 0 => {
                self.shared.telemetry.exporter_dropped(
                    &self.shared.exporter,
                    DropReason::ShutdownDeadline,
                    abandoned,
                );
            }
            Some((seq, storage)) => {
                let result = tokio::task::spawn_blocking(move || lock(&storage.log).ack(seq)).await;
                let error = match result {
                    Ok(Ok(())) => return,
                    Ok(Err(error)) => error.to_string(),
                    Err(error) => error.to_string(),
                };
                tracing::warn!(exporter = %self.shared.exporter, %error, "Cannot record an acknowledgement in the disk queue; the batch may be sent again after a restart.");
            }
            None => {}
        }
    }
}

fn lock(log: &std::sync::Mutex<DiskLog>) -> std::sync::MutexGuard<'_, DiskLog> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for Queued {
    fn drop(&mut self) {
        self._permit.take();
        self.shared.publish_size();
    }
}

/// The receiving side, shared by the exporter's senders.
pub struct QueueReceiver {
    rx: Mutex<mpsc::UnboundedReceiver<Queued>>,
}

impl QueueReceiver {
    /// The next batch, or `None` once every sender is gone and the queue is empty.
    pub async fn recv(&self) -> Option<Queued> {
        self.rx.lock().await.recv().await
    }
}

/// Creates a queue for the exporter `exporter`.
pub fn queue(
    exporter: &str,
    settings: QueueSettings,
    telemetry: Telemetry,
    storage: Option<Arc<Storage>>,
) -> (ExporterQueue, QueueReceiver) {
    let capacity = settings.capacity.clamp(1, u32::MAX as usize) as u32;
    telemetry.exporter_queue_capacity(exporter, capacity as usize);
    telemetry.exporter_queue_size(exporter, 0);
    let shared = Arc::new(Shared {
        exporter: exporter.into(),
        semaphore: Arc::new(Semaphore::new(capacity as usize)),
        capacity,
        settings,
        telemetry,
        last_warning: AtomicU64::new(0),
        storage,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    (
        ExporterQueue { inner: shared, tx },
        QueueReceiver { rx: Mutex::new(rx) },
    )
}

impl Shared {
    fn units(&self, traces: &Traces) -> u32 {
        let n = match self.settings.sizer {
            Sizer::Requests => 1,
            Sizer::Items => traces.item_count(),
            Sizer::Bytes => traces.byte_size(),
        };
        n.clamp(1, u32::MAX as usize) as u32
    }

    fn publish_size(&self) {
        let used = self.capacity as usize
            - self
                .semaphore
                .available_permits()
                .min(self.capacity as usize);
        self.telemetry.exporter_queue_size(&self.exporter, used);
    }

    fn drop_full(&self, traces: &Traces, reason: DropReason) {
        let n = traces.item_count();
        self.telemetry.exporter_dropped(&self.exporter, reason, n);
        // One warning per second at most; the counter has the exact figure.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if self.last_warning.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(
                exporter = %self.exporter,
                items = n,
                reason = reason.as_str(),
                capacity = self.capacity,
                "Sending queue is full; batch dropped (see xray_collector_exporter_dropped_items_total)."
            );
        }
    }
}

impl ExporterQueue {
    /// Enqueues, waiting for room only when `block_on_overflow` is set.
    pub async fn send(&self, traces: Traces) -> Result<(), Refused> {
        if !self.inner.settings.block_on_overflow {
            return self.try_send(traces);
        }
        let units = self.inner.units(&traces);
        if units > self.inner.capacity {
            self.inner.drop_full(&traces, DropReason::LargerThanQueue);
            return Err(Refused::Full);
        }
        let Ok(permit) = self.inner.semaphore.clone().acquire_many_owned(units).await else {
            return Err(Refused::Closed);
        };
        let (traces, seq) = self.persist(traces).await?;
        self.push(traces, permit, seq)
    }

    /// Enqueues without waiting; a full queue drops and counts the batch. With storage, the
    /// batch (holding its capacity) is handed to a task that writes it to disk, then queues it
    /// (or counts it, should the disk refuse it).
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        let units = self.inner.units(&traces);
        match self.inner.semaphore.clone().try_acquire_many_owned(units) {
            Ok(permit) if self.inner.storage.is_some() => {
                let this = self.clone();
                tokio::spawn(async move {
                    if let Ok((traces, seq)) = this.persist(traces).await {
                        let _ = this.push(traces, permit, seq);
                    }
                });
                Ok(())
            }
            Ok(permit) => self.push(traces, permit, None),
            Err(_) => {
                let reason = if units > self.inner.capacity {
                    DropReason::LargerThanQueue
                } else {
                    DropReason::QueueFull
                };
                self.inner.drop_full(&traces, reason);
                Err(Refused::Full)
            }
        }
    }

    /// Writes the batch to the disk log when the queue is persistent. A batch beyond the disk
    /// bound is refused and counted (`reason="storage_full"`), as is one the disk cannot take
    /// (`reason="storage_error"`).
    async fn persist(&self, traces: Traces) -> Result<(Traces, Option<u64>), Refused> {
        let Some(storage) = self.inner.storage.clone() else {
            return Ok((traces, None));
        };
        let (traces, records) = (storage.codec.to_records)(traces);
        let appended = tokio::task::spawn_blocking(move || lock(&storage.log).append(&records))
            .await
            .unwrap_or_else(|e| Err(AppendError::Io(std::io::Error::other(e))));
        match appended {
            Ok(seq) => Ok((traces, Some(seq))),
            Err(AppendError::Full { .. }) => {
                self.inner.drop_full(&traces, DropReason::StorageFull);
                Err(Refused::Full)
            }
            Err(AppendError::Io(error)) => {
                tracing::warn!(exporter = %self.inner.exporter, %error, "Cannot write to the disk queue; batch dropped.");
                self.inner.telemetry.exporter_dropped(
                    &self.inner.exporter,
                    DropReason::StorageError,
                    traces.item_count(),
                );
                Err(Refused::Full)
            }
        }
    }

    /// Queues the batches a previous run left unacknowledged in the disk log, reading them one
    /// at a time (in `spawn_blocking`) as the senders make room in the in-memory queue, so
    /// memory holds the queue's bound plus one batch. Each is counted as replayed.
    /// Reading stops once `stop` (the start of shutdown) is cancelled: the rest stays on disk.
    pub fn replay(&self, mut replay: Replay, stop: tokio_util::sync::CancellationToken) {
        let Some(storage) = self.inner.storage.clone() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let read = tokio::task::spawn_blocking(move || {
                    let next = replay.next_batch();
                    (replay, next)
                })
                .await;
                let (rest, next) = match read {
                    Ok((rest, Some(next))) => (rest, next),
                    Ok((_, None)) => return,
                    Err(error) => {
                        tracing::error!(exporter = %this.inner.exporter, %error, "Reading the disk queue back failed.");
                        return;
                    }
                };
                replay = rest;
                let (seq, records) = match next {
                    Ok(batch) => batch,
                    Err(error) => {
                        tracing::error!(exporter = %this.inner.exporter, %error, "A batch in the disk queue cannot be read back; it is skipped.");
                        continue;
                    }
                };
                let traces = (storage.codec.from_records)(records);
                let units = this.inner.units(&traces).min(this.inner.capacity);
                let permit = tokio::select! {
                    permit = this.inner.semaphore.clone().acquire_many_owned(units) => permit,
                    _ = stop.cancelled() => return,
                };
                let Ok(permit) = permit else {
                    return;
                };
                this.inner
                    .telemetry
                    .exporter_replayed(&this.inner.exporter, traces.item_count());
                if this.push(traces, permit, Some(seq)).is_err() {
                    return;
                }
            }
        });
    }

    fn push(
        &self,
        traces: Traces,
        permit: OwnedSemaphorePermit,
        seq: Option<u64>,
    ) -> Result<(), Refused> {
        let queued = Queued {
            traces,
            _permit: Some(permit),
            shared: self.inner.clone(),
            seq,
        };
        self.inner.publish_size();
        self.tx.send(queued).map_err(|e| {
            let n = e.0.traces.item_count();
            if e.0.seq.is_some() {
                // Written to the disk log: the next start sends it.
                self.inner
                    .telemetry
                    .exporter_persisted(&self.inner.exporter, n);
            } else {
                self.inner.telemetry.exporter_dropped(
                    &self.inner.exporter,
                    DropReason::Shutdown,
                    n,
                );
            }
            Refused::Closed
        })
    }
}

/// The ids of a stored document, for logs and retries; a document whose ids cannot be read
/// (they were checked when it was received) gets zero ids rather than being lost.
fn document_ids(body: &[u8]) -> Option<SegmentIds> {
    #[derive(serde::Deserialize)]
    struct Ids {
        #[serde(default)]
        id: String,
        #[serde(default)]
        trace_id: String,
    }
    serde_json::from_slice::<Ids>(body)
        .ok()
        .and_then(|ids| SegmentIds::new(&ids.id, &ids.trace_id))
        .or_else(|| SegmentIds::new("0000000000000000", ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Instant;

    fn batch(n: usize) -> Traces {
        let seg = Segment::new(
            Bytes::from_static(b"{}"),
            SegmentIds::new("0123456789abcdef", "").unwrap(),
            Instant::now(),
        );
        Traces::XRay(vec![seg; n])
    }

    #[test]
    fn otlp_and_xray_batches_survive_their_records() {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let otlp = Traces::Otlp(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    Span {
                        span_id: vec![1; 8],
                        ..Default::default()
                    };
                    3
                ],
                ..Default::default()
            }],
            ..Default::default()
        }]);
        let (kept, records) = records_as_is(otlp.clone());
        assert_eq!(records.len(), 1);
        let Traces::Otlp(back) = batch_from_records(records) else {
            panic!("an OTLP batch comes back as OTLP")
        };
        let Traces::Otlp(original) = otlp else {
            unreachable!()
        };
        assert_eq!(back, original);
        assert_eq!(kept.item_count(), 3);

        let doc = |id: &str| {
            Segment::new(
                Bytes::from(format!(
                    r#"{{"id":"{id}","trace_id":"1-5f84c7a8-0123456789abcdef01234567"}}"#
                )),
                SegmentIds::new(id, "1-5f84c7a8-0123456789abcdef01234567").unwrap(),
                Instant::now(),
            )
        };
        let (_, records) = records_as_is(Traces::XRay(vec![doc("0123456789abcdef")]));
        let Traces::XRay(docs) = batch_from_records(records) else {
            panic!("X-Ray documents come back as documents")
        };
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].ids.id(), "0123456789abcdef");
    }

    #[tokio::test]
    async fn full_queue_refuses_and_counts_until_a_batch_completes() {
        let telemetry = Telemetry::new();
        let settings = QueueSettings {
            capacity: 5,
            sizer: Sizer::Items,
            block_on_overflow: false,
        };
        let (q, rx) = queue("awsxray", settings, telemetry.clone(), None);
        q.try_send(batch(3)).unwrap();
        assert_eq!(q.try_send(batch(3)), Err(Refused::Full));
        assert_eq!(telemetry.summary().dropped, 3);
        assert!(
            telemetry
                .encode()
                .contains("xray_collector_exporter_queue_size{exporter=\"awsxray\"} 3")
        );
        let first = rx.recv().await.unwrap();
        // Still in flight: the capacity is held.
        assert_eq!(q.try_send(batch(3)), Err(Refused::Full));
        drop(first);
        q.try_send(batch(3)).unwrap();
        assert_eq!(q.try_send(batch(9)), Err(Refused::Full));
        assert!(
            telemetry
                .encode()
                .contains("reason=\"larger_than_queue\"} 9")
        );
    }
}
