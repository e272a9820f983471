//! The fault-injecting OTLP/HTTP server: a small stand-in for an OTLP/HTTP traces endpoint (such as
//! X-Ray's `https://xray.<region>.amazonaws.com/v1/traces`) that answers each request as a test's
//! script says: success, a status with an optional `Retry-After`, a partial success rejecting some
//! spans, or a reply slower than the client's timeout.
//!
//! Every request is checked before the script sees it: `POST`, `Content-Type:
//! application/x-protobuf`, a body that really is gzip when `Content-Encoding: gzip` says so, and
//! that decodes as an `ExportTraceServiceRequest` with the official OpenTelemetry protobuf
//! definitions (opentelemetry-proto). A request failing a check is answered `400` and recorded as
//! malformed. The server records the span ids it accepted, when each call came, and each call's
//! headers, so a test can check that nothing was lost, duplicated or sent too early.
//!
//! No real component injects these faults, hence this server; it is named as what it is and is
//! used only by the fault tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// How the server answers one call.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Accept every span.
    Accept,
    /// This status with a `google.rpc.Status` body carrying `message`; nothing accepted.
    Status(u16, &'static str),
    /// This status with `Retry-After: <value>`; nothing accepted.
    RetryAfter(u16, String),
    /// Accept every span except the first `rejected`, reported as a partial success.
    Partial(usize, &'static str),
    /// Wait this long, then answer `503`; nothing accepted (the client should time out first).
    Stall(Duration),
}

/// What the script sees of one call.
pub struct Call<'a> {
    /// 0 for the first well-formed call.
    pub number: u64,
    /// Time since the server started.
    pub elapsed: Duration,
    /// The span ids (hex) in the call, in order.
    pub span_ids: &'a [String],
}

/// What the server recorded of one well-formed call.
#[derive(Clone, Debug)]
pub struct Record {
    /// When it arrived, since the server started.
    pub elapsed: Duration,
    /// The span ids (hex) in the call, in order.
    pub span_ids: Vec<String>,
    /// `Content-Encoding` (empty when absent).
    pub content_encoding: String,
    /// `Authorization` (empty when absent).
    pub authorization: String,
    /// `User-Agent` (empty when absent).
    pub user_agent: String,
    /// The reply given (`accept`, `status_503`, `retry_after_429`, `partial`, `stall`).
    pub reply: String,
}

type Script = dyn Fn(&Call<'_>) -> Reply + Send + Sync;

struct State {
    script: Box<Script>,
    started: Instant,
    calls: AtomicU64,
    malformed: Mutex<Vec<String>>,
    accepted: Mutex<BTreeMap<String, u64>>,
    records: Mutex<Vec<Record>>,
}

/// A running fault-injecting OTLP/HTTP server; it stops when dropped.
pub struct FaultOtlp {
    pub addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultOtlp {
    /// Starts the server on a free loopback port.
    pub fn start(script: impl Fn(&Call<'_>) -> Reply + Send + Sync + 'static) -> FaultOtlp {
        Self::start_on(0, script)
    }

    /// Starts the server on `port` (0 for any free one).
    pub fn start_on(
        port: u16,
        script: impl Fn(&Call<'_>) -> Reply + Send + Sync + 'static,
    ) -> FaultOtlp {
        let state = Arc::new(State {
            script: Box::new(script),
            started: Instant::now(),
            calls: AtomicU64::new(0),
            malformed: Mutex::new(Vec::new()),
            accepted: Mutex::new(BTreeMap::new()),
            records: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let (addr, runtime) =
            crate::common::serve_http(port, move |req| handle(req, shared.clone()));
        FaultOtlp {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// The base URL for the exporter's `endpoint` key (traces go to `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Well-formed calls received so far.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Why each malformed request was refused.
    pub fn malformed(&self) -> Vec<String> {
        self.state.malformed.lock().unwrap().clone()
    }

    /// How many times each span id was accepted.
    pub fn accepted(&self) -> BTreeMap<String, u64> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Every well-formed call, in arrival order.
    pub fn records(&self) -> Vec<Record> {
        self.state.records.lock().unwrap().clone()
    }

    /// Replies given, by kind.
    pub fn replies(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in self.records() {
            *out.entry(r.reply).or_default() += 1;
        }
        out
    }
}

/// `google.rpc.Status` without `details`, as OTLP/HTTP error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn protobuf(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn rpc_status(status: u16, message: &str) -> Response<Full<Bytes>> {
    let code = if status == 400 { 3 } else { 14 };
    protobuf(
        status,
        RpcStatus {
            code,
            message: message.to_owned(),
        }
        .encode_to_vec(),
    )
}

/// Checks and decodes one request: its span ids, or why it is malformed.
fn decode(
    method: &hyper::Method,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Result<Vec<String>, String> {
    if method != hyper::Method::POST {
        return Err(format!("method {method}"));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    if header("content-type") != "application/x-protobuf" {
        return Err(format!("content-type `{}`", header("content-type")));
    }
    let plain = match header("content-encoding").as_str() {
        "" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| format!("content-encoding gzip, but the body is not gzip: {e}"))?;
            out
        }
        other => return Err(format!("content-encoding `{other}`")),
    };
    let request = ExportTraceServiceRequest::decode(plain.as_slice())
        .map_err(|e| format!("not an ExportTraceServiceRequest: {e}"))?;
    Ok(request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| hex(&s.span_id))
        .collect())
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let elapsed = state.started.elapsed();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let span_ids = match decode(&parts.method, &parts.headers, &body) {
        Ok(ids) => ids,
        Err(why) => {
            state.malformed.lock().unwrap().push(why.clone());
            return Ok(rpc_status(400, &why));
        }
    };
    let number = state.calls.fetch_add(1, Ordering::SeqCst);
    let reply = (state.script)(&Call {
        number,
        elapsed,
        span_ids: &span_ids,
    });
    let kind = match &reply {
        Reply::Accept => "accept".to_owned(),
        Reply::Status(s, _) => format!("status_{s}"),
        Reply::RetryAfter(s, _) => format!("retry_after_{s}"),
        Reply::Partial(..) => "partial".to_owned(),
        Reply::Stall(_) => "stall".to_owned(),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    state.records.lock().unwrap().push(Record {
        elapsed,
        span_ids: span_ids.clone(),
        content_encoding: header("content-encoding"),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        reply: kind,
    });
    let accept = |skip: usize| {
        let mut accepted = state.accepted.lock().unwrap();
        for id in span_ids.iter().skip(skip) {
            *accepted.entry(id.clone()).or_default() += 1;
        }
    };
    Ok(match reply {
        Reply::Accept => {
            accept(0);
            protobuf(200, ExportTraceServiceResponse::default().encode_to_vec())
        }
        Reply::Status(s, message) => rpc_status(s, message),
        Reply::RetryAfter(s, value) => {
            let mut r = rpc_status(s, "injected: retry later");
            r.headers_mut()
                .insert("retry-after", value.parse().expect("header value"));
            r
        }
        Reply::Partial(rejected, message) => {
            accept(rejected);
            protobuf(
                200,
                ExportTraceServiceResponse {
                    partial_success: Some(ExportTracePartialSuccess {
                        rejected_spans: rejected as i64,
                        error_message: message.to_owned(),
                    }),
                }
                .encode_to_vec(),
            )
        }
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            rpc_status(503, "stalled")
        }
    })
}
