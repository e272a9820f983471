//! The local sink for every export path, run as its own process (`xray-collector-bench sink`) so
//! that its CPU is measured on its own and charged neither to the collector nor to the load
//! generator.
//!
//! It answers `PutTraceSegments` (`POST /TraceSegments`) with `{"UnprocessedTraceSegments":[]}`,
//! OTLP/HTTP (`POST /v1/traces`, gzip or not) with an empty `ExportTraceServiceResponse`, and OTLP
//! gRPC `TraceService/Export` (the ceiling of the OTLP paths: the load generator straight to a
//! server that decodes and counts). For each call it counts the documents (or spans) and records,
//! for each, the delay from the load generator's send time (embedded in the document as an
//! annotation, carried as a span attribute by OTLP) to the call's arrival. It parses neither JSON
//! nor protobuf on the HTTP paths: it counts the send-time markers in the (decompressed) body,
//! which is enough because the benchmark sends only its own documents.
//!
//! The benchmark process drives it over HTTP on the same port: `GET /bench/stats` answers
//! `documents calls p50_us p99_us`, `GET /bench/reset` clears the counters, `GET /bench/delay/MS`
//! makes every later call wait `MS` milliseconds before it is answered (a slow X-Ray API).

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

use crate::doc::{SENT_MARKER, sent_ns_after};

/// Counters shared between the sink's connections.
#[derive(Default)]
struct SinkState {
    /// Documents (or spans) received.
    documents: AtomicU64,
    /// Calls received.
    calls: AtomicU64,
    /// Receive-to-export delays in microseconds, one per document.
    delays_us: Mutex<Vec<u32>>,
    /// How long each call waits before it is answered, in milliseconds (0: at once). With it the
    /// sink stands in for a slow X-Ray API, whose throughput is `senders × 50 / delay`.
    delay_ms: AtomicU64,
}

impl SinkState {
    fn record(&self, n: u64, delays: &[u32]) {
        self.documents.fetch_add(n, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.delays_us
            .lock()
            .expect("delays lock")
            .extend_from_slice(delays);
    }

    fn stats(&self) -> String {
        let mut delays = self.delays_us.lock().expect("delays lock").clone();
        delays.sort_unstable();
        let pct = |p: f64| {
            if delays.is_empty() {
                -1i64
            } else {
                i64::from(delays[((delays.len() as f64 * p) as usize).min(delays.len() - 1)])
            }
        };
        format!(
            "{} {} {} {}\n",
            self.documents.load(Ordering::SeqCst),
            self.calls.load(Ordering::SeqCst),
            pct(0.50),
            pct(0.99)
        )
    }

    fn reset(&self) {
        self.documents.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
        self.delays_us.lock().expect("delays lock").clear();
    }
}

fn delay_us(now: u64, sent: u64) -> u32 {
    (now.saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32
}

/// `xray-collector-bench sink`: serves HTTP and gRPC on two loopback ports until killed, after
/// printing `http=ADDR grpc=ADDR` on stdout.
pub fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = Arc::new(SinkState::default());
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("http={} grpc={}", http.local_addr()?, grpc.local_addr()?);
        let grpc_state = state.clone();
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc);
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(GrpcSink(grpc_state)))
                .serve_with_incoming(incoming)
                .await;
        });
        loop {
            let Ok((stream, _)) = http.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, state.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<SinkState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if let Some(control) = path.strip_prefix("/bench/") {
        let text = if control == "stats" {
            state.stats()
        } else if control == "reset" {
            state.reset();
            "ok\n".to_owned()
        } else if let Some(ms) = control.strip_prefix("delay/") {
            state
                .delay_ms
                .store(ms.parse().unwrap_or(0), Ordering::Relaxed);
            "ok\n".to_owned()
        } else {
            "unknown\n".to_owned()
        };
        return Ok(Response::new(Full::new(Bytes::from(text))));
    }
    let otlp = path == "/v1/traces";
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
            delays.push(delay_us(now, sent));
        }
    }
    state.record(n, &delays);
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

/// The OTLP gRPC side: counts spans and their send-time attributes.
struct GrpcSink(Arc<SinkState>);

#[tonic::async_trait]
impl TraceService for GrpcSink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let now = crate::now_ns();
        let mut n = 0u64;
        let mut delays = Vec::new();
        let spans = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans);
        for span in spans {
            let sent = span.attributes.iter().find_map(|kv| {
                if kv.key.as_bytes() != SENT_MARKER {
                    return None;
                }
                match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => s.parse::<u64>().ok(),
                    Value::IntValue(i) => u64::try_from(*i).ok(),
                    _ => None,
                }
            });
            if let Some(sent) = sent {
                n += 1;
                delays.push(delay_us(now, sent));
            }
        }
        self.0.record(n, &delays);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The sink process, seen from the benchmark; killed on drop.
pub struct Sink {
    child: Child,
    /// Where it answers HTTP (PutTraceSegments, OTLP/HTTP and the control paths).
    pub addr: SocketAddr,
    /// Where it answers OTLP gRPC.
    pub grpc: SocketAddr,
}

/// What the sink counted since the last reset.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub documents: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Sink {
    /// Spawns `xray-collector-bench sink` and reads its addresses.
    pub fn spawn() -> anyhow::Result<Sink> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("sink")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the sink process")?;
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut http = None;
        let mut grpc = None;
        for part in line.split_whitespace() {
            match part.split_once('=') {
                Some(("http", a)) => http = a.parse().ok(),
                Some(("grpc", a)) => grpc = a.parse().ok(),
                _ => {}
            }
        }
        let (Some(addr), Some(grpc)) = (http, grpc) else {
            let _ = child.kill();
            anyhow::bail!("the sink process printed {line:?}, not its addresses");
        };
        Ok(Sink { child, addr, grpc })
    }

    /// The sink's process id, for its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the sink process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        crate::procfs::cpu_seconds(&self.pid().to_string()).unwrap_or(0.0)
    }

    fn control(&self, what: &str) -> anyhow::Result<String> {
        let (status, body) = crate::http_get(self.addr.port(), &format!("/bench/{what}"))
            .with_context(|| format!("asking the sink for /bench/{what}"))?;
        anyhow::ensure!(status == 200, "sink answered {status} to /bench/{what}");
        Ok(body)
    }

    /// Clears the counters.
    pub fn reset(&self) -> anyhow::Result<()> {
        self.control("reset").map(|_| ())
    }

    /// Makes every later call wait `ms` milliseconds.
    pub fn set_delay_ms(&self, ms: u64) -> anyhow::Result<()> {
        self.control(&format!("delay/{ms}")).map(|_| ())
    }

    /// Documents received since the last reset (0 when the sink does not answer).
    pub fn documents(&self) -> u64 {
        self.stats().map(|s| s.documents).unwrap_or(0)
    }

    /// Counters and delay percentiles since the last reset.
    pub fn stats(&self) -> anyhow::Result<Stats> {
        let text = self.control("stats")?;
        let f: Vec<i64> = text
            .split_whitespace()
            .map(|w| w.parse::<i64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("sink stats {text:?}"))?;
        // `documents calls p50_us p99_us`; the call count is for a person reading the answer.
        anyhow::ensure!(f.len() == 4, "sink stats {text:?}");
        let ms = |us: i64| {
            if us < 0 { f64::NAN } else { us as f64 / 1000.0 }
        };
        Ok(Stats {
            documents: f[0] as u64,
            p50_ms: ms(f[2]),
            p99_ms: ms(f[3]),
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
