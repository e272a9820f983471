//! The sending queue in front of an exporter's senders (`sending_queue`): bounded in requests,
//! items or bytes, drained by `num_consumers` senders. A full queue refuses the batch and counts its
//! items as dropped (`reason="queue_full"`), unless `block_on_overflow` makes the caller wait.
//!
//! A batch holds its share of the capacity until its export has finished, so the bound covers
//! batches in flight as well as waiting ones: memory stays bounded however slow the API is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::config::exporters::Sizer;
use crate::pipeline::{Refused, Traces};
use crate::telemetry::Telemetry;

/// Settings of one queue.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    pub capacity: usize,
    pub sizer: Sizer,
    pub block_on_overflow: bool,
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
}

/// A queued batch. Dropping it gives its capacity back.
pub struct Queued {
    pub traces: Traces,
    _permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
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

    fn drop_full(&self, traces: &Traces, reason: &str) {
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
                reason,
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
            self.inner.drop_full(&traces, "larger_than_queue");
            return Err(Refused::Full);
        }
        let Ok(permit) = self.inner.semaphore.clone().acquire_many_owned(units).await else {
            return Err(Refused::Closed);
        };
        self.push(traces, permit)
    }

    /// Enqueues without waiting; a full queue drops and counts the batch.
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        let units = self.inner.units(&traces);
        match self.inner.semaphore.clone().try_acquire_many_owned(units) {
            Ok(permit) => self.push(traces, permit),
            Err(_) => {
                let reason = if units > self.inner.capacity {
                    "larger_than_queue"
                } else {
                    "queue_full"
                };
                self.inner.drop_full(&traces, reason);
                Err(Refused::Full)
            }
        }
    }

    fn push(&self, traces: Traces, permit: OwnedSemaphorePermit) -> Result<(), Refused> {
        let queued = Queued {
            traces,
            _permit: Some(permit),
            shared: self.inner.clone(),
        };
        self.inner.publish_size();
        self.tx.send(queued).map_err(|e| {
            let n = e.0.traces.item_count();
            self.inner
                .telemetry
                .exporter_dropped(&self.inner.exporter, "shutdown", n);
            Refused::Closed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Segment, SegmentIds};
    use bytes::Bytes;
    use std::time::Instant;

    fn batch(n: usize) -> Traces {
        let seg = Segment {
            body: Bytes::from_static(b"{}"),
            ids: SegmentIds::new("0123456789abcdef", "").unwrap(),
            received_at: Instant::now(),
        };
        Traces::XRay(vec![seg; n])
    }

    #[tokio::test]
    async fn full_queue_refuses_and_counts_until_a_batch_completes() {
        let telemetry = Telemetry::new();
        let settings = QueueSettings {
            capacity: 5,
            sizer: Sizer::Items,
            block_on_overflow: false,
        };
        let (q, rx) = queue("awsxray", settings, telemetry.clone());
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
