//! The input of the next pipeline stage: [`Consumer`], a task processor's bounded channel, an
//! inline processor and the stage after it ([`InlineStage`]), an exporter's sending queue, or a
//! fan-out to several of them. It offers an awaiting
//! [`Consumer::send`] (backpressure, for callers that can wait, like OTLP servers and processors)
//! and a non-blocking [`Consumer::try_send`] (for the UDP receiver, which cannot push back); every
//! refusal is counted by the stage that refused.
//!
//! An inline stage runs its processor in the caller's call, for `send` and `try_send` alike, and
//! counts what it refuses (`processor_refused_items`) and what it removes on purpose
//! (`processor_dropped_items`); a refusal reaches the caller as the processor's `Refused`.
//!
//! Receivers reach it through `pipeline::TracesSender`, processors hold one as their next stage;
//! it knows exporter queues but nothing of receivers or processors.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::exporters::queue::ExporterQueue;
use crate::processors::InlineProcessor;
use crate::telemetry::{ProcessorRefusal, Telemetry};
use crate::traces::{Refused, Traces};

/// The input of a pipeline stage. Cloneable; a clone is another sender into the same stage.
#[derive(Clone)]
pub enum Consumer {
    /// A task processor's bounded input channel.
    Processor(ProcessorInput),
    /// An inline processor, then the next stage.
    Inline(Arc<InlineStage>),
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

/// An inline processor of a pipeline and the stage after it.
pub struct InlineStage {
    pub processor: Arc<dyn InlineProcessor>,
    /// The processor id and the pipeline id, the labels of its counters.
    pub name: Arc<str>,
    pub pipeline: Arc<str>,
    pub telemetry: Telemetry,
    pub next: Consumer,
}

impl InlineStage {
    /// Runs the processor and counts what it refused or removed.
    fn apply(&self, traces: Traces) -> Result<Option<Traces>, Refused> {
        let before = traces.item_count();
        match self.processor.process(traces) {
            Ok(out) => {
                let after = out.as_ref().map_or(0, Traces::item_count);
                if after < before {
                    self.telemetry.processor_dropped(
                        &self.name,
                        &self.pipeline,
                        self.processor.drop_reason(),
                        before - after,
                    );
                }
                Ok(out.filter(|t| !t.is_empty()))
            }
            Err(refused) => {
                let reason = match refused {
                    Refused::Full => ProcessorRefusal::Full,
                    Refused::Closed => ProcessorRefusal::Closed,
                    Refused::MemoryLimited => ProcessorRefusal::MemoryLimit,
                };
                self.telemetry
                    .processor_refused(&self.name, &self.pipeline, reason, before);
                Err(refused)
            }
        }
    }
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
            Consumer::Inline(stage) => match stage.apply(traces)? {
                Some(traces) => Box::pin(stage.next.send(traces)).await,
                None => Ok(()),
            },
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
            Consumer::Inline(stage) => match stage.apply(traces)? {
                Some(traces) => stage.next.try_send(traces),
                None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::queue::{self, QueueSettings, Sizer};
    use crate::processors::InlineProcessor;
    use crate::traces::{Segment, SegmentIds};

    /// Keeps the first `keep` documents, or refuses everything.
    struct Keep(Option<usize>);

    impl InlineProcessor for Keep {
        fn process(&self, traces: Traces) -> Result<Option<Traces>, Refused> {
            let Some(keep) = self.0 else {
                return Err(Refused::MemoryLimited);
            };
            match traces {
                Traces::XRay(mut s) => {
                    s.truncate(keep);
                    Ok(if s.is_empty() {
                        None
                    } else {
                        Some(Traces::XRay(s))
                    })
                }
                other => Ok(Some(other)),
            }
        }
    }

    fn docs(n: usize) -> Traces {
        let s = Segment::new(
            bytes::Bytes::from_static(b"{}"),
            SegmentIds::new("0123456789abcdef", "").unwrap(),
            std::time::Instant::now(),
        );
        Traces::XRay(vec![s; n])
    }

    fn stage(keep: Option<usize>, telemetry: &Telemetry) -> (Consumer, queue::QueueReceiver) {
        let (q, rx) = queue::queue(
            "debug",
            QueueSettings {
                capacity: 100,
                sizer: Sizer::Items,
                block_on_overflow: false,
            },
            telemetry.clone(),
            None,
        );
        let c = Consumer::Inline(Arc::new(InlineStage {
            processor: Arc::new(Keep(keep)),
            name: "p".into(),
            pipeline: "traces".into(),
            telemetry: telemetry.clone(),
            next: Consumer::Exporter(q),
        }));
        (c, rx)
    }

    #[tokio::test]
    async fn inline_refusals_and_drops_are_counted_for_send_and_try_send() {
        let t = Telemetry::new();
        let (refusing, _rx) = stage(None, &t);
        assert_eq!(refusing.try_send(docs(3)), Err(Refused::MemoryLimited));
        assert_eq!(refusing.send(docs(2)).await, Err(Refused::MemoryLimited));
        let (filtering, rx) = stage(Some(1), &t);
        assert_eq!(filtering.try_send(docs(4)), Ok(()));
        assert_eq!(filtering.send(docs(2)).await, Ok(()));
        assert_eq!(rx.recv().await.unwrap().traces.item_count(), 1);
        assert_eq!(rx.recv().await.unwrap().traces.item_count(), 1);
        let text = t.encode();
        assert!(
            text.contains(r#"xray_collector_processor_refused_items_total{processor="p",pipeline="traces",reason="memory_limit"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"xray_collector_processor_dropped_items_total{processor="p",pipeline="traces",reason="filtered"} 4"#),
            "{text}"
        );
        assert_eq!(t.summary().filtered, 4);
    }
}
