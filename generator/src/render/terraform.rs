//! The Terraform target: two root modules applied in order, `cluster/` then `workloads/`.
//!
//! `cluster/` uses only the `hashicorp/aws` provider: the VPC and the EKS cluster when the blueprint
//! creates them (data sources when the cluster exists), the collector's IAM role (IRSA or EKS Pod
//! Identity), the cert-manager and ADOT add-ons the blueprint installs, and the AMP workspace,
//! managed scraper and alert rules of `spec.metrics`. `workloads/` holds the Kubernetes objects of the
//! Kubernetes target (namespace, service account, the `OpenTelemetryCollector`), through the
//! `hashicorp/kubernetes` provider. They are separate root modules because HashiCorp's Kubernetes
//! provider documentation asks for the cluster and the Kubernetes resources to be applied
//! separately, and because `kubernetes_manifest` needs the collector's CRD (installed by the ADOT
//! add-on) at plan time.
//!
//! The templates hold the fixed HCL, already in `terraform fmt` layout. Values whose shape comes
//! from the blueprint go through the `hcl`, `hcl_attr` and `hcl_string` filters (`hcl.rs`), which
//! lay them out exactly as `terraform fmt` does, so the output passes `terraform fmt -check`.

pub mod hcl;

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::blueprint::adot_versions;
use crate::plan::Plan;
use crate::render::engine::{RenderCause, RenderError, render_template};

/// The files of the cluster module, each rendered from `terraform/cluster/<file>.j2`.
/// `network.tf` is rendered only when the blueprint creates a VPC, `transaction_search.tf` only when
/// it enables CloudWatch Transaction Search, `image.tf` (the collector's ECR repository) only when
/// the blueprint names no image repository of its own, `metrics.tf` only with `spec.metrics`.
const CLUSTER_FILES: [&str; 10] = [
    "addons.tf",
    "cluster.tf",
    "identity.tf",
    "image.tf",
    "metrics.tf",
    "network.tf",
    "outputs.tf",
    "transaction_search.tf",
    "variables.tf",
    "versions.tf",
];

/// The files of the workloads module, each rendered from `terraform/workloads/<file>.j2`.
const WORKLOADS_FILES: [&str; 4] = ["main.tf", "outputs.tf", "variables.tf", "versions.tf"];

/// What the Terraform templates see: the plan, plus the few values shaped for HCL.
#[derive(Serialize)]
struct Context<'a> {
    plan: &'a Plan,
    /// The cluster to create, or `None` for an existing cluster (a shorthand for
    /// `plan.cluster.create`).
    create: Option<&'a crate::plan::NewClusterPlan>,
    /// The node groups as the `node_groups` variable's default: a map keyed by name.
    node_groups: Value,
    /// The HCL address of the cluster: the resource, or the data source for an existing cluster.
    cluster: &'static str,
    /// The HCL address of the IAM OIDC provider (IRSA only): the resource, or the data source.
    oidc_provider: &'static str,
    /// The `OpenTelemetryCollector`'s `spec` for `kubernetes_manifest`: the plan's (the Kubernetes
    /// target's), with `serviceAccount` referring to the service account resource, which orders
    /// the two.
    manifest_spec: Value,
    /// CloudWatch Logs' regional service principal in the module's region (`var.region`).
    logs_principal: String,
    /// The ADOT add-on versions the `adot_addon_version` variable accepts: exactly those blueprint
    /// validation accepts (`adot_versions::known_adot_versions`).
    adot_versions: Vec<String>,
    /// The cert-manager add-on versions the `cert_manager_addon_version` variable accepts.
    cert_manager_versions: Vec<String>,
    /// Whether a created cluster's Kubernetes version is one EKS supports but checkov's
    /// CKV_AWS_339 does not list yet, so the cluster resource skips that check with the reason.
    checkov_lags_kubernetes_version: bool,
}

/// Renders `terraform/`: `cluster/*.tf`, `workloads/*.tf` and `README.md`.
pub fn render(
    env: &Environment<'static>,
    plan: &Plan,
) -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let mut env = env.clone();
    env.add_filter("hcl", filter_hcl);
    env.add_filter("hcl_attr", filter_hcl_attr);
    env.add_filter("hcl_string", filter_hcl_string);

    let create = plan.cluster.create.as_ref();
    let node_groups = create
        .map(|c| {
            let groups: Map<String, Value> = c
                .node_groups
                .iter()
                .map(|g| {
                    (
                        g.name.clone(),
                        json!({
                            "ami_type": g.ami_type,
                            "capacity_type": g.capacity_type,
                            "desired_size": g.desired_size,
                            "disk_size": g.disk_size_gib,
                            "instance_types": g.instance_types,
                            "max_size": g.max_size,
                            "min_size": g.min_size,
                        }),
                    )
                })
                .collect();
            Value::Object(groups)
        })
        .unwrap_or(Value::Null);
    let mut manifest_spec = plan.collector.spec.to_json();
    if hcl::contains_raw(&manifest_spec) {
        return Err(RenderError {
            what: "terraform/workloads/main.tf".to_owned(),
            cause: RenderCause::RawMarker,
        });
    }
    manifest_spec["serviceAccount"] =
        hcl::raw("kubernetes_service_account_v1.collector.metadata[0].name");
    let ctx = Context {
        plan,
        create,
        node_groups,
        cluster: if create.is_some() {
            "aws_eks_cluster.this"
        } else {
            "data.aws_eks_cluster.this"
        },
        oidc_provider: if create.is_some() {
            "aws_iam_openid_connect_provider.this"
        } else {
            "data.aws_iam_openid_connect_provider.this"
        },
        manifest_spec,
        logs_principal: plan
            .aws
            .partition
            .regional_service_principal("logs", "${var.region}"),
        adot_versions: adot_versions::known_adot_versions(),
        cert_manager_versions: adot_versions::known_cert_manager_versions(),
        checkov_lags_kubernetes_version: create.is_some()
            && adot_versions::kubernetes_minor(&plan.cluster.kubernetes_version).is_some_and(
                |minor| {
                    let (_, checkov_max) = adot_versions::CHECKOV_SUPPORTED_KUBERNETES;
                    minor > checkov_max
                },
            ),
    };

    let mut files = BTreeMap::new();
    for file in CLUSTER_FILES {
        if file == "network.tf" && create.and_then(|c| c.vpc.as_ref()).is_none() {
            continue;
        }
        if file == "transaction_search.tf" && plan.transaction_search.is_none() {
            continue;
        }
        if file == "metrics.tf" && plan.metrics.is_none() {
            continue;
        }
        if file == "image.tf" && plan.image.ecr.is_none() {
            continue;
        }
        let text = render_template(&env, &format!("terraform/cluster/{file}.j2"), &ctx)?;
        files.insert(PathBuf::from("cluster").join(file), text);
    }
    for file in WORKLOADS_FILES {
        let text = render_template(&env, &format!("terraform/workloads/{file}.j2"), &ctx)?;
        files.insert(PathBuf::from("workloads").join(file), text);
    }
    let text = render_template(&env, "terraform/README.md.j2", &ctx)?;
    files.insert(PathBuf::from("README.md"), text);
    Ok(files)
}

fn to_json(value: &minijinja::Value) -> Result<Value, Error> {
    serde_json::to_value(value)
        .map_err(|err| Error::new(ErrorKind::InvalidOperation, err.to_string()))
}

/// `value|hcl(indent=0)`: a value as an HCL expression for an attribute at `indent` spaces.
fn filter_hcl(value: minijinja::Value, indent: Option<usize>) -> Result<String, Error> {
    Ok(hcl::expression(&to_json(&value)?, indent.unwrap_or(0)))
}

/// `value|hcl_attr(key, width, indent)`: `key = value` for an attribute at `indent` spaces. When
/// the value fits on one line, the key is padded to `width`, the alignment of the single-line
/// attributes just before it; a multi-line value ends that run, so `terraform fmt` writes its key
/// unpadded.
fn filter_hcl_attr(
    value: minijinja::Value,
    key: String,
    width: usize,
    indent: usize,
) -> Result<String, Error> {
    let expr = hcl::expression(&to_json(&value)?, indent);
    let key = hcl::key(&key);
    if expr.contains('\n') {
        Ok(format!("{key} = {expr}"))
    } else {
        Ok(format!("{key:<width$} = {expr}"))
    }
}

/// `value|hcl_string`: a string as an HCL quoted string.
fn filter_hcl_string(value: String) -> String {
    hcl::string(&value)
}
