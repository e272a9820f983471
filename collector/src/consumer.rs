//! The input of the next pipeline stage: [`Consumer`], a processor's bounded channel, an
//! exporter's sending queue, or a fan-out to several of them. It offers an awaiting
//! [`Consumer::send`] (backpressure, for callers that can wait, like OTLP servers and processors)
//! and a non-blocking [`Consumer::try_send`] (for the UDP receiver, which cannot push back); every
//! refusal is counted by the stage that refused.
//!
//! Receivers reach it through `pipeline::TracesSender`, processors hold one as their next stage;
//! it knows exporter queues but nothing of receivers or processors.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::exporters::queue::ExporterQueue;
use crate::telemetry::{ProcessorRefusal, Telemetry};
use crate::traces::{Refused, Traces};

/// The input of a pipeline stage. Cloneable; a clone is another sender into the same stage.
#[derive(Clone)]
pub enum Consumer {
    /// A processor's bounded input channel.
    Processor(ProcessorInput),
    /// An exporter's sending queue.
    Exporter(ExporterQueue),
    /// Several stages (pipelines sharing a receiver, or a pipeline with several exporters). Each
    /// gets its own copy; segment bodies are shared, not copied.
    Fanout(Arc<[Consumer]>),
}

/// The bounded channel in front of a processor, with the labels its refusals are counted under.
#[derive(Clone)]
pub struct ProcessorInput {
    pub tx: mpsc::Sender<Traces>,
    pub processor: Arc<str>,
    pub pipeline: Arc<str>,
    pub telemetry: Telemetry,
}

impl Consumer {
    /// Builds a consumer over several stages; one stage is used directly.
    pub fn fanout(mut stages: Vec<Consumer>) -> Consumer {
        if stages.len() == 1 {
            stages.remove(0)
        } else {
            Consumer::Fanout(stages.into())
        }
    }

    /// Passes `traces` on, waiting for room. Fails only if a stage has shut down, or an exporter
    /// queue that refuses when full (the collector's default) is full.
    pub async fn send(&self, traces: Traces) -> Result<(), Refused> {
        match self {
            Consumer::Processor(input) => input.tx.send(traces).await.map_err(|_| Refused::Closed),
            Consumer::Exporter(queue) => queue.send(traces).await,
            Consumer::Fanout(stages) => {
                let mut result = Ok(());
                let last = stages.len().saturating_sub(1);
                let mut traces = Some(traces);
                for (i, stage) in stages.iter().enumerate() {
                    let copy = if i == last {
                        traces.take()
                    } else {
                        traces.clone()
                    };
                    if let Some(copy) = copy {
                        if let Err(e) = Box::pin(stage.send(copy)).await {
                            result = Err(e);
                        }
                    }
                }
                result
            }
        }
    }

    /// Passes `traces` on without waiting. A full processor channel refuses and counts the items
    /// (`processor_refused_items`); a full exporter queue counts them as dropped.
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        match self {
            Consumer::Processor(input) => match input.tx.try_send(traces) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(t)) => {
                    input.telemetry.processor_refused(
                        &input.processor,
                        &input.pipeline,
                        ProcessorRefusal::Full,
                        t.item_count(),
                    );
                    Err(Refused::Full)
                }
                Err(mpsc::error::TrySendError::Closed(t)) => {
                    input.telemetry.processor_refused(
                        &input.processor,
                        &input.pipeline,
                        ProcessorRefusal::Closed,
                        t.item_count(),
                    );
                    Err(Refused::Closed)
                }
            },
            Consumer::Exporter(queue) => queue.try_send(traces),
            Consumer::Fanout(stages) => {
                let mut result = Ok(());
                let last = stages.len().saturating_sub(1);
                let mut traces = Some(traces);
                for (i, stage) in stages.iter().enumerate() {
                    let copy = if i == last {
                        traces.take()
                    } else {
                        traces.clone()
                    };
                    if let Some(copy) = copy {
                        if let Err(e) = stage.try_send(copy) {
                            result = Err(e);
                        }
                    }
                }
                result
            }
        }
    }
}
