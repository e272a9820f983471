//! The `file` exporter: appends JSON lines to a file. An X-Ray document is written as one line
//! (byte for byte unless it contains line breaks, which are removed by re-encoding it compactly);
//! an OTLP batch is written as one `ExportTraceServiceRequest` in the OTLP JSON encoding.

pub mod config;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use tokio_util::sync::CancellationToken;

use self::config::FileExporterConfig;
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::exporters::{Abandoned, Built, Exporter, ExporterConfig, local_queue};
use crate::telemetry::{FailReason, Telemetry};
use crate::traces::Traces;

impl ExporterConfig for FileExporterConfig {
    fn build<'a>(
        &'a self,
        id: &'a ComponentId,
        telemetry: Telemetry,
    ) -> BoxFuture<'a, anyhow::Result<Built>> {
        Box::pin(async move {
            let exporter = FileExporter::open(&id.to_string(), &self.path, telemetry).await?;
            Ok(Built {
                exporter: Arc::new(exporter),
                queue: local_queue(),
                consumers: 1,
                storage: None,
            })
        })
    }
}

impl Exporter for FileExporter {
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
        Box::pin(self.append(traces))
    }
}

/// Appends batches to one file.
pub struct FileExporter {
    id: String,
    path: String,
    file: Mutex<File>,
    telemetry: Telemetry,
}

impl FileExporter {
    /// Opens (creating if needed) `path` for appending.
    pub async fn open(id: &str, path: &str, telemetry: Telemetry) -> anyhow::Result<FileExporter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|e| {
                anyhow::format_err!("exporters.{id}: cannot open `{path}` for appending: {e}")
            })?;
        Ok(FileExporter {
            id: id.to_owned(),
            path: path.to_owned(),
            file: Mutex::new(file),
            telemetry,
        })
    }

    /// Writes one batch and flushes it.
    pub async fn append(&self, traces: Traces) {
        let n = traces.item_count();
        let mut out = Vec::new();
        match &traces {
            Traces::XRay(segments) => {
                for s in segments {
                    if s.body.contains(&b'\n') || s.body.contains(&b'\r') {
                        match serde_json::from_slice::<serde_json::Value>(&s.body) {
                            Ok(v) => out.extend_from_slice(v.to_string().as_bytes()),
                            Err(_) => out.extend_from_slice(&s.body),
                        }
                    } else {
                        out.extend_from_slice(&s.body);
                    }
                    out.push(b'\n');
                }
            }
            Traces::Otlp(resource_spans) => {
                let request = ExportTraceServiceRequest {
                    resource_spans: resource_spans.clone(),
                };
                match serde_json::to_vec(&request) {
                    Ok(line) => out.extend_from_slice(&line),
                    Err(e) => {
                        tracing::error!(exporter = %self.id, error = %e, "Cannot encode OTLP batch as JSON; batch failed.");
                        self.telemetry
                            .exporter_failed(&self.id, FailReason::Encode, n);
                        return;
                    }
                }
                out.push(b'\n');
            }
        }
        let mut file = self.file.lock().await;
        let result = async {
            file.write_all(&out).await?;
            file.flush().await
        }
        .await;
        match result {
            Ok(()) => self.telemetry.exporter_sent(&self.id, n),
            Err(e) => {
                tracing::error!(exporter = %self.id, path = %self.path, error = %e, items = n, "Cannot write to file; batch failed.");
                self.telemetry
                    .exporter_failed(&self.id, FailReason::IoError, n);
            }
        }
    }
}
