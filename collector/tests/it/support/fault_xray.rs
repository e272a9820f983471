//! The fault-injecting X-Ray server: a small stand-in for the X-Ray API's `PutTraceSegments`
//! (`POST /TraceSegments`, restJson1) that answers each call as a test's script says: success,
//! throttling (`429` with `x-amzn-ErrorType: ThrottledException`), a 5xx status, a reply slower
//! than the client's timeout, or a partial success listing `UnprocessedTraceSegments`. It records
//! the id of every document it accepted, so a test can check that nothing was lost or duplicated.
//!
//! moto is the real X-Ray emulator in the other tests; it cannot inject these faults, hence this
//! server. It is named as what it is and is used only by the fault tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};

/// How the server answers one call.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Accept every document.
    Accept,
    /// `429 ThrottledException`; nothing accepted.
    Throttle,
    /// This HTTP status (5xx) with an `x-amzn-ErrorType`; nothing accepted.
    Status(u16),
    /// Wait this long, then answer `503`; nothing accepted (the client should time out first).
    Stall(Duration),
    /// Accept every document except these `(id, error code)`, which are listed as unprocessed.
    Partial(Vec<(String, String)>),
}

/// What the script sees of one call.
pub struct Call<'a> {
    /// 0 for the first call.
    pub number: u64,
    /// Time since the server started.
    pub elapsed: Duration,
    /// The `id` of each document in the call, in order.
    pub ids: &'a [String],
}

type Script = dyn Fn(&Call<'_>) -> Reply + Send + Sync;

struct State {
    script: Box<Script>,
    started: Instant,
    calls: AtomicU64,
    accepted: Mutex<BTreeMap<String, u64>>,
    replies: Mutex<BTreeMap<String, u64>>,
}

/// A running fault-injecting X-Ray server; it stops when dropped.
pub struct FaultXray {
    pub addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultXray {
    /// Starts the server on a free loopback port.
    pub fn start(script: impl Fn(&Call<'_>) -> Reply + Send + Sync + 'static) -> FaultXray {
        Self::start_on(0, script)
    }

    /// Starts the server on `port` (0 for any free one).
    pub fn start_on(
        port: u16,
        script: impl Fn(&Call<'_>) -> Reply + Send + Sync + 'static,
    ) -> FaultXray {
        let state = Arc::new(State {
            script: Box::new(script),
            started: Instant::now(),
            calls: AtomicU64::new(0),
            accepted: Mutex::new(BTreeMap::new()),
            replies: Mutex::new(BTreeMap::new()),
        });
        let shared = state.clone();
        let (addr, runtime) =
            crate::common::serve_http(port, move |req| handle(req, shared.clone()));
        FaultXray {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// The endpoint URL for the exporter's `endpoint` key.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls received so far.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// How many times each document id was accepted.
    pub fn accepted(&self) -> BTreeMap<String, u64> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Replies given, by kind (`accept`, `throttle`, `status_503`, `stall`, `partial`).
    pub fn replies(&self) -> BTreeMap<String, u64> {
        self.state.replies.lock().unwrap().clone()
    }
}

fn document_ids(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    v["TraceSegmentDocuments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let doc: serde_json::Value = serde_json::from_str(d.as_str()?).ok()?;
            Some(doc["id"].as_str()?.to_owned())
        })
        .collect()
}

fn json(status: u16, error_type: Option<&str>, body: String) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(t) = error_type {
        b = b.header("x-amzn-ErrorType", t);
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let ids = document_ids(&body);
    let number = state.calls.fetch_add(1, Ordering::SeqCst);
    let reply = (state.script)(&Call {
        number,
        elapsed: state.started.elapsed(),
        ids: &ids,
    });
    let kind = match &reply {
        Reply::Accept => "accept".to_owned(),
        Reply::Throttle => "throttle".to_owned(),
        Reply::Status(s) => format!("status_{s}"),
        Reply::Stall(_) => "stall".to_owned(),
        Reply::Partial(_) => "partial".to_owned(),
    };
    *state.replies.lock().unwrap().entry(kind).or_default() += 1;
    let accept = |skip: &[(String, String)]| {
        let mut accepted = state.accepted.lock().unwrap();
        for id in &ids {
            if !skip.iter().any(|(s, _)| s == id) {
                *accepted.entry(id.clone()).or_default() += 1;
            }
        }
    };
    Ok(match reply {
        Reply::Accept => {
            accept(&[]);
            json(200, None, r#"{"UnprocessedTraceSegments":[]}"#.to_owned())
        }
        Reply::Throttle => json(
            429,
            Some("ThrottledException"),
            r#"{"message":"Rate exceeded"}"#.to_owned(),
        ),
        Reply::Status(s) => json(
            s,
            Some("ServiceUnavailableException"),
            r#"{"message":"injected server error"}"#.to_owned(),
        ),
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            json(
                503,
                Some("ServiceUnavailableException"),
                r#"{"message":"stalled"}"#.to_owned(),
            )
        }
        Reply::Partial(unprocessed) => {
            accept(&unprocessed);
            let list: Vec<serde_json::Value> = unprocessed
                .iter()
                .map(|(id, code)| {
                    serde_json::json!({"Id": id, "ErrorCode": code, "Message": "injected"})
                })
                .collect();
            json(
                200,
                None,
                serde_json::json!({ "UnprocessedTraceSegments": list }).to_string(),
            )
        }
    })
}
