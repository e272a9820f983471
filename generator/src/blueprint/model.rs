//! The blueprint format, `v1alpha1`: the typed form of one blueprint YAML file.
//!
//! These types are inert data. They are deserialized only after the YAML has passed the JSON schema
//! generated from them (`schemas/blueprint.schema.json`); semantic rules live in `validate/`, and
//! every derived value is computed once in `plan/`. Every field carries a doc comment because
//! schemars turns them into the schema's descriptions, which editors show while completing.
//! Option names are snake_case with unit suffixes (`_secs`, `_percent`), as STYLE.md asks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only `apiVersion` this generator reads.
pub const API_VERSION: &str = "xray-blueprints.io/v1alpha1";

/// The only `kind` this generator reads.
pub const KIND: &str = "Blueprint";

/// The name of the ECR repository a blueprint creates for the collector image when it names no
/// `image.repository`: `<blueprint name>/` followed by this.
pub const IMAGE_REPOSITORY_NAME: &str = "xray-collector";

/// The AWS managed policy that lets the collector send segments to X-Ray (and read sampling rules).
pub const DEFAULT_POLICY_NAME: &str = "AWSXRayDaemonWriteAccess";

/// One blueprint: how a platform team wants AWS X-Ray tracing on one EKS cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "xray-blueprints Blueprint v1alpha1")]
pub struct Blueprint {
    /// The format version; always `xray-blueprints.io/v1alpha1`.
    #[schemars(extend("const" = API_VERSION))]
    pub api_version: String,
    /// The object kind; always `Blueprint`.
    #[schemars(extend("const" = KIND))]
    pub kind: String,
    /// The blueprint's name and the tags put on every AWS resource it creates.
    pub metadata: Metadata,
    /// What to build.
    pub spec: Spec,
}

/// Identity of the blueprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The blueprint name: a DNS-1123 label (lower-case letters, digits and `-`, at most 63
    /// characters). It must equal the file name without `.yaml`, and names the golden output directory.
    pub name: String,
    /// Tags put on every AWS resource the blueprint creates (sorted in the output).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The desired state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The EKS cluster: one that exists already, or one the blueprint creates.
    pub cluster: Cluster,
    /// Pinned versions of the EKS add-ons the collector needs. There is no "latest": a pinned version
    /// keeps every apply identical and avoids the add-on/Kubernetes version gaps users hit most often.
    pub addons: Addons,
    /// The AWS identity the collector runs as.
    #[serde(default)]
    pub identity: Identity,
    /// The OpenTelemetry collector that receives X-Ray segments and OTLP and exports to X-Ray.
    pub collector: Collector,
    /// CloudWatch Transaction Search for the account, which X-Ray's OTLP endpoint requires; off
    /// (left as the account has it) when omitted.
    #[serde(default)]
    pub transaction_search: Option<TransactionSearch>,
    /// Metrics to Amazon Managed Service for Prometheus through its managed scraper (the AWS
    /// guide's metrics path); off when omitted.
    #[serde(default)]
    pub metrics: Option<Metrics>,
    /// Which outputs `blueprint render` writes (all three when omitted).
    #[serde(default = "default_targets")]
    pub targets: Vec<TargetName>,
}

/// An output of `blueprint render`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TargetName {
    /// Terraform root modules under `terraform/`.
    Terraform,
    /// An AWS CDK cloud assembly under `cdk/` (`cdk deploy --app cdk`).
    Cdk,
    /// Kubernetes manifests under `kubernetes/` (`kubectl apply -k kubernetes`).
    Kubernetes,
}

fn default_targets() -> Vec<TargetName> {
    vec![
        TargetName::Terraform,
        TargetName::Cdk,
        TargetName::Kubernetes,
    ]
}

/// The cluster the collector runs on: exactly one of `existing` or `create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cluster {
    /// A cluster that already exists; the blueprint adds add-ons, identity and the collector to it.
    Existing(ExistingCluster),
    /// A cluster the blueprint creates, with its network and managed node groups.
    Create(NewCluster),
}

/// A cluster that already exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingCluster {
    /// The EKS cluster name.
    pub name: String,
    /// The AWS region of the cluster, for example `us-east-1`: one of `docs/regions.md`.
    pub region: String,
    /// The 12-digit AWS account id that owns the cluster (quote it in YAML: `"123456789012"`).
    pub account_id: String,
    /// The cluster's Kubernetes version, `1.NN` (quote it in YAML: `"1.33"`).
    pub kubernetes_version: String,
    /// The cluster's OIDC issuer, with or without `https://`, for example
    /// `oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`. When omitted, the
    /// Terraform and CDK outputs look it up at deploy time.
    #[serde(default)]
    pub oidc_issuer: Option<String>,
    /// Whether the cluster runs EKS Auto Mode, whose nodes have the Pod Identity agent built in
    /// (so the blueprint never installs the `eks-pod-identity-agent` add-on on it).
    #[serde(default)]
    pub auto_mode: bool,
}

/// A cluster the blueprint creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCluster {
    /// The EKS cluster name.
    pub name: String,
    /// The AWS region to create the cluster in, for example `eu-west-1`: one of `docs/regions.md`,
    /// with at least `az_count` availability zones.
    pub region: String,
    /// The 12-digit AWS account id to create the cluster in (quote it in YAML).
    pub account_id: String,
    /// The Kubernetes version, `1.NN` (quote it in YAML: `"1.33"`).
    pub kubernetes_version: String,
    /// Where the cluster's network comes from: a VPC to create, or existing subnets.
    pub network: Network,
    /// Managed node groups; at least one.
    pub node_groups: Vec<NodeGroup>,
    /// Who can reach the cluster's API endpoint.
    #[serde(default)]
    pub endpoint: EndpointAccess,
    /// Control-plane log types sent to CloudWatch Logs (`api`, `audit`, `authenticator`,
    /// `controllerManager`, `scheduler`).
    #[serde(default = "default_log_types")]
    pub log_types: Vec<ControlPlaneLogType>,
    /// How the cluster authenticates IAM principals.
    #[serde(default)]
    pub authentication_mode: AuthenticationMode,
}

fn default_log_types() -> Vec<ControlPlaneLogType> {
    vec![
        ControlPlaneLogType::Api,
        ControlPlaneLogType::Audit,
        ControlPlaneLogType::Authenticator,
    ]
}

/// The network of a created cluster: exactly one of `vpc` or `existing_subnets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Create a VPC with one public and one private subnet per availability zone.
    Vpc(NewVpc),
    /// Use subnets that exist already.
    ExistingSubnets(ExistingSubnets),
}

/// A VPC to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVpc {
    /// The VPC's IPv4 CIDR block, a `/16` to `/24` network such as `10.0.0.0/16`.
    pub cidr: String,
    /// How many availability zones to spread subnets over (2 to 4; EKS needs at least 2).
    #[serde(default = "default_az_count")]
    #[schemars(range(min = 2, max = 4))]
    pub az_count: u8,
}

fn default_az_count() -> u8 {
    3
}

/// Existing subnets for the cluster and its nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingSubnets {
    /// Subnet ids (`subnet-` and 8 or 17 hex digits) in at least two availability zones.
    pub subnet_ids: Vec<String>,
}

/// One EKS managed node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    /// The node group name (DNS-1123 label).
    pub name: String,
    /// EC2 instance types, for example `m6i.large`.
    pub instance_types: Vec<String>,
    /// The smallest number of nodes.
    #[serde(default = "default_min_size")]
    pub min_size: u32,
    /// The largest number of nodes.
    #[serde(default = "default_max_size")]
    pub max_size: u32,
    /// The number of nodes to start with (between `min_size` and `max_size`).
    #[serde(default = "default_desired_size")]
    pub desired_size: u32,
    /// The node AMI type.
    #[serde(default)]
    pub ami_type: AmiType,
    /// On-demand or spot capacity.
    #[serde(default)]
    pub capacity_type: CapacityType,
    /// The root volume size in GiB.
    #[serde(default = "default_disk_size_gib")]
    #[schemars(range(min = 20, max = 16384))]
    pub disk_size_gib: u32,
}

fn default_min_size() -> u32 {
    2
}
fn default_max_size() -> u32 {
    4
}
fn default_desired_size() -> u32 {
    2
}
fn default_disk_size_gib() -> u32 {
    50
}

/// The AMI type of a managed node group (EKS `amiType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AmiType {
    /// Amazon Linux 2023, x86-64.
    #[default]
    #[serde(rename = "AL2023_x86_64_STANDARD")]
    Al2023X8664Standard,
    /// Amazon Linux 2023, arm64 (Graviton).
    #[serde(rename = "AL2023_ARM_64_STANDARD")]
    Al2023Arm64Standard,
    /// Bottlerocket, x86-64.
    #[serde(rename = "BOTTLEROCKET_x86_64")]
    BottlerocketX8664,
    /// Bottlerocket, arm64.
    #[serde(rename = "BOTTLEROCKET_ARM_64")]
    BottlerocketArm64,
}

/// The capacity type of a managed node group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CapacityType {
    /// On-demand instances.
    #[default]
    OnDemand,
    /// Spot instances.
    Spot,
}

/// Access to the cluster's Kubernetes API endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointAccess {
    /// Whether the endpoint is reachable from the internet.
    #[serde(default)]
    pub public_access: bool,
    /// Whether the endpoint is reachable from inside the VPC.
    #[serde(default = "default_true")]
    pub private_access: bool,
    /// The CIDR blocks allowed to reach the public endpoint (only with `public_access: true`).
    #[serde(default)]
    pub public_access_cidrs: Vec<String>,
}

impl Default for EndpointAccess {
    fn default() -> Self {
        Self {
            public_access: false,
            private_access: true,
            public_access_cidrs: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

/// A control-plane log type (EKS `enabledClusterLoggingTypes`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ControlPlaneLogType {
    /// API server logs.
    Api,
    /// Audit logs.
    Audit,
    /// Authenticator logs.
    Authenticator,
    /// Controller manager logs.
    ControllerManager,
    /// Scheduler logs.
    Scheduler,
}

/// How a created cluster authenticates IAM principals (EKS `accessConfig.authenticationMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthenticationMode {
    /// EKS access entries only.
    #[default]
    Api,
    /// Access entries and the `aws-auth` ConfigMap.
    ApiAndConfigMap,
}

/// The EKS add-ons the collector needs: each one installed by the blueprint (an EKS add-on at a
/// pinned version) or already present on the cluster (`mode: existing`: nothing is created, and
/// the rendered READMEs say what must be present and how to check it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Addons {
    /// cert-manager, the EKS community add-on `cert-manager`; the ADOT add-on's webhook needs it first.
    pub cert_manager: Addon,
    /// The ADOT add-on `adot`, which installs the OpenTelemetry Operator. Must be v0.102.0 or newer
    /// (the generator emits the `opentelemetry.io/v1beta1` collector) and support the cluster's
    /// Kubernetes version (see the table in `docs/adot-versions.md`).
    pub adot: Addon,
    /// The EKS Pod Identity agent add-on `eks-pod-identity-agent` (only with `identity.mode:
    /// pod_identity`). Default: installed at EKS's default version, or `existing` on an EKS Auto
    /// Mode cluster, where the agent is built in.
    #[serde(default)]
    pub pod_identity_agent: Option<PodIdentityAgent>,
    /// How EKS resolves conflicts with fields a team already set on the cluster's objects. The
    /// default never overwrites: `none` on create, `preserve` on update.
    #[serde(default)]
    pub resolve_conflicts: ResolveConflicts,
    /// How long Terraform waits for each add-on to create, update and delete (CloudFormation has
    /// no such setting: its EKS add-on handler waits on its own schedule).
    #[serde(default)]
    pub timeouts: Option<AddonTimeouts>,
}

/// One add-on the collector needs: installed at a pinned version, or already on the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    /// `install` (the default): the blueprint creates the EKS add-on at `version`. `existing`: the
    /// cluster has it already (for example cert-manager from Helm): nothing is created and nothing
    /// is overwritten.
    #[serde(default)]
    pub mode: AddonMode,
    /// The exact add-on version, for example `v0.151.0-eksbuild.1`; never `latest`. Required with
    /// `mode: install`; with `existing`, the version the cluster runs (checked like a pinned one).
    #[serde(default)]
    pub version: Option<String>,
    /// The add-on's configuration values (EKS `configurationValues`), as YAML; the outputs pass
    /// them on as a JSON string. Checked against the pinned version's configuration schema, recorded
    /// in `generator/addon-schemas/`. Only with `mode: install`.
    #[serde(default)]
    pub configuration_values: Option<BTreeMap<String, serde_json::Value>>,
    /// Keep the add-on's software on the cluster when the add-on is deleted (EKS stops managing it).
    #[serde(default)]
    pub preserve_on_delete: bool,
}

/// The Pod Identity agent add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodIdentityAgent {
    /// `install`: the blueprint creates the add-on; `existing`: the agent runs already (always on
    /// EKS Auto Mode, where it is built in). Default: `install`, or `existing` on Auto Mode.
    #[serde(default)]
    pub mode: Option<AddonMode>,
    /// An exact add-on version, for example `v1.3.8-eksbuild.2`; EKS's default for the cluster's
    /// Kubernetes version when omitted.
    #[serde(default)]
    pub version: Option<String>,
    /// The agent's configuration values (EKS `configurationValues`), as YAML. Only with `install`.
    #[serde(default)]
    pub configuration_values: Option<BTreeMap<String, serde_json::Value>>,
    /// Keep the agent on the cluster when the add-on is deleted.
    #[serde(default)]
    pub preserve_on_delete: bool,
}

/// Who provides an add-on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddonMode {
    /// The blueprint creates the EKS add-on, pinned.
    #[default]
    Install,
    /// The cluster has it already; the blueprint creates nothing for it.
    Existing,
}

/// Conflict resolution of the EKS add-ons this blueprint installs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveConflicts {
    /// On create: `none` (the default: the create fails rather than change what a team installed)
    /// or `overwrite` (EKS sets every conflicting field to its default).
    #[serde(default)]
    pub on_create: ConflictOnCreate,
    /// On update: `preserve` (the default: EKS keeps fields a team changed), `none` (the update
    /// fails on a conflict) or `overwrite`.
    #[serde(default)]
    pub on_update: ConflictOnUpdate,
}

/// EKS `resolveConflicts` on create (PRESERVE is not accepted on create).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictOnCreate {
    /// `NONE`: EKS changes nothing; the create may fail.
    #[default]
    None,
    /// `OVERWRITE`: EKS overwrites conflicting fields with its defaults.
    Overwrite,
}

/// EKS `resolveConflicts` on update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictOnUpdate {
    /// `PRESERVE`: EKS keeps the values a team changed.
    #[default]
    Preserve,
    /// `NONE`: EKS changes nothing; the update may fail.
    None,
    /// `OVERWRITE`: EKS overwrites changed values with its defaults.
    Overwrite,
}

/// Terraform's create, update and delete timeouts of each add-on, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddonTimeouts {
    /// Minutes to wait for an add-on to turn ACTIVE after create (Terraform's default is 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 180))]
    pub create_mins: Option<u32>,
    /// Minutes to wait for an update (Terraform's default is 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 180))]
    pub update_mins: Option<u32>,
    /// Minutes to wait for a delete (Terraform's default is 40).
    #[serde(default)]
    #[schemars(range(min = 1, max = 180))]
    pub delete_mins: Option<u32>,
}

/// The AWS identity of the collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// How pods get AWS credentials: IRSA (the default) or EKS Pod Identity.
    #[serde(default)]
    pub mode: IdentityMode,
    /// The IAM role name (1 to 64 characters of `A-Za-z0-9+=,.@_-`). Default:
    /// `<cluster name>-<collector name>-xray`; when that is longer than 64 characters, its first
    /// 55 characters, `-` and 8 hex digits of a hash of the whole name.
    #[serde(default)]
    pub role_name: Option<String>,
    /// Managed policy ARNs attached to the role. Default with the `xray-api` exporter: the
    /// partition's `arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess`; with `otlp`: none, because
    /// the role gets an inline policy with exactly the X-Ray actions the collector calls.
    #[serde(default)]
    pub policy_arns: Option<Vec<String>>,
    /// An optional permissions boundary policy ARN for the role.
    #[serde(default)]
    pub permissions_boundary_arn: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            mode: IdentityMode::Irsa,
            role_name: None,
            policy_arns: None,
            permissions_boundary_arn: None,
        }
    }
}

/// How the collector's pods get AWS credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMode {
    /// IAM roles for service accounts: an OIDC trust policy and the `eks.amazonaws.com/role-arn`
    /// annotation on the ServiceAccount.
    #[default]
    Irsa,
    /// EKS Pod Identity: the `eks-pod-identity-agent` add-on and a pod identity association.
    PodIdentity,
}

/// The collector deployed by the OpenTelemetry Operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// The `OpenTelemetryCollector` name (DNS-1123 label, at most 42 characters so that the
    /// operator's `<name>-collector-monitoring` Service name stays within 63).
    #[serde(default = "default_collector_name")]
    pub name: String,
    /// The namespace the collector runs in (DNS-1123 label).
    pub namespace: String,
    /// The ServiceAccount the collector runs as (DNS-1123 subdomain); the IAM trust policy names it.
    pub service_account: String,
    /// How the operator runs the collector.
    #[serde(default)]
    pub mode: CollectorMode,
    /// The number of pods for `deployment` and `statefulset` (default 2); not with `daemonset`,
    /// which runs one pod per matching node.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: Option<u32>,
    /// A horizontal pod autoscaler (not with `daemonset`).
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// The collector image. Default: the ECR repository the blueprint creates (its Terraform and
    /// CDK outputs), at the generator's version; the rendered READMEs say how to build and push it.
    #[serde(default)]
    pub image: Image,
    /// CPU and memory requests and limits of the collector container.
    #[serde(default)]
    pub resources: Resources,
    /// Node labels the collector pods must match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the collector pods tolerate.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// A pod disruption budget (not with `daemonset`).
    #[serde(default)]
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    /// What the collector listens on.
    #[serde(default)]
    pub receivers: Receivers,
    /// How spans are batched before export.
    #[serde(default)]
    pub batch: Batch,
    /// How spans are exported to X-Ray: `type: xray-api` (the default) or `type: otlp`.
    #[serde(default)]
    pub exporter: XrayExporter,
    /// Keep the exporter's sending queue on disk (a `file_storage` extension), so that an X-Ray
    /// outage, an OOM kill or a restart loses nothing received, up to the disk bound; in memory
    /// only when omitted. The volume follows the mode: an `emptyDir` for `deployment` (survives
    /// container restarts, not the pod's deletion), a PersistentVolumeClaim per pod for
    /// `statefulset` (survives rescheduling), a `hostPath` directory for `daemonset` (survives the
    /// pod, stays on its node).
    #[serde(default)]
    pub persistent_queue: Option<PersistentQueue>,
    /// The segments (or spans) per second one collector pod is expected to export at peak; sizes
    /// the exporter's calls in flight (`sending_queue.num_consumers`, see `docs/generator.md`).
    #[serde(default = "default_expected_segments_per_second")]
    #[schemars(range(min = 1, max = 1000000))]
    pub expected_segments_per_second: u32,
}

fn default_expected_segments_per_second() -> u32 {
    2000
}

/// The sending queue on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersistentQueue {
    /// The volume's size as a Kubernetes quantity (`Mi` or `Gi`, at least `128Mi`): the `emptyDir`
    /// `sizeLimit` (a pod whose volume grows past it is evicted), the PersistentVolumeClaim's
    /// request, or, for a daemonset's `hostPath`, the node disk the queue may take.
    #[serde(default = "default_queue_volume_size")]
    #[schemars(regex(pattern = r"^[0-9]+(Mi|Gi)$"))]
    pub volume_size: String,
    /// The queue's disk bound in the collector's configuration (`file_storage.max_size_bytes`), a
    /// quantity (`Mi` or `Gi`); batches beyond it are refused and counted. Default: the volume size
    /// less the headroom (a tenth of the volume, at least 16 MiB), which is also its upper limit.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9]+(Mi|Gi)$"))]
    pub max_size: Option<String>,
    /// `statefulset` only: the StorageClass of the PersistentVolumeClaims; the cluster's default
    /// class when omitted.
    #[serde(default)]
    pub storage_class: Option<String>,
    /// `daemonset` only: the node directory under which each collector keeps its queue
    /// (`<host_path>/<namespace>/<collector name>`); default `/var/lib/xray-collector`.
    #[serde(default)]
    pub host_path: Option<String>,
    /// `fsync` every batch and acknowledgement: survives a node crash too, at one disk sync per
    /// batch. A `kill -9` or an OOM kill loses nothing either way.
    #[serde(default)]
    pub fsync: bool,
}

fn default_queue_volume_size() -> String {
    "1Gi".to_owned()
}

/// The node directory a daemonset's persistent queue lives under when the blueprint names none.
pub const DEFAULT_QUEUE_HOST_PATH: &str = "/var/lib/xray-collector";

fn default_collector_name() -> String {
    "xray".to_owned()
}
/// The replica count of a deployment or statefulset whose blueprint names none.
pub const DEFAULT_REPLICAS: u32 = 2;

/// How the operator runs the collector. `sidecar` is not offered: a sidecar runs under the
/// application pod's ServiceAccount, so the collector's IAM role would not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectorMode {
    /// A Deployment behind a ClusterIP Service.
    #[default]
    Deployment,
    /// One pod per node; applications send to the collector on their own node.
    Daemonset,
    /// A StatefulSet with stable pod names.
    Statefulset,
}

/// A horizontal pod autoscaler for the collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// The smallest number of pods.
    #[schemars(range(min = 1))]
    pub min_replicas: u32,
    /// The largest number of pods (at least `min_replicas`).
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: u32,
    /// The average CPU utilisation, in percent of the request, the autoscaler aims for.
    #[serde(default = "default_target_cpu")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percent: u32,
}

fn default_target_cpu() -> u32 {
    80
}

/// A container image: a repository plus a tag, optionally pinned by digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The image repository, for example `123456789012.dkr.ecr.us-east-1.amazonaws.com/team/xray-collector`.
    /// Default: the ECR repository `<blueprint name>/xray-collector` that the blueprint's Terraform
    /// and CDK outputs create in the cluster's account and region.
    #[serde(default)]
    pub repository: Option<String>,
    /// The image tag; default: the generator's own version.
    #[serde(default = "default_image_tag")]
    pub tag: String,
    /// An optional digest, `sha256:` and 64 hex digits; when set, the image is pulled by digest.
    #[serde(default)]
    pub digest: Option<String>,
    /// The CPU architectures the image has (its OCI config's `architecture`; `xray-collector-image
    /// build` packages the build host's). The pods get a `kubernetes.io/arch` node affinity for
    /// them. Default: `[amd64]`.
    #[serde(default = "default_architectures")]
    pub architectures: Vec<Architecture>,
}

impl Default for Image {
    fn default() -> Self {
        Self {
            repository: None,
            tag: default_image_tag(),
            digest: None,
            architectures: default_architectures(),
        }
    }
}

fn default_architectures() -> Vec<Architecture> {
    vec![Architecture::Amd64]
}

/// A CPU architecture, as Kubernetes' `kubernetes.io/arch` label and OCI spell it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// x86-64.
    Amd64,
    /// 64-bit ARM (Graviton).
    Arm64,
}

impl Architecture {
    /// The name as `kubernetes.io/arch` and OCI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl AmiType {
    /// The architecture of the nodes this AMI type runs on.
    pub fn architecture(self) -> Architecture {
        match self {
            AmiType::Al2023X8664Standard | AmiType::BottlerocketX8664 => Architecture::Amd64,
            AmiType::Al2023Arm64Standard | AmiType::BottlerocketArm64 => Architecture::Arm64,
        }
    }
}
fn default_image_tag() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Container resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for the collector.
    #[serde(default = "default_requests")]
    pub requests: ResourceAmounts,
    /// The most the collector may use; memory above the limit gets the pod killed.
    #[serde(default = "default_limits")]
    pub limits: ResourceAmounts,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            requests: default_requests(),
            limits: default_limits(),
        }
    }
}

fn default_requests() -> ResourceAmounts {
    ResourceAmounts {
        cpu: "100m".to_owned(),
        memory: "128Mi".to_owned(),
    }
}
fn default_limits() -> ResourceAmounts {
    ResourceAmounts {
        cpu: "1".to_owned(),
        memory: "512Mi".to_owned(),
    }
}

/// CPU and memory as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU, for example `250m` or `1`.
    #[schemars(regex(pattern = r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"))]
    pub cpu: String,
    /// Memory, for example `256Mi` or `1Gi`.
    #[schemars(regex(pattern = r"^[0-9]+(Ki|Mi|Gi)$"))]
    pub memory: String,
}

/// A Kubernetes toleration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint key; empty with `operator: Exists` tolerates every taint.
    #[serde(default)]
    pub key: Option<String>,
    /// `Equal` (the default) or `Exists`.
    #[serde(default)]
    pub operator: TolerationOperator,
    /// The taint value (only with `Equal`).
    #[serde(default)]
    pub value: Option<String>,
    /// The taint effect; all effects when omitted.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

/// A toleration operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TolerationOperator {
    /// The taint's value must equal `value`.
    #[default]
    Equal,
    /// Any value.
    Exists,
}

/// A taint effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TaintEffect {
    /// Pods are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node.
    PreferNoSchedule,
    /// Running pods are evicted.
    NoExecute,
}

/// A pod disruption budget: exactly one of the two fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodDisruptionBudget {
    /// The number of pods that must stay available during voluntary disruptions.
    #[serde(default)]
    pub min_available: Option<u32>,
    /// The number of pods that may be unavailable during voluntary disruptions.
    #[serde(default)]
    pub max_unavailable: Option<u32>,
}

/// The collector's receivers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receivers {
    /// The X-Ray daemon protocol receiver (segments over UDP), always on.
    #[serde(default)]
    pub xray: XrayReceiver,
    /// The OTLP receiver (OpenTelemetry SDKs), off when omitted.
    #[serde(default)]
    pub otlp: Option<OtlpReceiver>,
}

/// The X-Ray daemon protocol receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XrayReceiver {
    /// The UDP port segments arrive on (`AWS_XRAY_DAEMON_ADDRESS`); 2000 like the X-Ray daemon.
    #[serde(default = "default_xray_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub udp_port: u16,
    /// The TCP proxy that X-Ray SDKs use for sampling rules and targets; off when omitted.
    #[serde(default)]
    pub sampling_proxy: Option<SamplingProxy>,
}

impl Default for XrayReceiver {
    fn default() -> Self {
        Self {
            udp_port: default_xray_port(),
            sampling_proxy: None,
        }
    }
}

fn default_xray_port() -> u16 {
    2000
}

/// The X-Ray sampling proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SamplingProxy {
    /// The TCP port of the proxy; 2000 like the X-Ray daemon (TCP and UDP 2000 do not clash).
    #[serde(default = "default_xray_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub tcp_port: u16,
}

/// The OTLP receiver: at least one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiver {
    /// OTLP over gRPC; off when omitted.
    #[serde(default)]
    pub grpc: Option<OtlpProtocol>,
    /// OTLP over HTTP; off when omitted.
    #[serde(default)]
    pub http: Option<OtlpProtocol>,
}

/// One OTLP protocol listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpProtocol {
    /// The TCP port; the OTLP defaults are 4317 (gRPC) and 4318 (HTTP).
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
}

/// The batch processor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Spans per batch that trigger a send; at most 50, the `PutTraceSegments` limit.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1))]
    pub send_batch_size: u32,
    /// The largest batch ever sent; at most 50 and at least `send_batch_size`.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1))]
    pub send_batch_max_size: u32,
    /// Seconds after which a batch is sent even if it is not full.
    #[serde(default = "default_batch_timeout_secs")]
    #[schemars(range(min = 1, max = 60))]
    pub timeout_secs: u32,
}

impl Default for Batch {
    fn default() -> Self {
        Self {
            send_batch_size: default_batch_size(),
            send_batch_max_size: default_batch_size(),
            timeout_secs: default_batch_timeout_secs(),
        }
    }
}

fn default_batch_size() -> u32 {
    50
}
fn default_batch_timeout_secs() -> u32 {
    1
}

/// How the collector exports to X-Ray: through the `PutTraceSegments` API (`xray-api`, the
/// default) or to X-Ray's OTLP endpoint (`otlp`). Both send to the same X-Ray traces; switching is
/// one line in the blueprint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XrayExporter {
    /// `xray-api` (the default): the `awsxray` exporter, which converts spans to segment documents
    /// and calls `PutTraceSegments`. `otlp`: the `otlphttp` exporter, which sends OTLP/HTTP
    /// protobuf, gzip-compressed and SigV4-signed (service `xray`), to
    /// `https://xray.<region>.amazonaws.com/v1/traces`; that endpoint needs CloudWatch Transaction
    /// Search enabled in the account (see `spec.transaction_search`).
    #[serde(default, rename = "type")]
    pub kind: ExporterType,
    /// The region spans are sent to; default: the cluster's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Span attributes turned into X-Ray annotations (indexed, searchable); `xray-api` only. With
    /// `otlp`, X-Ray reads annotations from the spans' own attributes, set by the application.
    #[serde(default)]
    pub indexed_attributes: Vec<String>,
    /// Turn every span attribute into an annotation; `xray-api` only.
    #[serde(default)]
    pub index_all_attributes: bool,
}

/// The exporter the collector sends spans to X-Ray with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExporterType {
    /// The `awsxray` exporter and the `PutTraceSegments` API.
    #[default]
    XrayApi,
    /// The `otlphttp` exporter and X-Ray's OTLP endpoint, signed by the `sigv4auth` extension.
    Otlp,
}

/// CloudWatch Transaction Search: X-Ray stores every span in the CloudWatch Logs group `aws/spans`
/// and indexes a share of them as trace summaries. It is an account-wide, per-region setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionSearch {
    /// Whether the Terraform and CDK outputs enable Transaction Search in the cluster's account and
    /// region (the Kubernetes output cannot: it only documents the setting).
    pub enabled: bool,
    /// The percentage of spans indexed as trace summaries, 0 to 100 (AWS's default is 1; indexing
    /// beyond the free 1 % is billed).
    #[serde(default = "default_indexing_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub indexing_percent: u32,
}

fn default_indexing_percent() -> u32 {
    1
}

/// Metrics: an Amazon Managed Service for Prometheus (AMP) workspace, the AMP managed scraper for
/// the cluster (agentless: nothing runs in the cluster but RBAC), and alert rules on the
/// collector's own counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// The workspace metrics are written to: one the blueprint creates, or an existing one.
    pub workspace: MetricsWorkspace,
    /// Seconds between scrapes; the managed scraper accepts 30 or more.
    #[serde(default = "default_scrape_interval_secs")]
    #[schemars(range(min = 30, max = 3600))]
    pub scrape_interval_secs: u32,
    /// The subnets the scraper's network interfaces go in (at least two, in two availability
    /// zones). Default: the cluster's subnets (for an existing cluster, Terraform reads them; the
    /// CDK stack takes them as a parameter).
    #[serde(default)]
    pub subnet_ids: Option<Vec<String>>,
    /// The security groups of the scraper's network interfaces. Default: the cluster security
    /// group (for an existing cluster, Terraform reads it; the CDK stack takes it as a parameter).
    #[serde(default)]
    pub security_group_ids: Option<Vec<String>>,
    /// Minutes a collector alert's condition must hold before it fires.
    #[serde(default = "default_alert_for_mins")]
    #[schemars(range(min = 1, max = 60))]
    pub alert_for_mins: u32,
}

fn default_scrape_interval_secs() -> u32 {
    30
}
fn default_alert_for_mins() -> u32 {
    5
}

/// The AMP workspace: exactly one of `create` or `existing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricsWorkspace {
    /// Create a workspace, encrypted with a customer managed KMS key.
    Create(NewWorkspace),
    /// Write to a workspace that exists, in the cluster's account, partition and region.
    Existing(ExistingWorkspace),
}

/// A workspace to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    /// The workspace alias (1 to 100 characters). Default: `<cluster name>-xray`.
    #[serde(default)]
    pub alias: Option<String>,
    /// The KMS key that encrypts the workspace. Default: a key the blueprint creates, with yearly
    /// rotation.
    #[serde(default)]
    pub kms_key_arn: Option<String>,
}

/// An existing workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingWorkspace {
    /// The workspace ARN, `arn:<partition>:aps:<region>:<account>:workspace/ws-...`.
    pub arn: String,
}
