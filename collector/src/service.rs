//! The topology: builds the components a validated config names, wires the pipelines, runs until a
//! shutdown signal, then stops in order within a deadline.
//!
//! Wiring, from the end of a pipeline back to its start: every exporter instance gets one sending
//! queue and its senders; each pipeline gets its own processor instances (built through
//! `ProcessorConfig::build`): a task processor reads a bounded channel and sends to the next
//! stage, an inline processor runs in its caller's call (`consumer::InlineStage`); after the last
//! inline processor that changes resources, the pipeline gets the X-Ray stamping stage
//! (`processors::stamp`). Every receiver instance is built once and fans out to the first stage of
//! each pipeline naming it (as the collector shares one socket between pipelines).
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

use crate::config::Config;
use crate::config::id::ComponentId;
use crate::consumer::{Consumer, InlineStage, ProcessorInput};
use crate::exporters::queue::{self, ExporterQueue};
use crate::exporters::{self, Built};
use crate::extensions::{ExtensionContext, Health};
use crate::pipeline::TracesSender;
use crate::processors::{BuildContext, Processor, ProcessorSlot};
use crate::receivers::ReceiverContext;
use crate::telemetry::{Summary, Telemetry, server};

/// Messages (receiver bursts or batches) a processor's input channel holds.
const PROCESSOR_INPUT: usize = 1024;

/// Settings that come from the command line rather than the config file.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// How long shutdown may take to flush what is queued.
    pub shutdown_timeout: Duration,
    /// Pipelines of the config skipped on the `--skip-unsupported-pipelines` opt-in: logged at
    /// WARN and shown as `xray_collector_skipped_pipelines{pipeline}` on `/metrics`.
    pub skipped_pipelines: Vec<String>,
}

/// Runs the collector until `shutdown` completes, then flushes and returns the totals.
pub async fn run(
    config: Config,
    settings: RunSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let telemetry = Telemetry::new();
    for pipeline in &settings.skipped_pipelines {
        telemetry.skipped_pipeline(pipeline);
        tracing::warn!(pipeline = %pipeline, "Pipeline skipped on --skip-unsupported-pipelines: it does not run (see xray_collector_skipped_pipelines).");
    }
    let stop_servers = CancellationToken::new();
    let health = Health::default();
    start_metrics(&config, &telemetry, &stop_servers).await?;
    start_extensions(&config, &health, &telemetry, &stop_servers).await?;

    let hard_stop = CancellationToken::new();
    let stop_receivers = CancellationToken::new();
    let mut exporter_tasks = JoinSet::new();
    let queues = start_exporters(
        &config,
        &telemetry,
        &hard_stop,
        &stop_receivers,
        &mut exporter_tasks,
    )
    .await?;
    let mut processor_tasks = JoinSet::new();
    let receiver_targets = wire_pipelines(
        &config,
        &telemetry,
        queues,
        &stop_servers,
        &mut processor_tasks,
    )?;
    let mut receivers = ReceiverContext {
        telemetry: telemetry.clone(),
        stop_receivers,
        stop_servers: stop_servers.clone(),
        tasks: JoinSet::new(),
    };
    start_receivers(&config, receiver_targets, &mut receivers).await?;

    health.set_ready(true);
    tracing::info!("Everything is ready. Begin running and processing data.");
    shutdown.await;

    tracing::info!(
        deadline_secs = settings.shutdown_timeout.as_secs_f64(),
        "Shutdown requested: receivers stop, queued data is flushed."
    );
    health.set_ready(false);
    receivers.stop_receivers.cancel();
    let mut receiver_tasks = receivers.tasks;
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
    log_summary(&s);
    Ok(s)
}

/// Serves `/metrics` unless `service.telemetry.metrics` turns it off.
async fn start_metrics(
    config: &Config,
    telemetry: &Telemetry,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    if let Some(address) = config.service.telemetry.metrics.listen_address() {
        let listener = server::bind(&address, "service.telemetry.metrics").await?;
        tracing::info!(address = %server::local(&listener), "Serving metrics on /metrics.");
        tokio::spawn(server::serve(
            listener,
            server::metrics_handler(telemetry.clone()),
            "service.telemetry.metrics",
            stop.clone(),
        ));
    }
    Ok(())
}

/// Starts the extensions `service.extensions` lists.
async fn start_extensions(
    config: &Config,
    health: &Health,
    telemetry: &Telemetry,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let ctx = ExtensionContext {
        health: health.clone(),
        stop: stop.clone(),
        telemetry: telemetry.clone(),
    };
    for id in &config.service.extensions {
        let extension = config
            .extensions
            .get(id)
            .ok_or_else(|| anyhow::format_err!("extension `{id}` is not defined"))?;
        extension.start(id, &ctx).await?;
    }
    Ok(())
}

/// Builds every exporter a pipeline uses: one queue and one set of senders each. A persistent
/// queue reads back what its disk log holds as it has room, until `stop_receivers` (the start of
/// shutdown) is cancelled; the rest stays on disk.
async fn start_exporters(
    config: &Config,
    telemetry: &Telemetry,
    hard_stop: &CancellationToken,
    stop_receivers: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<BTreeMap<ComponentId, ExporterQueue>> {
    let mut queues = BTreeMap::new();
    for pipeline in config.service.pipelines.values() {
        for id in &pipeline.exporters {
            if queues.contains_key(id) {
                continue;
            }
            let cfg = config
                .exporters
                .get(id)
                .ok_or_else(|| anyhow::format_err!("exporter `{id}` is not defined"))?;
            let Built {
                exporter,
                queue: settings,
                consumers,
                storage,
            } = cfg.build(id, telemetry.clone()).await?;
            let (storage, recovered) = match storage {
                Some((storage, recovered)) => (Some(storage), Some(recovered)),
                None => (None, None),
            };
            let (q, rx) = queue::queue(&id.to_string(), settings, telemetry.clone(), storage);
            if let Some(recovered) = recovered {
                q.replay(recovered, stop_receivers.clone());
            }
            exporters::spawn_senders(exporter, Arc::new(rx), consumers, hard_stop.clone(), tasks);
            queues.insert(id.clone(), q);
        }
    }
    Ok(queues)
}

/// Wires each pipeline back to front (exporter queues, then its own processor instances);
/// returns, for each receiver, the first stage of every pipeline naming it. Only the pipelines
/// hold the queues afterwards, so the queues close when the pipelines end.
fn wire_pipelines(
    config: &Config,
    telemetry: &Telemetry,
    queues: BTreeMap<ComponentId, ExporterQueue>,
    stop: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<BTreeMap<ComponentId, Vec<Consumer>>> {
    let mut receiver_targets: BTreeMap<ComponentId, Vec<Consumer>> = BTreeMap::new();
    for (pid, pipeline) in &config.service.pipelines {
        let pipeline_name: Arc<str> = pid.to_string().into();
        // Build front to back (a build may read its position), wire back to front.
        let mut built = Vec::with_capacity(pipeline.processors.len());
        for (position, id) in pipeline.processors.iter().enumerate() {
            let Some(cfg) = config.processors.get(id) else {
                anyhow::bail!("processor `{id}` is not defined");
            };
            let processor: Arc<str> = id.to_string().into();
            let ctx = BuildContext {
                processor: processor.clone(),
                pipeline: pipeline_name.clone(),
                telemetry: telemetry.clone(),
                processors: &pipeline.processors,
                position,
                stop: stop.clone(),
            };
            built.push((processor, cfg.build(&ctx)?));
        }
        let last_resource_change = built.iter().rposition(|(_, p)| match p {
            Processor::Inline(p) => p.changes_resource(),
            Processor::Task(_) => false,
        });
        let mut next = Consumer::fanout(
            pipeline
                .exporters
                .iter()
                .filter_map(|id| queues.get(id).cloned().map(Consumer::Exporter))
                .collect(),
        );
        for (position, (processor, built)) in built.into_iter().enumerate().rev() {
            if Some(position) == last_resource_change {
                next = Consumer::Inline(Arc::new(InlineStage {
                    processor: Arc::new(crate::processors::stamp::Stamp),
                    name: "xray_stamp".into(),
                    pipeline: pipeline_name.clone(),
                    telemetry: telemetry.clone(),
                    next,
                }));
            }
            next = match built {
                Processor::Task(spawn) => {
                    let (tx, rx) = mpsc::channel(PROCESSOR_INPUT);
                    spawn(
                        ProcessorSlot {
                            processor: processor.clone(),
                            pipeline: pipeline_name.clone(),
                            input: rx,
                            next,
                            telemetry: telemetry.clone(),
                        },
                        tasks,
                    );
                    Consumer::Processor(ProcessorInput {
                        tx,
                        processor,
                        pipeline: pipeline_name.clone(),
                        telemetry: telemetry.clone(),
                    })
                }
                Processor::Inline(inline) => Consumer::Inline(Arc::new(InlineStage {
                    processor: inline,
                    name: processor,
                    pipeline: pipeline_name.clone(),
                    telemetry: telemetry.clone(),
                    next,
                })),
            };
        }
        for id in &pipeline.receivers {
            receiver_targets
                .entry(id.clone())
                .or_default()
                .push(next.clone());
        }
    }
    Ok(receiver_targets)
}

/// Starts every receiver a pipeline uses, each feeding the pipelines naming it.
async fn start_receivers(
    config: &Config,
    targets: BTreeMap<ComponentId, Vec<Consumer>>,
    ctx: &mut ReceiverContext,
) -> anyhow::Result<()> {
    for (id, targets) in targets {
        let sender = TracesSender::new(
            &id.to_string(),
            Consumer::fanout(targets),
            ctx.telemetry.clone(),
        );
        let Some(cfg) = config.receivers.get(&id) else {
            anyhow::bail!("receiver `{id}` is not defined");
        };
        cfg.start(&id, sender, ctx).await?;
    }
    Ok(())
}

/// Logs the totals at shutdown; a warning when something was not delivered.
fn log_summary(s: &Summary) {
    if s.dropped == 0 && s.failed == 0 {
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
}
