//! The `debug` exporter: logs what passes through the pipeline.

pub mod config;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use self::config::{DebugExporterConfig, Verbosity};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::exporters::{Abandoned, Built, Exporter, ExporterConfig, local_queue};
use crate::telemetry::Telemetry;
use crate::traces::Traces;

impl ExporterConfig for DebugExporterConfig {
    fn build<'a>(
        &'a self,
        id: &'a ComponentId,
        telemetry: Telemetry,
    ) -> BoxFuture<'a, anyhow::Result<Built>> {
        Box::pin(async move {
            Ok(Built {
                exporter: Arc::new(DebugExporter::new(
                    &id.to_string(),
                    self.verbosity,
                    telemetry,
                )),
                queue: local_queue(),
                consumers: 1,
                storage: None,
            })
        })
    }
}

impl Exporter for DebugExporter {
    fn id(&self) -> &str {
        &self.id
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn export<'a>(
        &'a self,
        traces: Traces,
        _stop: &'a CancellationToken,
        _abandoned: &'a Abandoned,
    ) -> BoxFuture<'a, ()> {
        self.log(traces);
        Box::pin(async {})
    }
}

/// Logs batches at the configured verbosity.
pub struct DebugExporter {
    id: String,
    verbosity: Verbosity,
    telemetry: Telemetry,
}

impl DebugExporter {
    /// A debug exporter named `id`.
    pub fn new(id: &str, verbosity: Verbosity, telemetry: Telemetry) -> DebugExporter {
        DebugExporter {
            id: id.to_owned(),
            verbosity,
            telemetry,
        }
    }

    /// Logs one batch.
    pub fn log(&self, traces: Traces) {
        let n = traces.item_count();
        match &traces {
            Traces::XRay(segments) => {
                tracing::info!(exporter = %self.id, documents = n, "Traces: X-Ray documents.");
                if self.verbosity != Verbosity::Basic {
                    for s in segments {
                        if self.verbosity == Verbosity::Detailed {
                            tracing::info!(
                                exporter = %self.id,
                                segment_id = s.ids.id(),
                                trace_id = s.ids.trace_id(),
                                document = %String::from_utf8_lossy(&s.body),
                                "X-Ray document."
                            );
                        } else {
                            tracing::info!(
                                exporter = %self.id,
                                segment_id = s.ids.id(),
                                trace_id = s.ids.trace_id(),
                                bytes = s.body.len(),
                                "X-Ray document."
                            );
                        }
                    }
                }
            }
            Traces::Otlp(resource_spans) => {
                tracing::info!(exporter = %self.id, spans = n, resource_spans = resource_spans.len(), "Traces: OTLP spans.");
                if self.verbosity == Verbosity::Detailed {
                    for rs in resource_spans {
                        tracing::info!(exporter = %self.id, resource_spans = ?rs, "OTLP resource spans.");
                    }
                }
            }
        }
        self.telemetry.exporter_sent(&self.id, n);
    }
}
