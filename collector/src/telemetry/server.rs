//! A small HTTP/1 server for the collector's own endpoints: `/metrics` here and the
//! `health_check` extension.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Telemetry;

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

/// Serves `handler` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, handler: Handler, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let (status, content_type, body) = handler(req.uri().path());
                let response = Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .body(Full::new(Bytes::from(body)));
                async move { response }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
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
