//! The `health_check` extension: HTTP 200 on `endpoint` + `path` while the collector runs its
//! pipelines, 503 while it starts or shuts down (the operator's probes use it).

pub mod config;

use std::sync::Arc;

use hyper::StatusCode;
use tokio_util::sync::CancellationToken;

use self::config::HealthCheckConfig;
use super::{ExtensionConfig, ExtensionContext, Health};
use crate::config::component::BoxFuture;
use crate::config::id::ComponentId;
use crate::telemetry::server;

impl ExtensionConfig for HealthCheckConfig {
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        ctx: &'a ExtensionContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(
            async move { start(&id.to_string(), self, ctx.health.clone(), ctx.stop.clone()).await },
        )
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
    let name = format!("extensions.{id}");
    tokio::spawn(async move { server::serve(listener, handler, &name, shutdown).await });
    Ok(())
}
