//! The fast local sink for both export paths: it answers `PutTraceSegments` (`POST /TraceSegments`)
//! with `{"UnprocessedTraceSegments":[]}` and OTLP/HTTP (`POST /v1/traces`, gzip or not) with an
//! empty `ExportTraceServiceResponse`, counts the documents of each call and records, for each, the
//! delay from the load generator's send time (embedded in the document as an annotation, carried as
//! a span attribute by OTLP) to the call's arrival. It parses neither JSON nor protobuf: it counts
//! the send-time markers in the (decompressed) body, which is enough because the benchmark sends
//! only its own documents.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::doc::{SENT_MARKER, sent_ns_after};

/// Counters shared between the sink's connections and the benchmark.
#[derive(Default)]
pub struct SinkState {
    /// Documents received.
    pub documents: AtomicU64,
    /// PutTraceSegments calls received.
    pub calls: AtomicU64,
    /// Receive-to-export delays in microseconds, one per document.
    pub delays_us: Mutex<Vec<u32>>,
    /// How long each call waits before it is answered, in milliseconds (0: at once). With it the
    /// sink stands in for a slow X-Ray API, whose throughput is `senders × 50 / delay`.
    pub delay_ms: AtomicU64,
}

impl SinkState {
    /// Clears the counters between benchmark steps.
    pub fn reset(&self) {
        self.documents.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
        self.delays_us.lock().expect("delays lock").clear();
    }
}

/// A running sink.
pub struct Sink {
    pub addr: SocketAddr,
    pub state: Arc<SinkState>,
}

/// Starts the sink on a loopback port, on its own single-threaded runtime thread.
pub fn start() -> anyhow::Result<Sink> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SinkState::default());
    let shared = state.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("xray-sink".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let state = shared.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(req, state.clone()));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })?;
    Ok(Sink { addr, state })
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<SinkState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let otlp = req.uri().path() == "/v1/traces";
    let gzip = req
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if gzip {
        let mut plain = Vec::with_capacity(body.len() * 4);
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .is_err()
        {
            plain.clear();
        }
        body = plain.into();
    }
    let delay = state.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let now = crate::now_ns();
    let mut n = 0u64;
    let mut delays = Vec::new();
    // Only a marker followed by its value counts: OTLP may also name the key elsewhere (the list
    // of attributes that were annotations).
    for at in memchr::memmem::find_iter(&body, SENT_MARKER) {
        if let Some(sent) = sent_ns_after(&body[at + SENT_MARKER.len()..]) {
            n += 1;
            delays.push((now.saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32);
        }
    }
    state.documents.fetch_add(n, Ordering::SeqCst);
    state.calls.fetch_add(1, Ordering::SeqCst);
    state
        .delays_us
        .lock()
        .expect("delays lock")
        .extend_from_slice(&delays);
    // An empty ExportTraceServiceResponse is zero bytes of protobuf.
    let (content_type, answer): (&str, &'static [u8]) = if otlp {
        ("application/x-protobuf", b"")
    } else {
        ("application/json", b"{\"UnprocessedTraceSegments\":[]}")
    };
    let response = Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(answer)))
        .unwrap_or_default();
    Ok(response)
}
