//! The `batch` processor: gathers items until `send_batch_size` or `timeout` (counted from the
//! first item of a batch), and splits at `send_batch_max_size`. X-Ray documents and OTLP spans
//! are batched separately. It sends downstream with an awaiting `send`, so a slow exporter that
//! blocks slows the processor, whose full input is then refused (and counted) by the receiver.
//! When its input closes, it flushes what it holds and stops.

pub mod config;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use tokio::sync::mpsc;
use tokio::time::Instant;

use tokio::task::JoinSet;

use self::config::BatchConfig;
use super::{BuildContext, BuildError, Processor, ProcessorConfig, ProcessorSlot};
use crate::consumer::Consumer;
use crate::telemetry::Telemetry;
use crate::traces::{Segment, Traces};

impl ProcessorConfig for BatchConfig {
    fn build(&self, _ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        let cfg = self.clone();
        Ok(Processor::Task(Box::new(
            move |slot: ProcessorSlot, tasks: &mut JoinSet<()>| {
                tasks.spawn(run(
                    slot.processor,
                    slot.pipeline,
                    cfg,
                    slot.input,
                    slot.next,
                    slot.telemetry,
                ));
            },
        )))
    }
}

/// Runs the processor `processor` of pipeline `pipeline` until its input closes.
pub async fn run(
    processor: Arc<str>,
    pipeline: Arc<str>,
    cfg: BatchConfig,
    mut input: mpsc::Receiver<Traces>,
    next: Consumer,
    telemetry: Telemetry,
) {
    let mut b = Batcher {
        cfg,
        xray: Vec::new(),
        otlp: Vec::new(),
        otlp_spans: 0,
    };
    let mut deadline: Option<Instant> = None;
    loop {
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = input.recv() => match msg {
                Some(traces) => {
                    if b.is_empty() {
                        deadline = Some(Instant::now() + b.cfg.timeout.max(Duration::ZERO));
                    }
                    b.add(traces);
                    for out in b.take_full() {
                        send(&next, out, &processor, &pipeline, "size", &telemetry).await;
                    }
                    if b.is_empty() {
                        deadline = None;
                    } else if b.cfg.timeout.is_zero() {
                        for out in b.take_all() {
                            send(&next, out, &processor, &pipeline, "timeout", &telemetry).await;
                        }
                        deadline = None;
                    }
                }
                None => {
                    for out in b.take_all() {
                        send(&next, out, &processor, &pipeline, "shutdown", &telemetry).await;
                    }
                    return;
                }
            },
            _ = timer => {
                for out in b.take_all() {
                    send(&next, out, &processor, &pipeline, "timeout", &telemetry).await;
                }
                deadline = None;
            }
        }
    }
}

async fn send(
    next: &Consumer,
    traces: Traces,
    processor: &str,
    pipeline: &str,
    trigger: &str,
    telemetry: &Telemetry,
) {
    telemetry.processor_batch_sent(processor, pipeline, trigger);
    // Refusals are counted by the stage that refuses (an exporter queue counts drops).
    let _ = next.send(traces).await;
}

struct Batcher {
    cfg: BatchConfig,
    xray: Vec<Segment>,
    otlp: Vec<ResourceSpans>,
    otlp_spans: usize,
}

impl Batcher {
    fn is_empty(&self) -> bool {
        self.xray.is_empty() && self.otlp_spans == 0
    }

    fn add(&mut self, traces: Traces) {
        match traces {
            Traces::XRay(mut segments) => self.xray.append(&mut segments),
            Traces::Otlp(resource_spans) => {
                for rs in resource_spans {
                    self.otlp_spans += span_count(&rs);
                    self.otlp.push(rs);
                }
            }
        }
    }

    fn max(&self) -> usize {
        if self.cfg.send_batch_max_size > 0 {
            self.cfg.send_batch_max_size
        } else {
            usize::MAX
        }
    }

    /// Batches that reached `send_batch_size`, each at most `send_batch_max_size`.
    fn take_full(&mut self) -> Vec<Traces> {
        let size = self.cfg.send_batch_size.max(1);
        let mut out = Vec::new();
        while self.xray.len() >= size {
            let n = self.xray.len().min(self.max());
            let rest = self.xray.split_off(n);
            out.push(Traces::XRay(std::mem::replace(&mut self.xray, rest)));
        }
        while self.otlp_spans >= size {
            out.push(Traces::Otlp(self.take_otlp(self.max())));
        }
        out
    }

    /// Everything held, in batches of at most `send_batch_max_size`.
    fn take_all(&mut self) -> Vec<Traces> {
        let mut out = Vec::new();
        while !self.xray.is_empty() {
            let n = self.xray.len().min(self.max());
            let rest = self.xray.split_off(n);
            out.push(Traces::XRay(std::mem::replace(&mut self.xray, rest)));
        }
        while self.otlp_spans > 0 {
            out.push(Traces::Otlp(self.take_otlp(self.max())));
        }
        out
    }

    /// Takes up to `max` spans, splitting a resource's scope spans when needed.
    fn take_otlp(&mut self, max: usize) -> Vec<ResourceSpans> {
        let mut out = Vec::new();
        let mut taken = 0;
        while taken < max && !self.otlp.is_empty() {
            let n = span_count(&self.otlp[0]);
            if taken + n <= max {
                out.push(self.otlp.remove(0));
                taken += n;
                continue;
            }
            // Split: move `max - taken` spans of the first resource into a copy of it.
            let want = max - taken;
            let first = &mut self.otlp[0];
            let mut part = ResourceSpans {
                resource: first.resource.clone(),
                scope_spans: Vec::new(),
                schema_url: first.schema_url.clone(),
            };
            let mut moved = 0;
            for ss in &mut first.scope_spans {
                if moved == want {
                    break;
                }
                let k = ss.spans.len().min(want - moved);
                let spans: Vec<_> = ss.spans.drain(..k).collect();
                moved += spans.len();
                part.scope_spans.push(ScopeSpans {
                    scope: ss.scope.clone(),
                    spans,
                    schema_url: ss.schema_url.clone(),
                });
            }
            first.scope_spans.retain(|ss| !ss.spans.is_empty());
            out.push(part);
            taken += moved;
        }
        self.otlp_spans -= taken;
        out
    }
}

fn span_count(rs: &ResourceSpans) -> usize {
    rs.scope_spans.iter().map(|ss| ss.spans.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::SegmentIds;
    use bytes::Bytes;
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn segs(n: usize) -> Traces {
        let s = Segment::new(
            Bytes::from_static(b"{}"),
            SegmentIds::new("0123456789abcdef", "").unwrap(),
            std::time::Instant::now(),
        );
        Traces::XRay(vec![s; n])
    }

    fn batcher(size: usize, max: usize) -> Batcher {
        Batcher {
            cfg: BatchConfig {
                send_batch_size: size,
                timeout: Duration::from_millis(200),
                send_batch_max_size: max,
            },
            xray: Vec::new(),
            otlp: Vec::new(),
            otlp_spans: 0,
        }
    }

    #[test]
    fn splits_at_size_and_max() {
        let mut b = batcher(50, 50);
        b.add(segs(120));
        let full: Vec<usize> = b.take_full().iter().map(Traces::item_count).collect();
        assert_eq!(full, vec![50, 50]);
        let rest: Vec<usize> = b.take_all().iter().map(Traces::item_count).collect();
        assert_eq!(rest, vec![20]);
        assert!(b.is_empty());
    }

    #[test]
    fn splits_otlp_spans() {
        let mut b = batcher(3, 3);
        let rs = ResourceSpans {
            scope_spans: vec![
                ScopeSpans {
                    spans: vec![Span::default(); 2],
                    ..Default::default()
                },
                ScopeSpans {
                    spans: vec![Span::default(); 3],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        b.add(Traces::Otlp(vec![rs]));
        let full: Vec<usize> = b.take_full().iter().map(Traces::item_count).collect();
        assert_eq!(full, vec![3]);
        let rest: Vec<usize> = b.take_all().iter().map(Traces::item_count).collect();
        assert_eq!(rest, vec![2]);
    }

    #[tokio::test]
    async fn flushes_on_timeout_and_on_close() {
        let telemetry = Telemetry::new();
        let (q, rx) = crate::exporters::queue::queue(
            "debug",
            crate::exporters::queue::QueueSettings {
                capacity: 100,
                sizer: crate::exporters::queue::Sizer::Requests,
                block_on_overflow: true,
            },
            telemetry.clone(),
            None,
        );
        let (tx, input) = mpsc::channel(8);
        let cfg = BatchConfig {
            timeout: Duration::from_millis(50),
            ..BatchConfig::default()
        };
        let task = tokio::spawn(run(
            "batch".into(),
            "traces".into(),
            cfg,
            input,
            Consumer::Exporter(q),
            telemetry,
        ));
        tx.send(segs(3)).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.traces.item_count(), 3);
        tx.send(segs(2)).await.unwrap();
        drop(tx);
        task.await.unwrap();
        let last = rx.recv().await.unwrap();
        assert_eq!(last.traces.item_count(), 2);
    }
}
