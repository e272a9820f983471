//! The collector's own HTTP endpoints: `/metrics` here and the `health_check` extension, served
//! by the shared serving loop (`crate::serve`); binding helpers the other servers use too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Telemetry;
use crate::serve::{Handle, Limits, Server};

/// A request handler: path in, status, content type and body out.
pub type Handler = Arc<dyn Fn(&str) -> (StatusCode, &'static str, String) + Send + Sync>;

/// Binds `address` (`host:port`), naming it in the error.
pub async fn bind(address: &str, what: &str) -> anyhow::Result<TcpListener> {
    let address = normalize(address);
    TcpListener::bind(&address)
        .await
        .map_err(|e| anyhow::format_err!("{what}: cannot listen on TCP {address}: {e}"))
}

/// An empty host (`:8888`) means every interface, as in Go.
pub fn normalize(address: &str) -> String {
    match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    }
}

/// What a client may hold on the collector's own endpoints: [`Limits::DEFAULT`] with at most
/// 64 connections and 5 s to drain at shutdown.
pub const LIMITS: Limits = Limits {
    max_connections: 64,
    drain_timeout: Duration::from_secs(5),
    ..Limits::DEFAULT
};

/// Serves `handler` on `listener` until `shutdown` is cancelled, through the shared serving
/// loop (`crate::serve`) with [`LIMITS`]; `name` names the server in logs.
pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    name: &str,
    shutdown: CancellationToken,
) {
    let handle: Handle = Arc::new(move |req: Request<Incoming>| {
        let (status, content_type, body) = handler(req.uri().path());
        let response = Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::default()));
        Box::pin(async move { response })
    });
    Server {
        listener,
        limits: LIMITS,
        tls: None,
        handle,
        on_refused: Arc::new(|| {}),
        name: name.to_owned(),
    }
    .run(shutdown)
    .await;
}

/// The `/metrics` handler.
pub fn metrics_handler(telemetry: Telemetry) -> Handler {
    Arc::new(move |path| {
        if path == "/metrics" {
            (
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                telemetry.encode(),
            )
        } else {
            (
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found\n".to_owned(),
            )
        }
    })
}

/// The local address a listener is bound to, for logs.
pub fn local(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map(|a: SocketAddr| a.to_string())
        .unwrap_or_default()
}
