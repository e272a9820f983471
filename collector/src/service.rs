//! The topology: builds the components a validated config names, wires the pipelines, runs until a
//! shutdown signal, then stops in order within a deadline.
//!
//! Wiring, from the end of a pipeline back to its start: every exporter instance gets one sending
//! queue and its senders; each pipeline gets its own processor tasks, each reading a bounded
//! channel and sending to the next stage; every receiver instance is built once and fans out to the
//! first stage of each pipeline naming it (as the collector shares one socket between pipelines).
//!
//! Shutdown: the health check turns 503; receivers stop (draining their socket buffers) and drop
//! their senders; processors see their input close, flush and drop theirs; exporter queues close
//! once empty and the senders finish. If the deadline passes first, senders stop and count what
//! they hold as dropped (`reason="shutdown_deadline"`), or, behind a persistent queue, as
//! persisted (it stays on disk for the next start). The process then exits 0.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::id::ComponentId;
use crate::config::{Config, ExporterConfig, ExtensionConfig, ProcessorConfig, ReceiverConfig};
use crate::exporters::queue::{self, ExporterQueue};
use crate::exporters::{self, Exporter};
use crate::extensions::health_check::{self, Health};
use crate::pipeline::{Consumer, ProcessorInput, TracesSender};
use crate::processors::batch;
use crate::receivers::awsxray::proxy::SamplingProxy;
use crate::receivers::{awsxray, otlp};
use crate::telemetry::{Summary, Telemetry, server};

/// Messages (receiver bursts or batches) a processor's input channel holds.
const PROCESSOR_INPUT: usize = 1024;

/// Settings that come from the command line rather than the config file.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// How long shutdown may take to flush what is queued.
    pub shutdown_timeout: Duration,
}

/// Runs the collector until `shutdown` completes, then flushes and returns the totals.
pub async fn run(
    config: Config,
    settings: RunSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let telemetry = Telemetry::new();
    let stop_servers = CancellationToken::new();
    let health = Health::default();

    if let Some(address) = config.service.telemetry.metrics.listen_address() {
        let listener = server::bind(&address, "service.telemetry.metrics").await?;
        tracing::info!(address = %server::local(&listener), "Serving metrics on /metrics.");
        tokio::spawn(server::serve(
            listener,
            server::metrics_handler(telemetry.clone()),
            stop_servers.clone(),
        ));
    }
    for id in &config.service.extensions {
        match config.extensions.get(id) {
            Some(ExtensionConfig::HealthCheck(c)) => {
                health_check::start(&id.to_string(), c, health.clone(), stop_servers.clone())
                    .await?
            }
            // Opened by the exporters whose `sending_queue.storage` names it.
            Some(ExtensionConfig::FileStorage(_)) => {}
            // Built for each exporter whose `auth.authenticator` names it.
            Some(ExtensionConfig::SigV4Auth(_)) => {}
            None => anyhow::bail!("extension `{id}` is not defined"),
        }
    }

    // Exporters used by any pipeline: one queue and one set of senders each.
    let hard_stop = CancellationToken::new();
    let stop_receivers = CancellationToken::new();
    let mut exporter_tasks = JoinSet::new();
    let mut queues: BTreeMap<ComponentId, ExporterQueue> = BTreeMap::new();
    for pipeline in config.service.pipelines.values() {
        for id in &pipeline.exporters {
            if queues.contains_key(id) {
                continue;
            }
            let cfg = config
                .exporters
                .get(id)
                .ok_or_else(|| anyhow::format_err!("exporter `{id}` is not defined"))?;
            let name = id.to_string();
            let (exporter, settings, consumers) =
                Exporter::build(id, cfg, &config.extensions, telemetry.clone()).await?;
            let exporter = Arc::new(exporter);
            let (storage, recovered) =
                open_storage(&config, id, cfg, &exporter, &telemetry).await?;
            let (q, rx) = queue::queue(&name, settings, telemetry.clone(), storage);
            if let Some(recovered) = recovered {
                q.replay(recovered, stop_receivers.clone());
            }
            exporters::spawn_senders(
                exporter,
                Arc::new(rx),
                consumers,
                hard_stop.clone(),
                &mut exporter_tasks,
            );
            queues.insert(id.clone(), q);
        }
    }

    // Pipelines, wired back to front.
    let mut processor_tasks = JoinSet::new();
    let mut receiver_targets: BTreeMap<ComponentId, Vec<Consumer>> = BTreeMap::new();
    for (pid, pipeline) in &config.service.pipelines {
        let mut next = Consumer::fanout(
            pipeline
                .exporters
                .iter()
                .filter_map(|id| queues.get(id).cloned().map(Consumer::Exporter))
                .collect(),
        );
        for id in pipeline.processors.iter().rev() {
            let Some(ProcessorConfig::Batch(cfg)) = config.processors.get(id) else {
                anyhow::bail!("processor `{id}` is not defined");
            };
            let (tx, rx) = mpsc::channel(PROCESSOR_INPUT);
            let processor: Arc<str> = id.to_string().into();
            let pipeline_name: Arc<str> = pid.to_string().into();
            processor_tasks.spawn(batch::run(
                processor.clone(),
                pipeline_name.clone(),
                cfg.clone(),
                rx,
                next,
                telemetry.clone(),
            ));
            next = Consumer::Processor(ProcessorInput {
                tx,
                processor,
                pipeline: pipeline_name,
                telemetry: telemetry.clone(),
            });
        }
        for id in &pipeline.receivers {
            receiver_targets
                .entry(id.clone())
                .or_default()
                .push(next.clone());
        }
    }
    // From here on only the pipelines hold the queues, so they close when the pipelines end.
    drop(queues);

    let mut receiver_tasks = JoinSet::new();
    for (id, targets) in receiver_targets {
        let name = id.to_string();
        let sender = TracesSender::new(&name, Consumer::fanout(targets), telemetry.clone());
        match config.receivers.get(&id) {
            Some(ReceiverConfig::AwsXray(c)) => {
                let sockets = awsxray::bind(&name, c).await?;
                if let Some(proxy) = &c.proxy_server {
                    // The sampling proxy carries no trace data: it stops with the other servers.
                    let proxy = SamplingProxy::build(&name, proxy, telemetry.clone()).await?;
                    tokio::spawn(proxy.run(stop_servers.clone()));
                }
                for socket in sockets {
                    receiver_tasks.spawn(awsxray::run(
                        socket,
                        sender.clone(),
                        stop_receivers.clone(),
                    ));
                }
            }
            Some(ReceiverConfig::Otlp(c)) => {
                if let Some(grpc) = &c.protocols.grpc {
                    let server = otlp::grpc::GrpcServer::bind(&name, grpc).await?;
                    let (sender, stop, name) =
                        (sender.clone(), stop_receivers.clone(), name.clone());
                    receiver_tasks.spawn(async move {
                        if let Err(e) = server.run(sender, stop).await {
                            tracing::error!(receiver = %name, error = %e, "OTLP/gRPC server failed.");
                        }
                    });
                }
                if let Some(http) = &c.protocols.http {
                    let server = otlp::http::HttpServer::bind(&name, http).await?;
                    receiver_tasks.spawn(server.run(sender, stop_receivers.clone()));
                }
            }
            None => anyhow::bail!("receiver `{id}` is not defined"),
        }
    }

    health.set_ready(true);
    tracing::info!("Everything is ready. Begin running and processing data.");
    shutdown.await;

    tracing::info!(
        deadline_secs = settings.shutdown_timeout.as_secs_f64(),
        "Shutdown requested: receivers stop, queued data is flushed."
    );
    health.set_ready(false);
    stop_receivers.cancel();
    let deadline = Instant::now() + settings.shutdown_timeout;
    let flushed = tokio::time::timeout_at(deadline, async {
        while receiver_tasks.join_next().await.is_some() {}
        while processor_tasks.join_next().await.is_some() {}
        while exporter_tasks.join_next().await.is_some() {}
    })
    .await;
    if flushed.is_err() {
        tracing::warn!(
            "Shutdown deadline reached; what is still queued or in flight is dropped and counted."
        );
        hard_stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while receiver_tasks.join_next().await.is_some() {}
            while processor_tasks.join_next().await.is_some() {}
            while exporter_tasks.join_next().await.is_some() {}
        })
        .await;
    }
    stop_servers.cancel();
    let s = telemetry.summary();
    let level_ok = s.dropped == 0 && s.failed == 0;
    if level_ok {
        tracing::info!(
            received = s.received,
            accepted = s.accepted,
            refused = s.refused,
            sent = s.sent,
            failed = s.failed,
            dropped = s.dropped,
            persisted = s.persisted,
            "Shutdown complete."
        );
    } else {
        tracing::warn!(
            received = s.received,
            accepted = s.accepted,
            refused = s.refused,
            sent = s.sent,
            failed = s.failed,
            dropped = s.dropped,
            persisted = s.persisted,
            "Shutdown complete; some data was not delivered."
        );
    }
    Ok(s)
}

/// Opens the disk log of a persistent queue (`sending_queue.storage`), in a sub-directory of the
/// `file_storage` directory named after the exporter, and returns the batches to send again.
/// Reading the log is blocking IO: it runs in `spawn_blocking`.
async fn open_storage(
    config: &Config,
    id: &ComponentId,
    cfg: &ExporterConfig,
    exporter: &Arc<Exporter>,
    telemetry: &Telemetry,
) -> anyhow::Result<(
    Option<Arc<queue::Storage>>,
    Option<crate::exporters::disklog::Replay>,
)> {
    let storage = match cfg {
        ExporterConfig::AwsXray(c) => &c.sending_queue.storage,
        ExporterConfig::OtlpHttp(c) => &c.sending_queue.storage,
        ExporterConfig::Debug(_) | ExporterConfig::File(_) => return Ok((None, None)),
    };
    let Some(name) = storage else {
        return Ok((None, None));
    };
    let extension: ComponentId = name
        .parse()
        .map_err(|_| anyhow::format_err!("storage `{name}` is not an extension id"))?;
    let Some(ExtensionConfig::FileStorage(fs)) = config.extensions.get(&extension) else {
        anyhow::bail!("storage `{name}` is not a `file_storage` extension");
    };
    let dir = std::path::Path::new(&fs.directory).join(id.to_string().replace('/', "_"));
    let (max_size_bytes, fsync, at) = (fs.max_size_bytes, fs.fsync, dir.clone());
    let (log, recovered) = tokio::task::spawn_blocking(move || {
        crate::exporters::disklog::DiskLog::open(&at, max_size_bytes, fsync)
    })
    .await?
    .map_err(|e| anyhow::format_err!("opening the disk queue {}: {e}", dir.display()))?;
    telemetry.exporter_storage_truncated(&id.to_string(), recovered.truncated_bytes);
    telemetry.exporter_storage_lost(&id.to_string(), recovered.lost_records);
    if recovered.truncated_bytes > 0 {
        tracing::warn!(exporter = %id, bytes = recovered.truncated_bytes, records = recovered.lost_records, "Cut a torn or corrupt record off the disk queue.");
    }
    if let Some(reason) = recovered.ack_reset {
        telemetry.exporter_storage_ack_reset(&id.to_string(), &reason.to_string());
        tracing::warn!(exporter = %id, %reason, batches = recovered.replay.batches(), "The disk queue's ack file is {reason}; every batch on disk is sent again (some may be duplicates).");
    }
    if recovered.replay.batches() > 0 {
        tracing::info!(exporter = %id, batches = recovered.replay.batches(), records = recovered.replay.records(), "Sending again what the disk queue holds from the previous run.");
    }
    // The awsxray exporter stores X-Ray documents (OTLP spans are translated, and what cannot
    // be is counted, before the batch is written); otlphttp stores batches as they are.
    let (to_records, from_records): (queue::ToRecords, queue::FromRecords) = match &**exporter {
        Exporter::AwsXray(_) => {
            let exporter = exporter.clone();
            (
                Arc::new(move |traces| {
                    let documents = match &*exporter {
                        Exporter::AwsXray(e) => e.documents(traces),
                        // The match above chose this arm for awsxray exporters only.
                        _ => unreachable!("an awsxray disk queue on another exporter"),
                    };
                    let records = documents.iter().map(|d| d.body.clone()).collect();
                    (crate::pipeline::Traces::XRay(documents), records)
                }),
                Arc::new(queue::documents_from_records),
            )
        }
        Exporter::OtlpHttp(_) => (
            Arc::new(queue::records_as_is),
            Arc::new(queue::batch_from_records),
        ),
        Exporter::Debug(_) | Exporter::File(_) => anyhow::bail!(
            "exporter `{id}`: sending_queue.storage is supported by awsxray and otlphttp exporters only"
        ),
    };
    Ok((
        Some(Arc::new(queue::Storage {
            log: std::sync::Mutex::new(log),
            to_records,
            from_records,
        })),
        Some(recovered.replay),
    ))
}
