//! Exporters: `awsxray` (PutTraceSegments), `otlphttp` (OTLP/HTTP, optionally SigV4-signed),
//! `debug` (logs) and `file` (JSON lines).
//!
//! Each exporter instance is one [`queue::ExporterQueue`] shared by every pipeline naming it, and
//! a set of sender tasks that take batches off the queue and call the exporter's `export`. An
//! exporter accounts for every item it is given: sent, failed or dropped.
//!
//! An exporter's config implements [`ExporterConfig`] (and `config::component::Component`): its
//! extension references, its build (the exporter, its queue settings and, for a persistent queue,
//! its disk codec). The registry (`crate::registry`) lists the types. The network exporters share
//! the retry policy of [`retry`].

pub mod awsxray;
pub mod debug;
pub mod disklog;
pub mod file;
pub mod otlphttp;
pub mod queue;
pub mod retry;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::component::{AsAny, BoxFuture, Checker, Resolve};
use crate::config::id::ComponentId;
use crate::telemetry::{DropReason, Telemetry};
use crate::traces::Traces;

use self::queue::{Codec, QueueConfig, QueueReceiver, QueueSettings, Sizer, Storage};

/// An exporter's config, type-erased.
pub trait ExporterConfig: AsAny + fmt::Debug {
    /// The extension references in the config, with their keys under the exporter
    /// (`auth/authenticator`), for the config loader to resolve.
    fn references(&mut self) -> Vec<(&'static str, &mut dyn Resolve)> {
        Vec::new()
    }

    /// Checks that need the references resolved.
    fn validate_resolved(&self, c: &mut Checker<'_, '_>) {
        let _ = c;
    }

    /// Builds exporter `id` (which may do IO: AWS region and credential set-up, opening files).
    fn build<'a>(
        &'a self,
        id: &'a ComponentId,
        telemetry: Telemetry,
    ) -> BoxFuture<'a, anyhow::Result<Built>>;
}

/// The disk under a persistent queue, and the batches (sequence number, records) a previous run
/// left unacknowledged in it.
pub type OpenedStorage = (Arc<Storage>, Vec<(u64, Vec<Bytes>)>);

/// A built exporter, with what its queue needs.
pub struct Built {
    pub exporter: Arc<dyn Exporter>,
    pub queue: QueueSettings,
    /// Senders working in parallel.
    pub consumers: usize,
    /// The disk under a persistent queue, and the batches a previous run left in it.
    pub storage: Option<OpenedStorage>,
}

/// A running exporter.
pub trait Exporter: Send + Sync {
    /// The exporter id.
    fn id(&self) -> &str;

    /// The collector's counters.
    fn telemetry(&self) -> &Telemetry;

    /// Exports one batch, accounting for every item. `stop` is cancelled at the shutdown deadline:
    /// work still pending then is counted as dropped.
    fn export<'a>(&'a self, traces: Traces, stop: &'a CancellationToken) -> BoxFuture<'a, ()>;
}

/// Counts a batch that will never be exported because the shutdown deadline passed.
fn abandon(exporter: &dyn Exporter, traces: &Traces) {
    exporter.telemetry().exporter_dropped(
        exporter.id(),
        DropReason::ShutdownDeadline,
        traces.item_count(),
    );
}

/// The queue of a network exporter (`sending_queue`): as configured, or, with the queue turned
/// off, room for one batch per sender and a pipeline that waits, as the collector does.
pub fn network_queue(q: &QueueConfig, consumers: usize) -> QueueSettings {
    if q.enabled {
        QueueSettings {
            capacity: q.queue_size,
            sizer: q.sizer,
            block_on_overflow: q.block_on_overflow,
        }
    } else {
        QueueSettings {
            capacity: consumers,
            sizer: Sizer::Requests,
            block_on_overflow: true,
        }
    }
}

/// Local exporters (debug, file) wait rather than drop: they are only as slow as the disk.
pub fn local_queue() -> QueueSettings {
    QueueSettings {
        capacity: 100,
        sizer: Sizer::Requests,
        block_on_overflow: true,
    }
}

/// Opens the disk log of a persistent queue (`sending_queue.storage`), in a sub-directory of the
/// `file_storage` directory named after the exporter, with the exporter's disk `codec`; returns
/// the batches to send again.
pub fn open_storage(
    id: &ComponentId,
    queue: &QueueConfig,
    codec: impl FnOnce() -> Codec,
    telemetry: &Telemetry,
) -> anyhow::Result<Option<OpenedStorage>> {
    let Some(storage) = &queue.storage else {
        return Ok(None);
    };
    let (_, fs) = storage.get()?;
    let dir = std::path::Path::new(&fs.directory).join(id.to_string().replace('/', "_"));
    let (log, recovered) = disklog::DiskLog::open(&dir, fs.max_size_bytes, fs.fsync)
        .map_err(|e| anyhow::format_err!("opening the disk queue {}: {e}", dir.display()))?;
    telemetry.exporter_storage_truncated(&id.to_string(), recovered.truncated_bytes);
    if recovered.truncated_bytes > 0 {
        tracing::warn!(exporter = %id, bytes = recovered.truncated_bytes, "Cut a torn or corrupt record off the disk queue.");
    }
    let storage = Storage {
        log: std::sync::Mutex::new(log),
        codec: codec(),
    };
    Ok(Some((Arc::new(storage), recovered.batches)))
}

/// Starts `consumers` senders draining `rx` into `exporter`. They finish when the queue is closed
/// and empty; after `stop` is cancelled they count what is left as dropped instead of sending it.
pub fn spawn_senders(
    exporter: Arc<dyn Exporter>,
    rx: Arc<QueueReceiver>,
    consumers: usize,
    stop: CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    for _ in 0..consumers.max(1) {
        let exporter = exporter.clone();
        let rx = rx.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            while let Some(mut queued) = rx.recv().await {
                let traces = std::mem::replace(&mut queued.traces, Traces::XRay(Vec::new()));
                if stop.is_cancelled() {
                    abandon(&*exporter, &traces);
                } else {
                    exporter.export(traces, &stop).await;
                    queued.acknowledge();
                }
                drop(queued);
            }
        });
    }
}
