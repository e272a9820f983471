//! The `debug` exporter: logs what passes through the pipeline.

use crate::config::exporters::Verbosity;
use crate::telemetry::Telemetry;
use crate::traces::Traces;

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

    /// The exporter id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The collector's counters.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Logs one batch.
    pub fn export(&self, traces: Traces) {
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
