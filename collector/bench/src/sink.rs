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
//! With a stamp marker set (`--stamp`: the uid of the load generator's pod in the Kubernetes API
//! stand-in, module `cluster`), it also checks what it receives for the pod's identity: of the
//! documents (or spans) it counts, the *segments* (X-Ray documents other than independent
//! subsegments, which X-Ray attributes to their segment; every OTLP span) and, of those, the
//! *stamped* ones, which carry the marker (an X-Ray document anywhere in its text: the stamping
//! writes it as `otel.resource.k8s.pod.uid` metadata; an OTLP span in its resource or its
//! attributes, where the translation of a stamped document puts that metadata). It splits a
//! PutTraceSegments body into its documents without unescaping them and decodes OTLP/HTTP
//! bodies only in this mode, so a run compares paths with the same sink work.
//!
//! The benchmark process drives it over HTTP on the same port: `GET /bench/stats` answers
//! `documents calls p50_us p99_us segments stamped`, `GET /bench/reset` clears the counters,
//! `GET /bench/delay/MS` makes every later call wait `MS` milliseconds before it is answered (a
//! slow X-Ray API), `GET /bench/stamp/MARKER` sets the stamp marker.

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
    /// The stamp marker, when the run checks stamping.
    stamp: Mutex<Option<Vec<u8>>>,
    /// Of the documents counted, the segments (see the module's comment).
    segments: AtomicU64,
    /// Of the segments, those that carry the stamp marker.
    stamped: AtomicU64,
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
            "{} {} {} {} {} {}\n",
            self.documents.load(Ordering::SeqCst),
            self.calls.load(Ordering::SeqCst),
            pct(0.50),
            pct(0.99),
            self.segments.load(Ordering::SeqCst),
            self.stamped.load(Ordering::SeqCst)
        )
    }

    fn reset(&self) {
        self.documents.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
        self.segments.store(0, Ordering::SeqCst);
        self.stamped.store(0, Ordering::SeqCst);
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
        } else if let Some(marker) = control.strip_prefix("stamp/") {
            *state.stamp.lock().expect("stamp lock") =
                Some(marker.as_bytes().to_vec()).filter(|m| !m.is_empty());
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
    let marker = state.stamp.lock().expect("stamp lock").clone();
    if let Some(marker) = marker {
        let (segments, stamped) = if otlp {
            otlp_stamped(&body, &marker)
        } else {
            xray_stamped(&body, &marker)
        };
        state.segments.fetch_add(segments, Ordering::SeqCst);
        state.stamped.fetch_add(stamped, Ordering::SeqCst);
    }
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

/// Whether `text` holds a send-time marker followed by its value (a document the sink counts).
fn has_sent_marker(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, SENT_MARKER)
        .any(|at| sent_ns_after(&text[at + SENT_MARKER.len()..]).is_some())
}

/// The documents of a PutTraceSegments body (`{"TraceSegmentDocuments":["…","…"]}`), each as
/// its escaped JSON text. Inside a JSON string every `"` is escaped, so `","` occurs only
/// between two elements.
fn xray_documents(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let list = memchr::memmem::find(body, b"\"TraceSegmentDocuments\"")
        .and_then(|at| memchr::memchr(b'[', &body[at..]).map(|open| &body[at + open + 1..]))
        .and_then(|rest| {
            let end = memchr::memmem::rfind(rest, b"\"]")?;
            rest.get(1..end)
        })
        .unwrap_or_default();
    let mut rest = (!list.is_empty()).then_some(list);
    std::iter::from_fn(move || {
        let text = rest?;
        match memchr::memmem::find(text, b"\",\"") {
            Some(at) => {
                rest = Some(&text[at + 3..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// Of a PutTraceSegments body's counted documents: the segments, and those carrying `marker`.
fn xray_stamped(body: &[u8], marker: &[u8]) -> (u64, u64) {
    let (mut segments, mut stamped) = (0, 0);
    for doc in xray_documents(body).filter(|d| has_sent_marker(d)) {
        // `"type":"subsegment"`, escaped as it is inside the body's string.
        if memchr::memmem::find(doc, br#"\"type\":\"subsegment\""#).is_some() {
            continue;
        }
        segments += 1;
        if memchr::memmem::find(doc, marker).is_some() {
            stamped += 1;
        }
    }
    (segments, stamped)
}

/// Whether an attribute value holds `marker` (in a string, or a string of an array or map).
fn holds(value: Option<&Value>, marker: &[u8]) -> bool {
    match value {
        Some(Value::StringValue(s)) => memchr::memmem::find(s.as_bytes(), marker).is_some(),
        Some(Value::ArrayValue(a)) => a.values.iter().any(|v| holds(v.value.as_ref(), marker)),
        Some(Value::KvlistValue(l)) => l
            .values
            .iter()
            .any(|kv| holds(kv.value.as_ref().and_then(|v| v.value.as_ref()), marker)),
        _ => false,
    }
}

/// Of an OTLP/HTTP body's counted spans (those with a send time): all are segments; the
/// stamped ones carry `marker` in their resource or their own attributes.
fn otlp_stamped(body: &[u8], marker: &[u8]) -> (u64, u64) {
    let Ok(request) = <ExportTraceServiceRequest as prost::Message>::decode(body) else {
        return (0, 0);
    };
    let value = |kv: &opentelemetry_proto::tonic::common::v1::KeyValue| {
        kv.value.as_ref().and_then(|v| v.value.as_ref()).cloned()
    };
    let (mut segments, mut stamped) = (0, 0);
    for rs in &request.resource_spans {
        let resource = rs.resource.as_ref().is_some_and(|r| {
            r.attributes
                .iter()
                .any(|kv| holds(value(kv).as_ref(), marker))
        });
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            let counted = span.attributes.iter().any(|kv| {
                kv.key.as_bytes() == SENT_MARKER
                    && matches!(value(kv), Some(Value::StringValue(s)) if s.len() == 20)
            });
            if !counted {
                continue;
            }
            segments += 1;
            if resource
                || span
                    .attributes
                    .iter()
                    .any(|kv| holds(value(kv).as_ref(), marker))
            {
                stamped += 1;
            }
        }
    }
    (segments, stamped)
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
    /// With a stamp marker: the counted documents that are segments, and those stamped.
    pub segments: u64,
    pub stamped: u64,
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

    /// Checks every later call for `marker` (see the module's comment).
    pub fn set_stamp(&self, marker: &str) -> anyhow::Result<()> {
        self.control(&format!("stamp/{marker}")).map(|_| ())
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
        // `documents calls p50_us p99_us segments stamped`; the call count is for a person
        // reading the answer.
        anyhow::ensure!(f.len() == 6, "sink stats {text:?}");
        let ms = |us: i64| {
            if us < 0 { f64::NAN } else { us as f64 / 1000.0 }
        };
        Ok(Stats {
            documents: f[0] as u64,
            p50_ms: ms(f[2]),
            p99_ms: ms(f[3]),
            segments: f[4] as u64,
            stamped: f[5] as u64,
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    const UID: &str = "0d1b5e7c-9a3f-4c2e-8b71-5e1d0be7c4a2";
    const SENT: &str = "01795550527123456789";

    /// A PutTraceSegments body of `docs`, each escaped into the array as the exporter does.
    fn put_trace_segments(docs: &[serde_json::Value]) -> Vec<u8> {
        let texts: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
        serde_json::json!({ "TraceSegmentDocuments": texts })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn xray_documents_are_split_and_their_segments_checked_for_the_marker() {
        let stamped = serde_json::json!({"id": "1", "annotations": {"bench_sent_ns": SENT},
            "metadata": {"default": {"otel.resource.k8s.pod.uid": UID, "quote": "a\",\"b"}}});
        let unstamped = serde_json::json!({"id": "2", "annotations": {"bench_sent_ns": SENT}});
        let subsegment = serde_json::json!({"id": "3", "type": "subsegment",
            "annotations": {"bench_sent_ns": SENT}});
        let uncounted = serde_json::json!({"id": "4", "metadata": {"uid": UID}});
        let body =
            put_trace_segments(&[stamped.clone(), unstamped, subsegment, uncounted, stamped]);
        let docs: Vec<&[u8]> = xray_documents(&body).collect();
        assert_eq!(docs.len(), 5, "{}", String::from_utf8_lossy(&body));
        assert!(docs[3].starts_with(br#"{\"id\":\"4\""#));
        assert_eq!(xray_stamped(&body, UID.as_bytes()), (3, 2));
        assert_eq!(xray_stamped(b"{}", UID.as_bytes()), (0, 0));
        assert_eq!(
            xray_stamped(&put_trace_segments(&[]), UID.as_bytes()),
            (0, 0)
        );
    }

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.to_owned())),
            }),
        }
    }

    fn resource_spans(resource: Vec<KeyValue>, spans: Vec<Vec<KeyValue>>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: spans
                    .into_iter()
                    .map(|attributes| Span {
                        attributes,
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }
    }

    #[test]
    fn otlp_spans_are_stamped_by_their_resource_or_their_attributes() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                // The pod's resource (OTLP in): every counted span is stamped.
                resource_spans(
                    vec![kv("k8s.pod.uid", UID)],
                    vec![vec![kv("bench_sent_ns", SENT)], vec![kv("other", "x")]],
                ),
                // A stamped X-Ray document translated: the uid is in its metadata attribute.
                resource_spans(
                    vec![kv("k8s.pod.name", "loadgen")],
                    vec![
                        vec![
                            kv("bench_sent_ns", SENT),
                            kv(
                                "aws.xray.metadata.default",
                                &format!(r#"{{"otel.resource.k8s.pod.uid":"{UID}"}}"#),
                            ),
                        ],
                        vec![kv("bench_sent_ns", SENT)],
                    ],
                ),
            ],
        };
        let body = prost::Message::encode_to_vec(&request);
        assert_eq!(otlp_stamped(&body, UID.as_bytes()), (3, 2));
        assert_eq!(otlp_stamped(b"\xff\xff", UID.as_bytes()), (0, 0));
    }
}
