//! The one serving loop of the collector's small HTTP/1 servers: `/metrics` and the
//! `health_check` extension (`telemetry::server`), the OTLP/HTTP receiver
//! (`receivers::otlp::http`) and the X-Ray sampling proxy (`receivers::awsxray::proxy`).
//!
//! It bounds what a client can hold ([`Limits`], defaults in [`Limits::DEFAULT`]):
//!
//! * at most `max_connections` connections at once: one more is accepted and closed at once, and
//!   reported through the server's `on_refused` callback (a counter), while the connections
//!   already held keep being served;
//! * request headers within `header_read_timeout` (hyper's header timer, on `TokioTimer`);
//! * no connection silent for longer than `idle_timeout` (no byte read or written, e.g. an idle
//!   keep-alive connection, or one that never sends its headers): it is shut down gracefully;
//! * a TLS handshake, when the server has TLS, within `handshake_timeout`;
//! * accept errors (out of file descriptors: `EMFILE`, `ENFILE`; aborted connections) back off
//!   from 5 ms, doubling up to 1 s, instead of spinning; a successful accept resets the backoff.
//!
//! Servers that speak their own protocol (OTLP/gRPC on tonic) take the same accept side from
//! [`incoming`]: a stream of [`Guarded`] connections under the same cap, backoff and idle timeout
//! (a `Guarded` connection silent for `idle_timeout` fails its next read, which ends it; its
//! connection slot is given back when it is dropped).
//!
//! Every request a [`Server`] hands to its handler carries the connection's peer address as a
//! [`Peer`] request extension (the OTLP/HTTP receiver passes it to the pipelines).
//!
//! On shutdown the loop stops accepting, asks every connection to finish (a request in progress
//! is answered; an idle keep-alive connection closes at once) and waits at most `drain_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::component::BoxFuture;

/// The peer address of a request's connection, in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

/// A request handler.
pub type Handle =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// What one server allows a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a client to send a request's headers.
    pub header_read_timeout: Duration,
    /// Time a connection may stay silent (nothing read or written).
    pub idle_timeout: Duration,
    /// Time for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Time connections get to finish at shutdown.
    pub drain_timeout: Duration,
}

impl Limits {
    /// The defaults: 256 connections, 20 s for headers, 60 s idle, 10 s for a TLS handshake,
    /// 20 s to drain at shutdown.
    pub const DEFAULT: Limits = Limits {
        max_connections: 256,
        header_read_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(10),
        drain_timeout: Duration::from_secs(20),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// First wait after an accept error.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest wait after repeated accept errors.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// One server: its listener, limits, optional TLS and handler.
pub struct Server {
    /// The bound listener.
    pub listener: TcpListener,
    /// What clients may hold.
    pub limits: Limits,
    /// TLS, when the server has it.
    pub tls: Option<TlsAcceptor>,
    /// The request handler.
    pub handle: Handle,
    /// Called for each connection closed because `max_connections` are held.
    pub on_refused: Arc<dyn Fn() + Send + Sync>,
    /// A name for logs (`receivers.otlp`, `service.telemetry.metrics`, ...).
    pub name: String,
}

impl Server {
    /// Serves until `shutdown` is cancelled, then drains (see the module doc).
    pub async fn run(self, shutdown: CancellationToken) {
        let connections = Arc::new(Semaphore::new(self.limits.max_connections.max(1)));
        let mut tasks = JoinSet::new();
        let mut backoff = ACCEPT_BACKOFF_MIN;
        while let Some(stream) = accept(&self.listener, &mut backoff, &self.name, &shutdown).await {
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                (self.on_refused)();
                drop(stream);
                continue;
            };
            let (limits, tls, handle, stop) = (
                self.limits,
                self.tls.clone(),
                self.handle.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                let _permit = permit;
                connection(stream, limits, tls, handle, stop).await;
            });
            // Reap finished connection tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
        }
        let _ = tokio::time::timeout(self.limits.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
    }
}

/// The next accepted connection, or `None` once `shutdown` is cancelled. Accept errors (out of
/// file descriptors or similar) back off from [`ACCEPT_BACKOFF_MIN`], doubling up to
/// [`ACCEPT_BACKOFF_MAX`], instead of spinning; a successful accept resets `backoff`.
async fn accept(
    listener: &TcpListener,
    backoff: &mut Duration,
    name: &str,
    shutdown: &CancellationToken,
) -> Option<TcpStream> {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                *backoff = ACCEPT_BACKOFF_MIN;
                return Some(stream);
            }
            Err(error) => {
                tracing::warn!(server = %name, %error, backoff_ms = backoff.as_millis() as u64, "Accept failed; backing off.");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(*backoff) => {}
                }
                *backoff = (*backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// Accepts connections under `limits` (cap, backoff, idle timeout; see the module doc) for a
/// server that serves them itself, until `shutdown` is cancelled.
pub fn incoming(
    listener: TcpListener,
    limits: Limits,
    on_refused: Arc<dyn Fn() + Send + Sync>,
    name: String,
    shutdown: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<Guarded>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let mut backoff = ACCEPT_BACKOFF_MIN;
        while let Some(stream) = accept(&listener, &mut backoff, &name, &shutdown).await {
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                on_refused();
                drop(stream);
                continue;
            };
            let guarded = Guarded {
                idle_timeout: limits.idle_timeout,
                timer: Box::pin(tokio::time::sleep(limits.idle_timeout)),
                inner: Tracked::new(stream),
                _permit: permit,
            };
            if tx.send(Ok(guarded)).await.is_err() {
                break;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection accepted by [`incoming`]: holds one of the server's connection slots, and fails
/// its reads once it has been silent (nothing read or written) for the idle timeout.
pub struct Guarded {
    inner: Tracked<TcpStream>,
    idle_timeout: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Guarded {
    /// The underlying TCP stream.
    pub fn tcp(&self) -> &TcpStream {
        &self.inner.inner
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if polled.is_ready() {
            return polled;
        }
        // Nothing to read: close the connection once it has been silent for the idle timeout.
        loop {
            let idle = this.inner.activity.idle();
            if idle >= this.idle_timeout {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle",
                )));
            }
            let deadline = tokio::time::Instant::now() + (this.idle_timeout - idle);
            this.timer.as_mut().reset(deadline);
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn connection(
    stream: TcpStream,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    handle: Handle,
    stop: CancellationToken,
) {
    let peer = stream.peer_addr().ok().map(Peer);
    match tls {
        None => http1(Tracked::new(stream), peer, limits, handle, stop).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => http1(Tracked::new(stream), peer, limits, handle, stop).await,
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed."),
                Err(_) => tracing::debug!("TLS handshake timed out."),
            }
        }
    }
}

/// Serves HTTP/1 on one connection until it ends, falls silent past `idle_timeout`, or the
/// server stops.
async fn http1<S>(
    io: Tracked<S>,
    peer: Option<Peer>,
    limits: Limits,
    handle: Handle,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = io.activity.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let handle = handle.clone();
        if let Some(peer) = peer {
            req.extensions_mut().insert(peer);
        }
        async move { Ok::<_, Infallible>(handle(req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let check = (limits.idle_timeout / 4).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(check) => {
                if activity.idle() >= limits.idle_timeout {
                    break;
                }
            }
        }
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.drain_timeout, conn).await;
}

/// When a connection last read or wrote, in milliseconds since it was accepted.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A stream that records its activity.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    fn new(inner: S) -> Tracked<S> {
        Tracked {
            inner,
            activity: Arc::new(Activity {
                start: Instant::now(),
                last_ms: AtomicU64::new(0),
            }),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ok_handler() -> Handle {
        Arc::new(|_req| Box::pin(async { Response::new(Full::new(Bytes::from_static(b"ok"))) }))
    }

    async fn start(limits: Limits) -> (std::net::SocketAddr, Arc<AtomicU64>, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicU64::new(0));
        let counted = refused.clone();
        let stop = CancellationToken::new();
        let server = Server {
            listener,
            limits,
            tls: None,
            handle: ok_handler(),
            on_refused: Arc::new(move || {
                counted.fetch_add(1, Ordering::Relaxed);
            }),
            name: "test".to_owned(),
        };
        tokio::spawn(server.run(stop.clone()));
        (addr, refused, stop)
    }

    /// One GET on an open connection; the answer's first line.
    async fn get(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }

    /// Reads until the peer closes; `true` when it did within `within`.
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = vec![0; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    #[tokio::test]
    async fn a_connection_beyond_the_cap_is_closed_and_held_ones_are_served() {
        let limits = Limits {
            max_connections: 2,
            ..Limits::DEFAULT
        };
        let (addr, refused, stop) = start(limits).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut first).await, "HTTP/1.1 200 OK");
        assert_eq!(get(&mut second).await, "HTTP/1.1 200 OK");
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut third, Duration::from_secs(5)).await,
            "the third connection is closed"
        );
        assert_eq!(refused.load(Ordering::Relaxed), 1);
        // The connections held within the cap still answer.
        assert_eq!(get(&mut first).await, "HTTP/1.1 200 OK");
        // Capacity comes back when a connection closes.
        drop(second);
        let mut again = None;
        for _ in 0..50 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = vec![0; 1024];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await
            {
                if n > 0 {
                    again = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(again.is_some_and(|a| a.starts_with("HTTP/1.1 200 OK")));
        stop.cancel();
    }

    #[tokio::test]
    async fn a_connection_that_sends_no_headers_is_closed_after_the_header_timeout() {
        let limits = Limits {
            header_read_timeout: Duration::from_millis(300),
            ..Limits::DEFAULT
        };
        let (addr, _, stop) = start(limits).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
        assert!(started.elapsed() >= Duration::from_millis(250));
        // A connection that starts its headers and stalls is closed too.
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial.write_all(b"GET / HTTP/1.1\r\nhost:").await.unwrap();
        assert!(closed_within(&mut partial, Duration::from_secs(5)).await);
        stop.cancel();
    }

    #[tokio::test]
    async fn incoming_caps_connections_and_closes_idle_ones() {
        use tokio_stream::StreamExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicU64::new(0));
        let counted = refused.clone();
        let stop = CancellationToken::new();
        let limits = Limits {
            max_connections: 2,
            idle_timeout: Duration::from_millis(300),
            ..Limits::DEFAULT
        };
        let mut accepted = incoming(
            listener,
            limits,
            Arc::new(move || {
                counted.fetch_add(1, Ordering::Relaxed);
            }),
            "test".to_owned(),
            stop.clone(),
        );
        // An echo server on the guarded connections.
        tokio::spawn(async move {
            while let Some(Ok(mut conn)) = accepted.next().await {
                tokio::spawn(async move {
                    let mut buf = vec![0; 64];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let mut first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut third, Duration::from_secs(5)).await);
        assert_eq!(refused.load(Ordering::Relaxed), 1);
        // A connection in use stays open past the idle timeout...
        let started = Instant::now();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            first.write_all(b"ping").await.unwrap();
            let mut buf = [0; 4];
            first.read_exact(&mut buf).await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(450));
        // ...and is closed once silent for it.
        let silent = Instant::now();
        assert!(closed_within(&mut first, Duration::from_secs(5)).await);
        assert!(silent.elapsed() >= Duration::from_millis(250));
        stop.cancel();
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        let limits = Limits {
            idle_timeout: Duration::from_millis(300),
            ..Limits::DEFAULT
        };
        let (addr, _, stop) = start(limits).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut conn).await, "HTTP/1.1 200 OK");
        let started = Instant::now();
        assert!(closed_within(&mut conn, Duration::from_secs(5)).await);
        assert!(started.elapsed() >= Duration::from_millis(250));
        stop.cancel();
    }
}
