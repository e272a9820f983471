//! Processors: `batch`. A processor instance belongs to one pipeline (as in the collector) and
//! reads a bounded channel.
//!
//! A processor's config implements [`ProcessorConfig`] (and `config::component::Component`); the
//! registry (`crate::registry`) lists the types.

pub mod batch;
pub mod k8sattributes;
pub mod resourcedetection;

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::component::AsAny;
use crate::consumer::Consumer;
use crate::telemetry::Telemetry;
use crate::traces::Traces;

/// One processor instance's place in a pipeline.
pub struct ProcessorSlot {
    /// The processor id.
    pub processor: Arc<str>,
    /// The pipeline id.
    pub pipeline: Arc<str>,
    /// Its input.
    pub input: mpsc::Receiver<Traces>,
    /// The next stage.
    pub next: Consumer,
    /// The collector's counters.
    pub telemetry: Telemetry,
}

/// A processor's config, type-erased: spawns one instance.
pub trait ProcessorConfig: AsAny + fmt::Debug {
    /// Spawns the instance into `tasks`; it ends when its input closes, after flushing.
    fn spawn(&self, slot: ProcessorSlot, tasks: &mut JoinSet<()>);
}
