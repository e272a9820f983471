//! The Kubernetes side of `k8sattributes`: a kube-rs client (in-cluster service account, or a
//! kubeconfig) and `kube::runtime::watcher`s (list, then watch, re-listing with backoff after
//! errors) of pods (optionally one node's or one namespace's, narrowed by the label and field
//! selectors of `filter.labels` / `filter.fields`), replicasets (for deployment names) and
//! namespaces (for their labels and annotations), feeding the [`Cache`].
//!
//! Nothing here stops the collector by itself: without API access the watch logs a warning, sets
//! `processor_k8sattributes_api_up` to 0, counts the failed requests and keeps retrying; the
//! processor meanwhile passes spans unchanged. Only `wait_for_metadata` turns a watch that has
//! not listed within `wait_for_metadata_timeout` into a start-up error ([`Shared::wait_synced`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;
use kube::config::KubeConfigOptions;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use super::cache::{Cache, NamespaceMeta, PodMeta, Stored};
use super::config::K8sAttributesConfig;
use crate::telemetry::Telemetry;

/// How often deleted pods past their grace period are evicted.
const EVICT_EVERY: Duration = Duration::from_secs(10);

/// Why the Kubernetes client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `auth_type: serviceAccount` outside a pod (or without its token and CA).
    #[error("in-cluster config (KUBERNETES_SERVICE_HOST, the service account's token and CA)")]
    InCluster(#[from] kube::config::InClusterError),
    /// `auth_type: kubeConfig` without a usable kubeconfig.
    #[error("kubeconfig")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// The client itself.
    #[error("Kubernetes client")]
    Client(#[from] kube::Error),
}

/// What the watch and the processor share.
pub struct Shared {
    /// The pod cache.
    pub cache: RwLock<Cache>,
    /// The processor id, for logs and metrics.
    pub processor: String,
    /// The collector's counters.
    pub telemetry: Telemetry,
    /// Whether the pod watch has listed once and is not failing.
    up: AtomicBool,
    /// Whether a warning about API access was logged since the watch was last in sync.
    warned: AtomicBool,
    /// Whether the replicaset and namespace watches have listed once.
    replicasets_synced: AtomicBool,
    namespaces_synced: AtomicBool,
    /// The last API error, for the `wait_for_metadata` start-up error.
    last_error: Mutex<Option<String>>,
}

impl Shared {
    /// Shared state for processor `processor`, with an empty cache.
    pub fn new(processor: String, cache: Cache, telemetry: Telemetry) -> Shared {
        telemetry.k8s_api_up(&processor, false);
        telemetry.k8s_pods(&processor, 0);
        Shared {
            cache: RwLock::new(cache),
            processor,
            telemetry,
            up: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            replicasets_synced: AtomicBool::new(false),
            namespaces_synced: AtomicBool::new(false),
            last_error: Mutex::new(None),
        }
    }

    /// Whether every watch `cfg` needs has listed once (pods, and replicasets and namespaces
    /// when it needs them).
    pub fn is_synced(&self, cfg: &K8sAttributesConfig) -> bool {
        self.is_up()
            && (!cfg.needs_replicasets() || self.replicasets_synced.load(Ordering::Relaxed))
            && (!cfg.needs_namespaces() || self.namespaces_synced.load(Ordering::Relaxed))
    }

    /// Blocks the calling thread until [`Shared::is_synced`], or fails after `timeout` naming the
    /// last API error. The watch runs on other threads (call it from a multi-thread runtime's
    /// `block_in_place`, or outside any runtime).
    pub fn wait_synced(
        &self,
        cfg: &K8sAttributesConfig,
        timeout: Duration,
    ) -> Result<(), NotSynced> {
        let deadline = Instant::now() + timeout;
        while !self.is_synced(cfg) {
            if Instant::now() >= deadline {
                let last = match self.last_error.lock() {
                    Ok(g) => g.clone(),
                    Err(p) => p.into_inner().clone(),
                };
                return Err(NotSynced {
                    timeout,
                    last_error: last.unwrap_or_else(|| "no answer yet".to_owned()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn record_error(&self, text: String) {
        match self.last_error.lock() {
            Ok(mut g) => *g = Some(text),
            Err(p) => *p.into_inner() = Some(text),
        }
    }

    /// Whether the pod watch is in sync.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut Cache) -> T) -> T {
        let mut cache = match self.cache.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let out = f(&mut cache);
        self.telemetry.k8s_pods(&self.processor, cache.len());
        out
    }

    fn failed(&self, what: &str, error: &(dyn std::error::Error + 'static)) {
        self.telemetry.k8s_api_error(&self.processor);
        self.record_error(format!(
            "{what}: {}",
            crate::telemetry::logs::error_chain(error)
        ));
        if what == "pods" {
            self.up.store(false, Ordering::Relaxed);
            self.telemetry.k8s_api_up(&self.processor, false);
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                processor = %self.processor,
                resource = what,
                error = %crate::telemetry::logs::error_chain(error),
                "No access to the Kubernetes API: spans pass without pod metadata until it answers (retrying)."
            );
        }
    }

    fn synced(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            self.telemetry.k8s_api_up(&self.processor, true);
            self.warned.store(false, Ordering::Relaxed);
            let pods = self.with_cache(|c| c.len());
            tracing::info!(processor = %self.processor, pods, "Kubernetes pod cache filled.");
        }
    }
}

/// `wait_for_metadata` gave up: the watches did not list within the timeout.
#[derive(Debug, thiserror::Error)]
#[error(
    "wait_for_metadata: the pod metadata did not sync from the Kubernetes API within {timeout:?} (last error: {last_error}); check API access and RBAC (get/list/watch on pods, replicasets, namespaces), raise wait_for_metadata_timeout, or set wait_for_metadata: false"
)]
pub struct NotSynced {
    /// `wait_for_metadata_timeout`.
    pub timeout: Duration,
    /// The last API error seen, or "no answer yet".
    pub last_error: String,
}

/// The client `cfg.auth_type` asks for.
pub async fn client(cfg: &K8sAttributesConfig) -> Result<kube::Client, ClientError> {
    let config = if cfg.auth_type == "kubeConfig" {
        kube::Config::from_kubeconfig(&KubeConfigOptions::default()).await?
    } else {
        kube::Config::incluster()?
    };
    Ok(kube::Client::try_from(config)?)
}

/// Starts the watches (tasks that hold no trace data; they end when `stop` is cancelled).
pub fn start(cfg: &K8sAttributesConfig, shared: Arc<Shared>, stop: CancellationToken) {
    let cfg = cfg.clone();
    let task = async move {
        let client = match client(&cfg).await {
            Ok(client) => client,
            Err(error) => {
                shared.telemetry.k8s_api_error(&shared.processor);
                shared.record_error(crate::telemetry::logs::error_chain(&error));
                tracing::warn!(
                    processor = %shared.processor,
                    auth_type = %cfg.auth_type,
                    error = %crate::telemetry::logs::error_chain(&error),
                    "No access to the Kubernetes API: spans pass without pod metadata."
                );
                return;
            }
        };
        let node = cfg.node();
        if let Some(node) = &node {
            tracing::info!(processor = %shared.processor, node, "Watching the pods of one node.");
        } else if !cfg.filter.node_from_env_var.is_empty() {
            tracing::warn!(
                processor = %shared.processor,
                variable = %cfg.filter.node_from_env_var,
                "filter.node_from_env_var names an unset variable: watching the pods of every node."
            );
        }
        let namespace = Some(cfg.filter.namespace.clone()).filter(|n| !n.is_empty());
        let pods: Api<Pod> = match &namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let mut pod_watch = watcher::Config::default();
        if let Some(fields) = cfg.field_selector(node.as_deref()) {
            pod_watch = pod_watch.fields(&fields);
        }
        if let Some(labels) = cfg.label_selector() {
            pod_watch = pod_watch.labels(&labels);
        }
        let mut watches = tokio::task::JoinSet::new();
        watches.spawn(watch_pods(pods, pod_watch, shared.clone()));
        if cfg.needs_replicasets() {
            let replicasets: Api<ReplicaSet> = match &namespace {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            };
            watches.spawn(watch_replicasets(replicasets, shared.clone()));
        }
        if cfg.needs_namespaces() {
            let namespaces: Api<Namespace> = Api::all(client);
            watches.spawn(watch_namespaces(namespaces, shared.clone()));
        }
        let mut tick = tokio::time::interval(EVICT_EVERY);
        loop {
            tick.tick().await;
            shared.with_cache(|c| c.evict(Instant::now()));
        }
    };
    tokio::spawn(async move {
        tokio::select! {
            () = task => {}
            () = stop.cancelled() => {}
        }
    });
}

async fn watch_pods(api: Api<Pod>, config: watcher::Config, shared: Arc<Shared>) {
    let mut events = Box::pin(watcher::watcher(api, config).default_backoff());
    while let Some(event) = events.next().await {
        let now = Instant::now();
        match event {
            Ok(Event::Init) => shared.with_cache(Cache::begin_relist),
            Ok(Event::InitApply(pod) | Event::Apply(pod)) => {
                let meta = pod_meta(&pod);
                if shared.with_cache(|c| c.apply_pod(meta, now)) == Stored::Full {
                    shared
                        .telemetry
                        .k8s_pod_not_cached(&shared.processor, "pod");
                }
            }
            Ok(Event::Delete(pod)) => {
                let uid = pod.metadata.uid.unwrap_or_default();
                shared.with_cache(|c| c.delete_pod(&uid, now));
            }
            Ok(Event::InitDone) => {
                shared.with_cache(|c| c.end_relist(now));
                shared.synced();
            }
            Err(error) => shared.failed("pods", &error),
        }
    }
}

async fn watch_replicasets(api: Api<ReplicaSet>, shared: Arc<Shared>) {
    let mut events = Box::pin(watcher::watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::InitApply(rs) | Event::Apply(rs)) => {
                let namespace = rs.metadata.namespace.clone().unwrap_or_default();
                let name = rs.metadata.name.clone().unwrap_or_default();
                let deployment = controller(&rs.metadata, "Deployment")
                    .map(|(name, _)| name)
                    .unwrap_or_default();
                if shared.with_cache(|c| c.apply_replicaset(&namespace, &name, &deployment))
                    == Stored::Full
                {
                    shared
                        .telemetry
                        .k8s_pod_not_cached(&shared.processor, "replicaset");
                }
            }
            Ok(Event::Delete(rs)) => {
                let namespace = rs.metadata.namespace.unwrap_or_default();
                let name = rs.metadata.name.unwrap_or_default();
                shared.with_cache(|c| c.delete_replicaset(&namespace, &name));
            }
            Ok(Event::InitDone) => shared.replicasets_synced.store(true, Ordering::Relaxed),
            Ok(Event::Init) => {}
            Err(error) => shared.failed("replicasets", &error),
        }
    }
}

async fn watch_namespaces(api: Api<Namespace>, shared: Arc<Shared>) {
    let mut events = Box::pin(watcher::watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::InitApply(ns) | Event::Apply(ns)) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                let meta = NamespaceMeta {
                    labels: ns.metadata.labels.unwrap_or_default(),
                    annotations: ns.metadata.annotations.unwrap_or_default(),
                };
                shared.with_cache(|c| c.apply_namespace(&name, meta));
            }
            Ok(Event::Delete(ns)) => {
                let name = ns.metadata.name.unwrap_or_default();
                shared.with_cache(|c| c.delete_namespace(&name));
            }
            Ok(Event::InitDone) => shared.namespaces_synced.store(true, Ordering::Relaxed),
            Ok(Event::Init) => {}
            Err(error) => shared.failed("namespaces", &error),
        }
    }
}

/// The controller owner of `kind`: (name, uid).
fn controller(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    kind: &str,
) -> Option<(String, String)> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == kind && o.controller.unwrap_or(false))
        .map(|o| (o.name.clone(), o.uid.clone()))
}

/// What the cache keeps of `pod`.
pub fn pod_meta(pod: &Pod) -> PodMeta {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let mut ips = Vec::new();
    if !host_network {
        if let Some(status) = status {
            for ip in status
                .pod_ips
                .iter()
                .flatten()
                .map(|p| p.ip.as_str())
                .chain(status.pod_ip.as_deref())
            {
                if let Ok(ip) = ip.parse() {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
    }
    PodMeta {
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        start_time: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| {
                t.0.to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_default(),
        ips,
        replicaset: controller(&pod.metadata, "ReplicaSet"),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        annotations: pod.metadata.annotations.clone().unwrap_or_default(),
        containers: status
            .into_iter()
            .flat_map(|s| {
                s.container_statuses
                    .iter()
                    .flatten()
                    .chain(s.init_container_statuses.iter().flatten())
            })
            .filter_map(|c| c.container_id.as_deref())
            .map(|id| id.split_once("://").map_or(id, |(_, bare)| bare).to_owned())
            .filter(|id| !id.is_empty())
            .collect(),
    }
}
