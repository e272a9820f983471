//! The `aws` block (`makeAws`), `origin` and `service`, borrowed from the attributes and written
//! by [`Aws::write`].

use opentelemetry_proto::tonic::common::v1::AnyValue;
use serde_json::{Map, Value};

use super::attributes::{AttrMap, array_of, first_str, get_str, str_of};
use super::write::{self, Obj};

/// Span attributes that the `aws` block consumes, even when the block itself is omitted.
pub(super) const AWS_CONSUMED: &[&str] = &[
    "aws.operation",
    "rpc.method",
    "aws.account_id",
    "aws.region",
    "aws.request_id",
    "aws.requestId",
    "aws.queue_url",
    "aws.queue.url",
    "aws.table_name",
    "aws.table.name",
];

/// The `aws` block of one document, borrowed from the span's and the resource's attributes.
pub(crate) struct Aws<'a> {
    ec2: Option<[&'a str; 4]>,
    ecs: Option<[&'a str; 8]>,
    eks: Option<Eks<'a>>,
    beanstalk: Option<(&'a str, &'a str, i64)>,
    cloudwatch_logs: Vec<LogGroup<'a>>,
    /// `telemetry.sdk.name` and `telemetry.sdk.language`: `sdk` is `<name> for <language>`.
    sdk: (&'a str, &'a str),
    sdk_version: &'a str,
    auto_instrumentation: bool,
    /// The fields from the span (`account_id` may come from the resource), dropped from the
    /// service segment of a `LOCAL_ROOT` split.
    remote: Remote<'a>,
}

/// The fields of [`Aws`] a `LOCAL_ROOT` service segment does not carry.
#[derive(Default)]
struct Remote<'a> {
    account_id: &'a str,
    operation: &'a str,
    region: &'a str,
    request_id: &'a str,
    queue_url: &'a str,
    table_name: &'a str,
    table_names: Option<&'a [AnyValue]>,
}

/// One `cloudwatch_logs` entry.
enum LogGroup<'a> {
    Arn(&'a str),
    Name(&'a str),
}

/// `ecs` fields in key order, with the resource attribute each comes from.
const ECS_FIELDS: [(&str, &str); 8] = [
    ("availability_zone", "cloud.availability_zone"),
    ("cluster_arn", "aws.ecs.cluster.arn"),
    ("container", "container.name"),
    ("container_arn", "aws.ecs.container.arn"),
    ("container_id", "container.id"),
    ("launch_type", "aws.ecs.launchtype"),
    ("task_arn", "aws.ecs.task.arn"),
    ("task_family", "aws.ecs.task.family"),
];

impl Aws<'_> {
    /// Drops the span's own fields (`operation`, `account_id`, `region`, `request_id`,
    /// `queue_url`, `table_name`, `table_names`).
    pub(crate) fn drop_remote_fields(&mut self) {
        self.remote = Remote::default();
    }

    /// Writes the object, keys in ascending order.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let remote = &self.remote;
        let mut aws = Obj::begin(out);
        aws.non_empty_str("account_id", remote.account_id);
        if !self.cloudwatch_logs.is_empty() {
            let out = aws.key("cloudwatch_logs");
            out.push(b'[');
            for (i, entry) in self.cloudwatch_logs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let mut obj = Obj::begin(out);
                match entry {
                    LogGroup::Arn(arn) => {
                        obj.str("arn", arn);
                        match arn.split(':').nth(6) {
                            Some(group) => obj.str("log_group", group),
                            None => write::null(obj.key("log_group")),
                        }
                    }
                    LogGroup::Name(name) => obj.str("log_group", name),
                }
                obj.end();
            }
            out.push(b']');
        }
        if let Some([ami_id, availability_zone, instance_id, instance_size]) = self.ec2 {
            let mut ec2 = Obj::begin(aws.key("ec2"));
            write::string_or_null(ec2.key("ami_id"), ami_id);
            write::string_or_null(ec2.key("availability_zone"), availability_zone);
            write::string_or_null(ec2.key("instance_id"), instance_id);
            write::string_or_null(ec2.key("instance_size"), instance_size);
            ec2.end();
        }
        if let Some(values) = &self.ecs {
            let mut ecs = Obj::begin(aws.key("ecs"));
            for ((field, _), value) in ECS_FIELDS.iter().zip(values) {
                ecs.non_empty_str(field, value);
            }
            ecs.end();
        }
        if let Some(eks) = &self.eks {
            eks.write(aws.key("eks"));
        }
        if let Some((environment_name, version_label, deployment_id)) = self.beanstalk {
            let mut beanstalk = Obj::begin(aws.key("elastic_beanstalk"));
            write::int(beanstalk.key("deployment_id"), deployment_id);
            write::string_or_null(beanstalk.key("environment_name"), environment_name);
            write::string_or_null(beanstalk.key("version_label"), version_label);
            beanstalk.end();
        }
        aws.non_empty_str("operation", remote.operation);
        aws.non_empty_str("queue_url", remote.queue_url);
        aws.non_empty_str("region", remote.region);
        aws.non_empty_str("request_id", remote.request_id);
        aws.non_empty_str("table_name", remote.table_name);
        if let Some(names) = remote.table_names {
            let out = aws.key("table_names");
            out.push(b'[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write::string(out, str_of(name));
            }
            out.push(b']');
        }
        let mut xray = Obj::begin(aws.key("xray"));
        xray.bool("auto_instrumentation", self.auto_instrumentation);
        match self.sdk {
            ("", _) => {}
            (name, "") => xray.str("sdk", name),
            (name, language) => {
                let out = xray.key("sdk");
                out.push(b'"');
                write::string_contents(out, name);
                out.extend_from_slice(b" for ");
                write::string_contents(out, language);
                out.push(b'"');
            }
        }
        xray.non_empty_str("sdk_version", self.sdk_version);
        xray.end();
        aws.end();
    }
}

/// Builds the `aws` block from resource and span attributes, consuming the span attributes it
/// uses from `filtered`. Returns `None` when the resource names a cloud provider other than AWS.
pub(crate) fn make_aws<'a>(
    attrs: &AttrMap<'a>,
    resource: &AttrMap<'a>,
    log_groups: &'a [String],
    filtered: &mut AttrMap<'_>,
) -> Option<Aws<'a>> {
    for key in AWS_CONSUMED {
        filtered.remove(key);
    }
    let provider = get_str(resource, "cloud.provider");
    if !provider.is_empty() && provider != "aws" {
        return None;
    }
    let res = |key: &str| get_str(resource, key);
    let platform = res("cloud.platform");

    let ec2 = (platform == "aws_ec2" || !res("host.id").is_empty()).then(|| {
        [
            res("host.image.id"),
            res("cloud.availability_zone"),
            res("host.id"),
            res("host.type"),
        ]
    });
    let ecs = (platform == "aws_ecs").then(|| ECS_FIELDS.map(|(_, key)| res(key)));
    let beanstalk = (platform == "aws_elastic_beanstalk" && !res("service.instance.id").is_empty())
        .then(|| {
            let deployment: i64 = res("service.instance.id").parse().unwrap_or(0);
            (res("service.namespace"), res("service.version"), deployment)
        });
    let sdk = (res("telemetry.sdk.name"), res("telemetry.sdk.language"));
    let auto_instrumentation = resource.contains_key("telemetry.auto.version")
        || resource.contains_key("telemetry.distro.version");

    let mut remote = Remote {
        account_id: first_str(attrs, &["aws.account_id"]).unwrap_or(res("cloud.account.id")),
        operation: first_str(attrs, &["aws.operation", "rpc.method"]).unwrap_or(""),
        region: get_str(attrs, "aws.region"),
        request_id: first_str(attrs, &["aws.request_id", "aws.requestId"]).unwrap_or(""),
        queue_url: first_str(attrs, &["messaging.url", "aws.queue_url", "aws.queue.url"])
            .unwrap_or(""),
        table_name: first_str(attrs, &["aws.table_name", "aws.table.name"]).unwrap_or(""),
        table_names: None,
    };
    if let Some(tables) = attrs.get("aws.dynamodb.table_names") {
        match array_of(tables) {
            Some([one]) => remote.table_name = str_of(one),
            Some(many) if many.len() > 1 => {
                remote.table_name = "";
                remote.table_names = Some(many);
            }
            Some(_) => {}
            None if !str_of(tables).is_empty() => remote.table_name = str_of(tables),
            None => {}
        }
    }

    Some(Aws {
        ec2,
        ecs,
        eks: eks_ref(resource),
        beanstalk,
        cloudwatch_logs: cloudwatch_logs(resource, log_groups),
        sdk,
        sdk_version: res("telemetry.sdk.version"),
        auto_instrumentation,
        remote,
    })
}

/// The `aws.eks` block, borrowed.
pub(crate) struct Eks<'a> {
    cluster_name: &'a str,
    pod: &'a str,
    container_id: &'a str,
}

impl Eks<'_> {
    /// Writes the object (an unknown field is `null`), keys in ascending order.
    fn write(&self, out: &mut Vec<u8>) {
        let mut eks = Obj::begin(out);
        write::string_or_null(eks.key("cluster_name"), self.cluster_name);
        write::string_or_null(eks.key("container_id"), self.container_id);
        write::string_or_null(eks.key("pod"), self.pod);
        eks.end();
    }
}

/// The `aws.eks` block when the resource is on EKS or names a cluster (see [`eks`]).
fn eks_ref<'a>(resource: &AttrMap<'a>) -> Option<Eks<'a>> {
    let res = |key: &str| get_str(resource, key);
    if res("cloud.platform") != "aws_eks" && res("k8s.cluster.name").is_empty() {
        return None;
    }
    Some(Eks {
        cluster_name: res("k8s.cluster.name"),
        pod: res("k8s.pod.name"),
        container_id: res("container.id"),
    })
}

/// The `aws.eks` block, when the resource is on EKS (`cloud.platform: aws_eks`) or names a
/// cluster (`k8s.cluster.name`): `cluster_name`, `pod` (`k8s.pod.name`), `container_id`
/// (`container.id`), each `null` when unknown. The one mapping of the Kubernetes identity, used by
/// the translation and by the pipelines' X-Ray stamping (`crate::translate::xray_identity`).
pub(crate) fn eks(resource: &AttrMap<'_>) -> Option<Map<String, Value>> {
    let eks = eks_ref(resource)?;
    let nullable = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    let mut map = Map::new();
    map.insert("cluster_name".into(), nullable(eks.cluster_name));
    map.insert("pod".into(), nullable(eks.pod));
    map.insert("container_id".into(), nullable(eks.container_id));
    Some(map)
}

/// `cloudwatch_logs` entries from `aws.log.group.arns`, else `aws.log.group.names`, else the
/// exporter's `aws_log_groups` setting.
fn cloudwatch_logs<'a>(resource: &AttrMap<'a>, log_groups: &'a [String]) -> Vec<LogGroup<'a>> {
    let entries = |key: &str| -> Vec<&'a str> {
        let Some(value) = resource.get(key) else {
            return Vec::new();
        };
        match array_of(value) {
            Some(items) => items.iter().map(str_of).filter(|s| !s.is_empty()).collect(),
            None => str_of(value).split('&').filter(|s| !s.is_empty()).collect(),
        }
    };
    let arns = entries("aws.log.group.arns");
    if !arns.is_empty() {
        return arns.into_iter().map(LogGroup::Arn).collect();
    }
    let names = entries("aws.log.group.names");
    if names.is_empty() {
        log_groups
            .iter()
            .map(|name| LogGroup::Name(name.as_str()))
            .collect()
    } else {
        names.into_iter().map(LogGroup::Name).collect()
    }
}

/// `origin` from `cloud.provider`, `cloud.platform` and `aws.ecs.launchtype`.
pub(crate) fn origin(resource: &AttrMap<'_>) -> Option<&'static str> {
    if resource.is_empty() {
        return None;
    }
    let provider = get_str(resource, "cloud.provider");
    if resource.contains_key("cloud.provider") && provider != "aws" {
        return None;
    }
    match get_str(resource, "cloud.platform") {
        "aws_app_runner" => Some("AWS::AppRunner::Service"),
        "aws_eks" => Some("AWS::EKS::Container"),
        "aws_elastic_beanstalk" => Some("AWS::ElasticBeanstalk::Environment"),
        "aws_ecs" => Some(match get_str(resource, "aws.ecs.launchtype") {
            "ec2" => "AWS::ECS::EC2",
            "fargate" => "AWS::ECS::Fargate",
            _ => "AWS::ECS::Container",
        }),
        "aws_ec2" => Some("AWS::EC2::Instance"),
        _ => None,
    }
}

/// `service.version` from `service.version`, else `container.image.tag`.
pub(crate) fn service<'a>(resource: &AttrMap<'a>) -> Option<&'a str> {
    first_str(resource, &["service.version", "container.image.tag"])
}
