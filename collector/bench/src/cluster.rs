//! `--stamp`: the cluster a rendered config runs in, so that its default processors do what they
//! do on EKS and every exported document carries its pod's identity.
//!
//! The Kubernetes API is the stand-in the collector's tests use (`harness::k8s_api`, list and
//! watch of pods, replicasets and namespaces, reporting an EKS version). It serves one pod,
//! [`POD`], whose IP is the load generator's source address (both generators send from
//! 127.0.0.1), so `k8sattributes` finds it for every datagram and every OTLP connection, and the
//! stamping splice writes `aws.eks`, `origin` and the `otel.resource.*` metadata into each X-Ray
//! document. The collector reaches the stand-in as the delivery tests of
//! `collector/tests/it/deployed.rs` do: each `k8sattributes` gets `auth_type: kubeConfig`
//! (`rendered::rewrite`), `KUBECONFIG` names a kubeconfig for the stand-in, and
//! `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` (set in every pod) point at it, which is
//! also what tells the `eks` detector it runs on Kubernetes.
//!
//! The sink checks the result: it counts the exported documents (or spans) that carry
//! [`POD`]'s uid, which only the pod lookup can have put there (`sink.rs`, `/bench/stamp/UID`).

use std::path::PathBuf;

use anyhow::Context;
use harness::k8s_api::{K8sApi, Workload};

/// The load generator, as the stand-in serves it.
pub const POD: Workload<'static> = Workload {
    namespace: "bench",
    deployment: "loadgen",
    replicaset: "loadgen-6b7f9c8d5",
    pod: "loadgen-6b7f9c8d5-b3nch",
    uid: "0d1b5e7c-9a3f-4c2e-8b71-5e1d0be7c4a2",
    ip: "127.0.0.1",
    node: "bench-node",
};

/// `K8S_CLUSTER_NAME` when the rendered input does not set one (a plain collector config).
pub const CLUSTER_NAME: &str = "xray-bench";

/// The running stand-in and its kubeconfig file (removed on drop).
pub struct Cluster {
    api: K8sApi,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts the stand-in with [`POD`] and writes its kubeconfig.
    pub fn start() -> anyhow::Result<Cluster> {
        let api = K8sApi::try_start().context("starting the Kubernetes API stand-in")?;
        api.apply_workload(&POD);
        let kubeconfig =
            std::env::temp_dir().join(format!("xray-bench-{}-kubeconfig.yaml", std::process::id()));
        std::fs::write(&kubeconfig, api.kubeconfig())
            .with_context(|| format!("writing {}", kubeconfig.display()))?;
        Ok(Cluster { api, kubeconfig })
    }

    /// The stand-in's URL.
    pub fn url(&self) -> String {
        self.api.url()
    }

    /// The collector's environment for the stand-in.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KUBECONFIG".into(), self.kubeconfig.display().to_string()),
            ("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()),
            (
                "KUBERNETES_SERVICE_PORT".into(),
                self.api.addr.port().to_string(),
            ),
        ]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_serves_the_load_generator_as_a_pod_with_its_deployment() {
        let cluster = Cluster::start().unwrap();
        let env = cluster.env();
        let port: u16 = env
            .iter()
            .find(|(k, _)| k == "KUBERNETES_SERVICE_PORT")
            .unwrap()
            .1
            .parse()
            .unwrap();
        let (status, body) = crate::http_get(port, "/api/v1/pods").unwrap();
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        let pod = &list["items"][0];
        assert_eq!(pod["status"]["podIP"], POD.ip);
        assert_eq!(pod["metadata"]["uid"], POD.uid);
        assert_eq!(
            pod["metadata"]["ownerReferences"][0]["name"],
            POD.replicaset
        );
        let (_, body) = crate::http_get(port, "/apis/apps/v1/replicasets").unwrap();
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            list["items"][0]["metadata"]["ownerReferences"][0]["name"],
            POD.deployment
        );
        let (_, path) = env.iter().find(|(k, _)| k == "KUBECONFIG").unwrap();
        let kubeconfig = std::path::PathBuf::from(path);
        let text = std::fs::read_to_string(&kubeconfig).unwrap();
        assert!(text.contains(&cluster.url()), "{text}");
        drop(cluster);
        assert!(
            !kubeconfig.exists(),
            "the kubeconfig is removed with the cluster"
        );
    }
}
