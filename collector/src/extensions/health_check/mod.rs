//! The `health_check` extension: HTTP 200 on `endpoint` + `path` while the collector runs its
//! pipelines, 503 while it starts or shuts down (the operator's probes use it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::config::extensions::HealthCheckConfig;
use crate::telemetry::server;

/// Whether the collector is ready; shared with the service.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    started: Instant,
    up_since: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            up_since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

impl Health {
    /// Marks the collector ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the collector is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Binds the extension's endpoint and serves it until `shutdown`.
pub async fn start(
    id: &str,
    cfg: &HealthCheckConfig,
    health: Health,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = server::bind(&cfg.endpoint, &format!("extensions.{id}")).await?;
    tracing::info!(extension = id, address = %server::local(&listener), path = %cfg.path, "Health check serving.");
    let path = cfg.path.clone();
    let handler: server::Handler = Arc::new(move |p| {
        if p != path {
            return (
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found\n".to_owned(),
            );
        }
        if health.is_ready() {
            let body = serde_json::json!({
                "status": "Server available",
                "upSince": health.up_since,
                "uptime": format!("{:.3}s", health.started.elapsed().as_secs_f64()),
            });
            (StatusCode::OK, "application/json", body.to_string())
        } else {
            let body =
                serde_json::json!({"status": "Server not available", "upSince": health.up_since});
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "application/json",
                body.to_string(),
            )
        }
    });
    tokio::spawn(server::serve(listener, handler, shutdown));
    Ok(())
}
