//! Exporters: `awsxray` (PutTraceSegments), `otlphttp` (OTLP/HTTP, optionally SigV4-signed),
//! `debug` (logs) and `file` (JSON lines).
//!
//! Each exporter instance is one [`queue::ExporterQueue`] shared by every pipeline naming it, and
//! a set of sender tasks that take batches off the queue and call the exporter's `export`. An
//! exporter accounts for every item it is given: sent, failed or dropped.

pub mod awsxray;
pub mod debug;
pub mod disklog;
pub mod file;
pub mod otlphttp;
pub mod queue;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::exporters::{QueueConfig, Sizer};
use crate::config::id::ComponentId;
use crate::config::{ExporterConfig, ExtensionConfig};
use crate::pipeline::Traces;
use crate::telemetry::Telemetry;

use self::queue::{QueueReceiver, QueueSettings};

/// A built exporter.
pub enum Exporter {
    AwsXray(awsxray::AwsXrayExporter),
    Debug(debug::DebugExporter),
    File(file::FileExporter),
    OtlpHttp(Box<otlphttp::OtlpHttpExporter>),
}

impl Exporter {
    /// Builds the exporter `id` (which may do IO: AWS region and credential set-up, opening files).
    /// `extensions` holds the authenticators an exporter's `auth` may name.
    pub async fn build(
        id: &ComponentId,
        cfg: &ExporterConfig,
        extensions: &BTreeMap<ComponentId, ExtensionConfig>,
        telemetry: Telemetry,
    ) -> anyhow::Result<(Exporter, QueueSettings, usize)> {
        let name = id.to_string();
        Ok(match cfg {
            ExporterConfig::AwsXray(c) => {
                let consumers = c
                    .sending_queue
                    .num_consumers
                    .or(c.num_workers)
                    .unwrap_or(10);
                let settings = network_queue(&c.sending_queue, consumers);
                let exporter = awsxray::AwsXrayExporter::new(&name, c, telemetry).await?;
                (Exporter::AwsXray(exporter), settings, consumers)
            }
            ExporterConfig::OtlpHttp(c) => {
                let consumers = c.sending_queue.num_consumers.unwrap_or(10);
                let settings = network_queue(&c.sending_queue, consumers);
                let signer = match &c.auth {
                    None => None,
                    Some(auth) => {
                        let ext: ComponentId = auth.authenticator.parse().map_err(|_| {
                            anyhow::format_err!(
                                "exporters.{name}.auth.authenticator: `{}` is not an extension id",
                                auth.authenticator
                            )
                        })?;
                        let Some(ExtensionConfig::SigV4Auth(sigv4)) = extensions.get(&ext) else {
                            anyhow::bail!(
                                "exporters.{name}.auth.authenticator: `{ext}` is not a `sigv4auth` extension"
                            );
                        };
                        let url = c.traces_url();
                        Some(
                            crate::extensions::sigv4auth::Signer::build(
                                &ext.to_string(),
                                &name,
                                sigv4,
                                &url,
                            )
                            .await?,
                        )
                    }
                };
                let exporter = otlphttp::OtlpHttpExporter::new(&name, c, signer, telemetry)?;
                (Exporter::OtlpHttp(Box::new(exporter)), settings, consumers)
            }
            ExporterConfig::Debug(c) => (
                Exporter::Debug(debug::DebugExporter::new(&name, c.verbosity, telemetry)),
                local_queue(),
                1,
            ),
            ExporterConfig::File(c) => (
                Exporter::File(file::FileExporter::open(&name, &c.path, telemetry).await?),
                local_queue(),
                1,
            ),
        })
    }

    /// Exports one batch, accounting for every item sent or failed. `stop` is cancelled at the
    /// shutdown deadline: items still pending then are added to `abandoned`, which the sender
    /// counts (dropped, or persisted when the batch is in a disk queue).
    pub async fn export(&self, traces: Traces, stop: &CancellationToken, abandoned: &Abandoned) {
        match self {
            Exporter::AwsXray(e) => e.export(traces, stop, abandoned).await,
            Exporter::Debug(e) => e.export(traces),
            Exporter::File(e) => e.export(traces).await,
            Exporter::OtlpHttp(e) => e.export(traces, stop, abandoned).await,
        }
    }
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
fn network_queue(q: &QueueConfig, consumers: usize) -> QueueSettings {
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
fn local_queue() -> QueueSettings {
    QueueSettings {
        capacity: 100,
        sizer: Sizer::Requests,
        block_on_overflow: true,
    }
}

/// Starts `consumers` senders draining `rx` into `exporter`. They finish when the queue is closed
/// and empty; after `stop` is cancelled they count what is left as dropped (or, behind a disk
/// queue, persisted) instead of sending it.
pub fn spawn_senders(
    exporter: Arc<Exporter>,
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
