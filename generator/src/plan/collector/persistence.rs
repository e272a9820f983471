//! The persistent sending queue: the `file_storage` extension and `sending_queue.storage` in the
//! collector's configuration, and the volume under it in the custom resource's `spec`.
//!
//! The volume follows the mode, and so does what it guarantees (the rendered README states it):
//! * `deployment`: an `emptyDir` with a `sizeLimit`. It outlives the container (an OOM kill, a
//!   crash, `kill -9`), not the pod: deleting or evicting the pod loses what is queued.
//! * `statefulset`: a PersistentVolumeClaim per pod (`volumeClaimTemplates`). It outlives the pod:
//!   a rescheduled pod reattaches its claim and sends what the previous one queued.
//! * `daemonset`: a `hostPath` directory `<host_path>/<namespace>/<name>` on the node. It outlives
//!   the pod and a node reboot, not the node. Kubelet creates the directory owned by root, so an
//!   init container (the collector image, `xray-collector prepare-dir`, root with only
//!   `CAP_CHOWN`) hands it to the collector's user before the collector starts.
//!
//! The queue's disk bound (`file_storage.max_size_bytes`) stays below the volume by the headroom
//! (`blueprint::rules::queue_headroom_bytes`): the log's `ack` file and its replacement, the file system's own overhead,
//! and for an `emptyDir`, the margin before the kubelet evicts the pod for exceeding `sizeLimit`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::blueprint::model::{Collector, CollectorMode, DEFAULT_QUEUE_HOST_PATH};
use crate::blueprint::rules::{mem_bytes, queue_headroom_bytes};
use crate::plan::ordered::Ordered;

/// The volume's name in the pod.
pub const VOLUME_NAME: &str = "sending-queue";

/// Where the volume is mounted in the collector container, and the `file_storage` directory.
pub const MOUNT_PATH: &str = "/var/lib/xray-collector/queue";

/// The `file_storage` extension's id in the configuration.
pub const EXTENSION: &str = "file_storage";

/// The persistent queue of a collector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersistencePlan {
    /// `emptyDir`, `persistentVolumeClaim` or `hostPath`.
    pub volume: String,
    /// The volume's size as the blueprint wrote it (`1Gi`).
    pub volume_size: String,
    /// The volume's size in bytes.
    pub volume_bytes: u64,
    /// The queue's disk bound, `file_storage.max_size_bytes`.
    pub max_size_bytes: u64,
    /// The directory in the container, `file_storage.directory`.
    pub mount_path: String,
    /// For a daemonset, the node directory.
    pub host_path: Option<String>,
    /// For a statefulset, the StorageClass (the cluster's default when `None`).
    pub storage_class: Option<String>,
    /// Whether every batch is synced to disk.
    pub fsync: bool,
}

impl PersistencePlan {
    /// The persistent queue of `col`, if it has one; its sizes were checked by validation.
    pub fn new(col: &Collector) -> Option<PersistencePlan> {
        let q = col.persistent_queue.as_ref()?;
        let volume_bytes = mem_bytes(&q.volume_size).unwrap_or(1 << 30);
        let max_size_bytes = q
            .max_size
            .as_deref()
            .and_then(mem_bytes)
            .unwrap_or_else(|| volume_bytes.saturating_sub(queue_headroom_bytes(volume_bytes)));
        let volume = match col.mode {
            CollectorMode::Deployment => "emptyDir",
            CollectorMode::Statefulset => "persistentVolumeClaim",
            CollectorMode::Daemonset => "hostPath",
        };
        Some(PersistencePlan {
            volume: volume.to_owned(),
            volume_size: q.volume_size.clone(),
            volume_bytes,
            max_size_bytes,
            mount_path: MOUNT_PATH.to_owned(),
            host_path: (col.mode == CollectorMode::Daemonset).then(|| {
                let base = q.host_path.as_deref().unwrap_or(DEFAULT_QUEUE_HOST_PATH);
                format!(
                    "{}/{}/{}",
                    base.trim_end_matches('/'),
                    col.namespace,
                    col.name
                )
            }),
            storage_class: q
                .storage_class
                .clone()
                .filter(|_| col.mode == CollectorMode::Statefulset),
            fsync: q.fsync,
        })
    }

    /// Adds the `file_storage` extension to `config` and puts the exporter's sending queue on it.
    pub fn configure(&self, config: &mut Value, exporter: &str) {
        config["extensions"][EXTENSION] = json!({
            "directory": self.mount_path,
            "max_size_bytes": self.max_size_bytes,
            "fsync": self.fsync,
        });
        if let Some(Value::Array(list)) = config.pointer_mut("/service/extensions") {
            list.push(json!(EXTENSION));
        }
        config["exporters"][exporter]["sending_queue"]["storage"] = json!(EXTENSION);
    }

    /// The `spec` entries that give the pod its volume: `volumeMounts`, and `volumes` or
    /// `volumeClaimTemplates`, and for a daemonset the `initContainers` that hand the node
    /// directory to the collector's user `run_as` (with the collector image `image`).
    pub fn spec_entries(&self, image: &str, run_as: u32) -> Vec<(&'static str, Ordered)> {
        let mut mount = Ordered::object();
        mount.insert("name", json!(VOLUME_NAME));
        mount.insert("mountPath", json!(self.mount_path));
        let mut entries = vec![("volumeMounts", Ordered::List(vec![mount]))];
        match self.volume.as_str() {
            "persistentVolumeClaim" => {
                let mut spec = Ordered::object();
                spec.insert("accessModes", json!(["ReadWriteOnce"]));
                if let Some(class) = &self.storage_class {
                    spec.insert("storageClassName", json!(class));
                }
                spec.insert(
                    "resources",
                    json!({"requests": {"storage": self.volume_size}}),
                );
                let mut claim = Ordered::object();
                claim.insert("metadata", json!({"name": VOLUME_NAME}));
                claim.insert("spec", spec);
                entries.push(("volumeClaimTemplates", Ordered::List(vec![claim])));
            }
            "hostPath" => {
                let path = self.host_path.clone().unwrap_or_default();
                let mut volume = Ordered::object();
                volume.insert("name", json!(VOLUME_NAME));
                volume.insert(
                    "hostPath",
                    json!({"path": path, "type": "DirectoryOrCreate"}),
                );
                entries.push(("volumes", Ordered::List(vec![volume])));
                entries.push((
                    "initContainers",
                    Ordered::List(vec![self.prepare(image, run_as)]),
                ));
            }
            _ => {
                let mut volume = Ordered::object();
                volume.insert("name", json!(VOLUME_NAME));
                volume.insert("emptyDir", json!({"sizeLimit": self.volume_size}));
                entries.push(("volumes", Ordered::List(vec![volume])));
            }
        }
        entries
    }

    /// The init container that makes the daemonset's node directory the collector's: root, every
    /// capability dropped but `CHOWN`, read-only root file system.
    fn prepare(&self, image: &str, run_as: u32) -> Ordered {
        let mut it = Ordered::object();
        it.insert("name", json!("prepare-sending-queue"));
        it.insert("image", json!(image));
        it.insert(
            "args",
            json!([
                "prepare-dir",
                format!("--dir={}", self.mount_path),
                format!("--owner={run_as}:{run_as}"),
            ]),
        );
        let mut security = Ordered::object();
        security.insert("allowPrivilegeEscalation", json!(false));
        security.insert("readOnlyRootFilesystem", json!(true));
        security.insert("runAsNonRoot", json!(false));
        security.insert("runAsUser", json!(0));
        security.insert("capabilities", json!({"add": ["CHOWN"], "drop": ["ALL"]}));
        it.insert("securityContext", security);
        let mut mount = Ordered::object();
        mount.insert("name", json!(VOLUME_NAME));
        mount.insert("mountPath", json!(self.mount_path));
        it.insert("volumeMounts", Ordered::List(vec![mount]));
        it
    }
}
