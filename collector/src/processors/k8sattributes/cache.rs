//! The bounded pod cache the Kubernetes watch fills and the processor reads: pods by IP, by UID,
//! by container ID and by namespace and name, replicaset owners (for `k8s.deployment.name`) and namespace metadata.
//!
//! Bounds: at most `max_pods` pods and as many replicasets; a pod beyond the bound is not cached
//! and is counted by the caller. A deleted pod stays for [`DELETE_GRACE`] (spans it sent just
//! before it went away still find it), then is evicted; a new pod with the same IP takes the IP
//! at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a deleted pod stays in the cache (contrib waits two minutes too).
pub const DELETE_GRACE: Duration = Duration::from_secs(120);

/// What the cache keeps of one pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMeta {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub node: String,
    /// `status.startTime`, RFC 3339.
    pub start_time: String,
    /// The pod's IPs, empty for host-network pods (their IP is the node's).
    pub ips: Vec<IpAddr>,
    /// The owning ReplicaSet's name and UID, when the controller owner is one.
    pub replicaset: Option<(String, String)>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The IDs of the pod's containers (`status.containerStatuses[].containerID` without the
    /// `<runtime>://` prefix).
    pub containers: Vec<String>,
}

/// What the cache keeps of one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceMeta {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

struct Entry {
    pod: Arc<PodMeta>,
    deleted_at: Option<Instant>,
}

/// Whether a pod was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Yes,
    /// The cache holds `max_pods` live pods already.
    Full,
}

/// The cache (behind a lock in the processor).
pub struct Cache {
    max_pods: usize,
    grace: Duration,
    pods: HashMap<String, Entry>,
    by_ip: HashMap<IpAddr, String>,
    by_container: HashMap<String, String>,
    /// (namespace, pod name) -> UID.
    by_name: HashMap<(String, String), String>,
    /// (namespace, replicaset name) -> deployment name ("" when not owned by a deployment).
    replicasets: HashMap<(String, String), String>,
    namespaces: HashMap<String, NamespaceMeta>,
    /// UIDs seen since the watch (re)started its list, to retire pods the new list lacks.
    relisting: Option<HashSet<String>>,
    /// Changes with every edit, so that readers can tell whether what they derived from the
    /// cache still holds ([`Cache::generation`]).
    generation: u64,
}

impl Cache {
    /// An empty cache of at most `max_pods` pods, evicting deleted pods after `grace`.
    pub fn new(max_pods: usize, grace: Duration) -> Cache {
        Cache {
            max_pods,
            grace,
            pods: HashMap::new(),
            by_ip: HashMap::new(),
            by_container: HashMap::new(),
            by_name: HashMap::new(),
            replicasets: HashMap::new(),
            namespaces: HashMap::new(),
            relisting: None,
            generation: 0,
        }
    }

    /// A number that changes whenever the cache is edited (every `&mut self` method).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Pods held, deleted ones in their grace period included.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is held.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Adds or updates a pod.
    pub fn apply_pod(&mut self, pod: PodMeta, now: Instant) -> Stored {
        self.generation = self.generation.wrapping_add(1);
        if let Some(seen) = &mut self.relisting {
            seen.insert(pod.uid.clone());
        }
        if !self.pods.contains_key(&pod.uid) && self.pods.len() >= self.max_pods {
            self.evict(now);
            if self.pods.len() >= self.max_pods {
                return Stored::Full;
            }
        }
        let uid = pod.uid.clone();
        if let Some(old) = self.pods.get(&uid) {
            for ip in &old.pod.ips {
                if !pod.ips.contains(ip) && self.by_ip.get(ip) == Some(&uid) {
                    self.by_ip.remove(ip);
                }
            }
            for id in &old.pod.containers {
                if !pod.containers.contains(id) && self.by_container.get(id) == Some(&uid) {
                    self.by_container.remove(id);
                }
            }
        }
        for ip in &pod.ips {
            self.by_ip.insert(*ip, uid.clone());
        }
        for id in &pod.containers {
            self.by_container.insert(id.clone(), uid.clone());
        }
        self.by_name
            .insert((pod.namespace.clone(), pod.name.clone()), uid.clone());
        self.pods.insert(
            uid,
            Entry {
                pod: Arc::new(pod),
                deleted_at: None,
            },
        );
        Stored::Yes
    }

    /// Marks a pod deleted; it is evicted after the grace period.
    pub fn delete_pod(&mut self, uid: &str, now: Instant) {
        self.generation = self.generation.wrapping_add(1);
        if let Some(entry) = self.pods.get_mut(uid) {
            entry.deleted_at.get_or_insert(now);
        }
    }

    /// The watch starts a new list: pods it does not list again count as deleted at its end.
    pub fn begin_relist(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.relisting = Some(HashSet::new());
    }

    /// The new list is complete.
    pub fn end_relist(&mut self, now: Instant) {
        self.generation = self.generation.wrapping_add(1);
        if let Some(seen) = self.relisting.take() {
            let gone: Vec<String> = self
                .pods
                .keys()
                .filter(|uid| !seen.contains(*uid))
                .cloned()
                .collect();
            for uid in gone {
                self.delete_pod(&uid, now);
            }
        }
    }

    /// Drops pods deleted more than the grace period ago.
    pub fn evict(&mut self, now: Instant) {
        self.generation = self.generation.wrapping_add(1);
        let grace = self.grace;
        let expired: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, e)| e.deleted_at.is_some_and(|t| now.duration_since(t) >= grace))
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in expired {
            if let Some(entry) = self.pods.remove(&uid) {
                for ip in &entry.pod.ips {
                    if self.by_ip.get(ip) == Some(&uid) {
                        self.by_ip.remove(ip);
                    }
                }
                for id in &entry.pod.containers {
                    if self.by_container.get(id) == Some(&uid) {
                        self.by_container.remove(id);
                    }
                }
                let name = (entry.pod.namespace.clone(), entry.pod.name.clone());
                if self.by_name.get(&name) == Some(&uid) {
                    self.by_name.remove(&name);
                }
            }
        }
    }

    /// The pod whose IP is `ip`.
    pub fn by_ip(&self, ip: &IpAddr) -> Option<Arc<PodMeta>> {
        let uid = self.by_ip.get(ip)?;
        self.pods.get(uid).map(|e| e.pod.clone())
    }

    /// The pod with container `id`.
    pub fn by_container(&self, id: &str) -> Option<Arc<PodMeta>> {
        let uid = self.by_container.get(id)?;
        self.pods.get(uid).map(|e| e.pod.clone())
    }

    /// The pod named `name` in `namespace`.
    pub fn by_name(&self, namespace: &str, name: &str) -> Option<Arc<PodMeta>> {
        let uid = self.by_name.get(&(namespace.to_owned(), name.to_owned()))?;
        self.pods.get(uid).map(|e| e.pod.clone())
    }

    /// The pod whose UID is `uid`.
    pub fn by_uid(&self, uid: &str) -> Option<Arc<PodMeta>> {
        self.pods.get(uid).map(|e| e.pod.clone())
    }

    /// Records a replicaset's owning deployment (`""` when none); bounded like the pods.
    pub fn apply_replicaset(&mut self, namespace: &str, name: &str, deployment: &str) -> Stored {
        self.generation = self.generation.wrapping_add(1);
        let key = (namespace.to_owned(), name.to_owned());
        if !self.replicasets.contains_key(&key) && self.replicasets.len() >= self.max_pods {
            return Stored::Full;
        }
        self.replicasets.insert(key, deployment.to_owned());
        Stored::Yes
    }

    /// Forgets a replicaset.
    pub fn delete_replicaset(&mut self, namespace: &str, name: &str) {
        self.generation = self.generation.wrapping_add(1);
        self.replicasets
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// The deployment owning replicaset `name` in `namespace`, when known.
    pub fn deployment(&self, namespace: &str, name: &str) -> Option<&str> {
        self.replicasets
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(String::as_str)
            .filter(|d| !d.is_empty())
    }

    /// Records a namespace's labels and annotations.
    pub fn apply_namespace(&mut self, name: &str, meta: NamespaceMeta) {
        self.generation = self.generation.wrapping_add(1);
        self.namespaces.insert(name.to_owned(), meta);
    }

    /// Forgets a namespace.
    pub fn delete_namespace(&mut self, name: &str) {
        self.generation = self.generation.wrapping_add(1);
        self.namespaces.remove(name);
    }

    /// A namespace's metadata, when known.
    pub fn namespace(&self, name: &str) -> Option<&NamespaceMeta> {
        self.namespaces.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, ip: &str) -> PodMeta {
        PodMeta {
            uid: uid.to_owned(),
            name: format!("pod-{uid}"),
            namespace: "shop".to_owned(),
            ips: vec![ip.parse().unwrap()],
            ..PodMeta::default()
        }
    }

    #[test]
    fn the_bound_refuses_new_pods_but_updates_known_ones() {
        let now = Instant::now();
        let mut cache = Cache::new(2, DELETE_GRACE);
        assert_eq!(cache.apply_pod(pod("a", "10.0.0.1"), now), Stored::Yes);
        assert_eq!(cache.apply_pod(pod("b", "10.0.0.2"), now), Stored::Yes);
        assert_eq!(cache.apply_pod(pod("c", "10.0.0.3"), now), Stored::Full);
        assert!(cache.by_ip(&"10.0.0.3".parse().unwrap()).is_none());
        // An update of a cached pod is not a new pod.
        assert_eq!(cache.apply_pod(pod("a", "10.0.0.9"), now), Stored::Yes);
        assert!(cache.by_ip(&"10.0.0.1".parse().unwrap()).is_none());
        assert_eq!(cache.by_ip(&"10.0.0.9".parse().unwrap()).unwrap().uid, "a");
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn deleted_pods_stay_for_the_grace_period_then_make_room() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(10);
        let mut cache = Cache::new(1, grace);
        cache.apply_pod(pod("a", "10.0.0.1"), t0);
        cache.delete_pod("a", t0);
        // Still found during the grace period, and still holding its place.
        assert_eq!(cache.by_ip(&"10.0.0.1".parse().unwrap()).unwrap().uid, "a");
        assert_eq!(cache.apply_pod(pod("b", "10.0.0.2"), t0), Stored::Full);
        // After it, the deleted pod is evicted to make room.
        let later = t0 + grace;
        assert_eq!(cache.apply_pod(pod("b", "10.0.0.2"), later), Stored::Yes);
        assert!(cache.by_uid("a").is_none());
        assert!(cache.by_ip(&"10.0.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn a_reused_ip_belongs_to_the_new_pod_even_after_the_old_one_is_evicted() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10, Duration::from_secs(1));
        cache.apply_pod(pod("old", "10.0.0.1"), t0);
        cache.delete_pod("old", t0);
        cache.apply_pod(pod("new", "10.0.0.1"), t0);
        assert_eq!(
            cache.by_ip(&"10.0.0.1".parse().unwrap()).unwrap().uid,
            "new"
        );
        cache.evict(t0 + Duration::from_secs(2));
        assert_eq!(
            cache.by_ip(&"10.0.0.1".parse().unwrap()).unwrap().uid,
            "new"
        );
    }

    #[test]
    fn a_relist_retires_pods_it_no_longer_lists() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10, Duration::from_secs(1));
        cache.apply_pod(pod("a", "10.0.0.1"), t0);
        cache.apply_pod(pod("b", "10.0.0.2"), t0);
        cache.begin_relist();
        cache.apply_pod(pod("b", "10.0.0.2"), t0);
        cache.end_relist(t0);
        cache.evict(t0 + Duration::from_secs(1));
        assert!(cache.by_uid("a").is_none());
        assert!(cache.by_uid("b").is_some());
    }

    #[test]
    fn pods_are_found_by_container_and_by_name_until_evicted() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10, Duration::from_secs(1));
        let mut a = pod("a", "10.0.0.1");
        a.containers = vec!["c1".into(), "c2".into()];
        cache.apply_pod(a.clone(), t0);
        assert_eq!(cache.by_container("c2").unwrap().uid, "a");
        assert_eq!(cache.by_name("shop", "pod-a").unwrap().uid, "a");
        assert!(cache.by_name("other", "pod-a").is_none());
        // A restarted container has a new ID; the old one no longer finds the pod.
        a.containers = vec!["c1".into(), "c3".into()];
        cache.apply_pod(a, t0);
        assert!(cache.by_container("c2").is_none());
        assert_eq!(cache.by_container("c3").unwrap().uid, "a");
        cache.delete_pod("a", t0);
        cache.evict(t0 + Duration::from_secs(1));
        assert!(cache.by_container("c1").is_none());
        assert!(cache.by_name("shop", "pod-a").is_none());
    }

    #[test]
    fn replicasets_name_their_deployment() {
        let mut cache = Cache::new(10, DELETE_GRACE);
        cache.apply_replicaset("shop", "checkout-5d9f", "checkout");
        cache.apply_replicaset("shop", "bare-rs", "");
        assert_eq!(cache.deployment("shop", "checkout-5d9f"), Some("checkout"));
        assert_eq!(cache.deployment("shop", "bare-rs"), None);
        assert_eq!(cache.deployment("other", "checkout-5d9f"), None);
        cache.delete_replicaset("shop", "checkout-5d9f");
        assert_eq!(cache.deployment("shop", "checkout-5d9f"), None);
    }
}
