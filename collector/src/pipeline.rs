//! The data that flows through a traces pipeline, and the handle components use to pass it on.
//!
//! A pipeline carries [`Traces`]: either raw X-Ray segment documents (the UDP receiver's output,
//! never re-serialized) or OTLP resource spans (the OTLP receiver's output). Exporters take whichever
//! they understand natively and translate the other; nothing is converted on the way.
//!
//! A receiver holds a [`TracesSender`]: the `consumer::Consumer` of every pipeline it feeds, and
//! the receiver's own counters. The data types live in `traces`.

use std::sync::Arc;

use crate::consumer::Consumer;
use crate::telemetry::{ReceiverCounters, ReceiverRefusal, Telemetry};
use crate::traces::{Refused, Traces};

/// The handle a receiver holds: the consumer of every pipeline it feeds, plus its own counters
/// (`receiver_accepted_items`, `receiver_refused_items`).
#[derive(Clone)]
pub struct TracesSender {
    receiver: Arc<str>,
    next: Consumer,
    telemetry: Telemetry,
    counters: ReceiverCounters,
}

impl TracesSender {
    /// A sender for the receiver `receiver` (its `type[/name]` id).
    pub fn new(receiver: &str, next: Consumer, telemetry: Telemetry) -> TracesSender {
        TracesSender {
            receiver: receiver.into(),
            next,
            counters: telemetry.receiver_counters(receiver),
            telemetry,
        }
    }

    /// The receiver id this sender counts under.
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// The collector's counters.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// This receiver's item counters.
    pub fn counters(&self) -> &ReceiverCounters {
        &self.counters
    }

    /// Sends with backpressure: waits until every pipeline has taken the data.
    pub async fn send(&self, traces: Traces) -> Result<(), Refused> {
        let n = traces.item_count();
        let result = self.next.send(traces).await;
        self.count(n, result);
        result
    }

    /// Sends without waiting; what a full pipeline refuses is counted, never silently lost.
    pub fn try_send(&self, traces: Traces) -> Result<(), Refused> {
        let n = traces.item_count();
        let result = self.next.try_send(traces);
        self.count(n, result);
        result
    }

    fn count(&self, n: usize, result: Result<(), Refused>) {
        match result {
            Ok(()) => self.counters.accepted(n),
            Err(Refused::Full) => {
                self.telemetry
                    .receiver_refused(&self.receiver, ReceiverRefusal::PipelineFull, n)
            }
            Err(Refused::Closed) => {
                self.telemetry
                    .receiver_refused(&self.receiver, ReceiverRefusal::Shutdown, n)
            }
            Err(Refused::MemoryLimited) => {
                self.telemetry
                    .receiver_refused(&self.receiver, ReceiverRefusal::MemoryLimit, n)
            }
        }
    }
}
