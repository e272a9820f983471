//! Exporters: `awsxray` (PutTraceSegments), `otlphttp` (OTLP/HTTP, optionally SigV4-signed),
//! `debug` (logs) and `file` (JSON lines).
//!
//! Each exporter instance is one [`queue::ExporterQueue`] shared by every pipeline naming it, and
//! a set of sender tasks that take batches off the queue and call the exporter's `export`. An
//! exporter accounts for every item it is given as sent or failed; what the shutdown deadline
//! leaves unsent it adds to the batch's [`Abandoned`], and the sender ends the batch with
//! `queue::Queued::finish`, which counts those items as dropped, or, for a batch in a persistent
//! queue, as persisted (the batch stays in its disk log, [`disklog`]), and acknowledges a
//! delivered batch on disk. [`open_storage`] opens a persistent queue's log for an exporter's
//! build.
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

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::component::{AsAny, BoxFuture, Checker, Resolve};
use crate::config::id::ComponentId;
use crate::telemetry::Telemetry;
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

/// The disk under a persistent queue, and the batches a previous run left unacknowledged in it
/// (read back one at a time as the queue has room).
pub type OpenedStorage = (Arc<Storage>, disklog::Replay);

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

    /// Exports one batch, accounting for every item sent or failed. `stop` is cancelled at the
    /// shutdown deadline: items still pending then are added to `abandoned`, which the sender
    /// counts (dropped, or persisted when the batch is in a disk queue).
    fn export<'a>(
        &'a self,
        traces: Traces,
        stop: &'a CancellationToken,
        abandoned: &'a Abandoned,
    ) -> BoxFuture<'a, ()>;
}

/// Items of one batch that an export gave up at the shutdown deadline.
#[derive(Debug, Default)]
pub struct Abandoned(std::sync::atomic::AtomicUsize);

impl Abandoned {
    /// Adds `n` abandoned items.
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The items abandoned so far.
    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
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
/// `file_storage` directory named after the exporter, with the exporter's disk `codec`; logs and
/// counts what recovery found and returns the batches to send again. Opening reads the log: it
/// runs in `spawn_blocking`.
pub async fn open_storage(
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
    let (max_size_bytes, fsync, at) = (fs.max_size_bytes, fs.fsync, dir.clone());
    let (log, recovered) =
        tokio::task::spawn_blocking(move || disklog::DiskLog::open(&at, max_size_bytes, fsync))
            .await?
            .map_err(|e| anyhow::format_err!("opening the disk queue {}: {e}", dir.display()))?;
    let name = id.to_string();
    telemetry.exporter_storage_truncated(&name, recovered.truncated_bytes);
    telemetry.exporter_storage_lost(&name, recovered.lost_records);
    if recovered.truncated_bytes > 0 {
        tracing::warn!(exporter = %id, bytes = recovered.truncated_bytes, records = recovered.lost_records, "Cut a torn or corrupt record off the disk queue.");
    }
    if let Some(reason) = recovered.ack_reset {
        telemetry.exporter_storage_ack_reset(&name, reason);
        tracing::warn!(exporter = %id, %reason, batches = recovered.replay.batches(), "The disk queue's ack file is {reason}; every batch on disk is sent again (some may be duplicates).");
    }
    if recovered.replay.batches() > 0 {
        tracing::info!(exporter = %id, batches = recovered.replay.batches(), records = recovered.replay.records(), "Sending again what the disk queue holds from the previous run.");
    }
    let storage = Storage {
        log: std::sync::Mutex::new(log),
        codec: codec(),
    };
    Ok(Some((Arc::new(storage), recovered.replay)))
}

/// Starts `consumers` senders draining `rx` into `exporter`. They finish when the queue is closed
/// and empty; after `stop` is cancelled they count what is left as dropped (or, behind a disk
/// queue, persisted) instead of sending it.
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
                let abandoned = Abandoned::default();
                if stop.is_cancelled() {
                    abandoned.add(traces.item_count());
                } else {
                    exporter.export(traces, &stop, &abandoned).await;
                }
                queued.finish(abandoned.get()).await;
            }
        });
    }
}
