//! The Kubernetes API stand-in (feature `k8s-api`): a small HTTP server that serves what the
//! collector's `k8sattributes` processor's kube-rs watches request, in the API's own JSON shapes:
//! `GET /version`; list (`PodList`, `ReplicaSetList`, `NamespaceList` with a `resourceVersion`)
//! and watch (`?watch=1` or `?watch=true`: chunked JSON lines
//! `{"type":"ADDED|MODIFIED|DELETED","object":{...}}`, events after the requested
//! `resourceVersion` first) of pods, replicasets and namespaces, cluster-wide or in one namespace,
//! with the `spec.nodeName=` field selector.
//!
//! No real API server runs in the tests; this is named as the stand-in it is. It can refuse every
//! request with `403` (a service account without RBAC) and records the paths it was asked for.
//!
//! One implementation for two users: the collector's integration tests
//! (`collector/tests/it/e2e_eks_identity.rs`, `deployed.rs`) and the benchmark binary
//! (`collector/bench`, `--stamp`), which serves its load generator's source address as a pod so
//! that rendered configs measure the stamping path. It lives here, behind a feature, because both
//! can depend on this crate: it needs only crates the benchmark already links (hyper, tokio,
//! serde_json), and the generator's tests, which do not enable the feature, do not build them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The kinds served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    ReplicaSet,
    Namespace,
}

impl Kind {
    fn list_kind(self) -> &'static str {
        match self {
            Kind::Pod => "PodList",
            Kind::ReplicaSet => "ReplicaSetList",
            Kind::Namespace => "NamespaceList",
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Kind::ReplicaSet => "apps/v1",
            _ => "v1",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Namespace => "Namespace",
        }
    }
}

/// What a list or watch asked for.
#[derive(Clone, Debug)]
struct Query {
    kind: Kind,
    namespace: Option<String>,
    node: Option<String>,
    watch: bool,
    resource_version: u64,
}

impl Query {
    fn matches(&self, kind: Kind, object: &Value) -> bool {
        kind == self.kind
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| object["metadata"]["namespace"] == ns.as_str())
            && self
                .node
                .as_ref()
                .is_none_or(|node| object["spec"]["nodeName"] == node.as_str())
    }
}

struct Watcher {
    query: Query,
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct Store {
    version: u64,
    /// (kind, namespace, name) -> object.
    objects: BTreeMap<(Kind, String, String), Value>,
    /// Every change: (resource version, kind, event type, object).
    history: Vec<(u64, Kind, &'static str, Value)>,
    watchers: Vec<Watcher>,
}

struct State {
    store: Mutex<Store>,
    deny: AtomicBool,
    requests: Mutex<Vec<String>>,
    git_version: String,
}

/// A running stand-in; it stops when dropped.
pub struct K8sApi {
    pub addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl K8sApi {
    /// Starts the stand-in on a free loopback port, reporting an EKS version (`v1.30.4-eks-…`).
    /// Panics when it cannot (a test's setup failing); see [`K8sApi::try_start`].
    pub fn start() -> K8sApi {
        K8sApi::try_start().expect("start the Kubernetes API stand-in")
    }

    /// Starts the stand-in on a free loopback port, or says why it cannot (no runtime, no port).
    pub fn try_start() -> std::io::Result<K8sApi> {
        let state = Arc::new(State {
            store: Mutex::new(Store::default()),
            deny: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            git_version: "v1.30.4-eks-a737599".to_owned(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("k8s-api-stand-in")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let served = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req)) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(K8sApi {
            addr,
            state,
            _runtime: runtime,
        })
    }

    /// The API's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The text of a kubeconfig for the stand-in (no credentials: it checks none).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: nobody\nusers:\n- name: nobody\n  user: {{}}\ncurrent-context: stand-in\n",
            self.url()
        )
    }

    /// Writes [`K8sApi::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) {
        std::fs::write(path, self.kubeconfig()).expect("write kubeconfig");
    }

    /// Answer `403 Forbidden` to every request from now on (or not).
    pub fn deny(&self, deny: bool) {
        self.state.deny.store(deny, Ordering::SeqCst);
    }

    /// The request paths (with queries) received so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Adds or replaces an object (a `Pod`, `ReplicaSet` or `Namespace` JSON) and tells the
    /// watches.
    pub fn apply(&self, kind: Kind, object: Value) {
        self.change(kind, object, false);
    }

    /// Deletes an object and tells the watches.
    pub fn delete(&self, kind: Kind, object: Value) {
        self.change(kind, object, true);
    }

    fn change(&self, kind: Kind, mut object: Value, delete: bool) {
        let mut store = self.state.store.lock().unwrap();
        store.version += 1;
        let version = store.version;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        let key = (
            kind,
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            object["metadata"]["name"]
                .as_str()
                .expect("metadata.name")
                .to_owned(),
        );
        let event = if delete {
            store.objects.remove(&key);
            "DELETED"
        } else if store.objects.insert(key, object.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        store.history.push((version, kind, event, object.clone()));
        store.watchers.retain(|w| {
            !w.query.matches(kind, &object) || w.tx.send(event_line(kind, event, &object)).is_ok()
        });
    }
}

fn event_line(kind: Kind, event: &str, object: &Value) -> Bytes {
    let mut object = object.clone();
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind());
    let mut line = json!({"type": event, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

type Body = Either<Full<Bytes>, ChannelBody>;

/// A chunked body fed by a channel: one watch.
pub struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn json_response(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Either::Left(Full::new(Bytes::from(body.to_string()))))
        .expect("response")
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn parse(path: &str, query: &str) -> Option<Query> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (kind, namespace) = match parts.as_slice() {
        ["api", "v1", "pods"] => (Kind::Pod, None),
        ["api", "v1", "namespaces", ns, "pods"] => (Kind::Pod, Some((*ns).to_owned())),
        ["api", "v1", "namespaces"] => (Kind::Namespace, None),
        ["apis", "apps", "v1", "replicasets"] => (Kind::ReplicaSet, None),
        ["apis", "apps", "v1", "namespaces", ns, "replicasets"] => {
            (Kind::ReplicaSet, Some((*ns).to_owned()))
        }
        _ => return None,
    };
    let mut q = Query {
        kind,
        namespace,
        node: None,
        watch: false,
        resource_version: 0,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "watch" => q.watch = v == "1" || v == "true",
            "resourceVersion" => q.resource_version = v.parse().unwrap_or(0),
            "fieldSelector" => {
                for selector in v.split(',') {
                    if let Some(node) = selector.strip_prefix("spec.nodeName=") {
                        q.node = Some(node.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Some(q)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok())
            .flatten();
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{path}?{query}"));
    if state.deny.load(Ordering::SeqCst) {
        return status(
            403,
            "Forbidden",
            "the stand-in refuses every request (no RBAC)",
        );
    }
    if path == "/version" {
        return json_response(
            200,
            json!({"major": "1", "minor": "30", "gitVersion": state.git_version,
                   "platform": "linux/amd64"}),
        );
    }
    let Some(q) = parse(&path, &query) else {
        return status(404, "NotFound", "the stand-in does not serve this path");
    };
    let mut store = state.store.lock().unwrap();
    if q.watch {
        let (tx, rx) = mpsc::unbounded_channel();
        for (version, kind, event, object) in &store.history {
            if *version > q.resource_version && q.matches(*kind, object) {
                let _ = tx.send(event_line(*kind, event, object));
            }
        }
        store.watchers.push(Watcher { query: q, tx });
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Either::Right(ChannelBody(rx)))
            .expect("watch response");
    }
    let items: Vec<Value> = store
        .objects
        .iter()
        .filter(|((kind, _, _), object)| q.matches(*kind, object))
        .map(|(_, object)| object.clone())
        .collect();
    json_response(
        200,
        json!({"apiVersion": q.kind.api_version(), "kind": q.kind.list_kind(),
               "metadata": {"resourceVersion": store.version.to_string()}, "items": items}),
    )
}

/// A running pod's JSON: `name` in `namespace` with `uid`, `ip`, on `node`, owned by replicaset
/// `replicaset` when given, with `labels`.
pub fn pod(
    namespace: &str,
    name: &str,
    uid: &str,
    ip: &str,
    node: &str,
    replicaset: Option<&str>,
    labels: &[(&str, &str)],
) -> Value {
    let owners: Vec<Value> = replicaset
        .map(|rs| {
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                   "uid": format!("{rs}-uid"), "controller": true, "blockOwnerDeletion": true})
        })
        .into_iter()
        .collect();
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    json!({
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": labels,
                     "annotations": {"team": "payments"}, "ownerReferences": owners,
                     "creationTimestamp": "2026-12-01T10:00:00Z"},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "hostIP": "10.0.0.1", "startTime": "2026-12-01T10:00:05Z",
                   "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                       "image": "app:1", "imageID": "app@sha256:00",
                       "containerID": "containerd://0123456789abcdef", "state": {"running": {}}}]}
    })
}

/// A replicaset owned by deployment `deployment`.
pub fn replicaset(namespace: &str, name: &str, deployment: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace, "uid": format!("{name}-uid"),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                         "name": deployment, "uid": format!("{deployment}-uid"),
                         "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": deployment}}},
        "status": {"replicas": 1}
    })
}

/// One pod of a deployment, as [`K8sApi::apply_workload`] registers it.
#[derive(Clone, Debug)]
pub struct Workload<'a> {
    pub namespace: &'a str,
    pub deployment: &'a str,
    /// The replicaset between the deployment and the pod (`<deployment>-<hash>`).
    pub replicaset: &'a str,
    pub pod: &'a str,
    pub uid: &'a str,
    /// The pod's IP: the address its spans come from.
    pub ip: &'a str,
    pub node: &'a str,
}

impl K8sApi {
    /// Registers `w`: its namespace, its replicaset (owned by the deployment) and the running pod
    /// (owned by the replicaset, label `app: <deployment>`).
    pub fn apply_workload(&self, w: &Workload<'_>) {
        self.apply(Kind::Namespace, namespace(w.namespace, &[]));
        self.apply(
            Kind::ReplicaSet,
            replicaset(w.namespace, w.replicaset, w.deployment),
        );
        self.apply(
            Kind::Pod,
            pod(
                w.namespace,
                w.pod,
                w.uid,
                w.ip,
                w.node,
                Some(w.replicaset),
                &[("app", w.deployment)],
            ),
        );
    }
}

/// A namespace with `labels`.
pub fn namespace(name: &str, labels: &[(&str, &str)]) -> Value {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    json!({
        "metadata": {"name": name, "uid": format!("{name}-uid"), "labels": labels},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}
    })
}
