//! The `aws` block (`makeAws`), `origin` and `service`.

use serde_json::{Map, Value};

use super::attributes::{AttrMap, array_of, first_str, get_str, str_of};

/// Span attributes that the `aws` block consumes, even when the block itself is omitted.
const AWS_CONSUMED: &[&str] = &[
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

/// Builds the `aws` object from resource and span attributes, consuming the span attributes it
/// uses from `filtered`. Returns `None` when the resource names a cloud provider other than AWS.
pub(crate) fn make_aws(
    attrs: &AttrMap<'_>,
    resource: &AttrMap<'_>,
    log_groups: &[String],
    filtered: &mut AttrMap<'_>,
) -> Option<Value> {
    for key in AWS_CONSUMED {
        filtered.remove(*key);
    }
    let provider = get_str(resource, "cloud.provider");
    if !provider.is_empty() && provider != "aws" {
        return None;
    }
    let res = |key: &str| get_str(resource, key);
    let nullable = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    let platform = res("cloud.platform");
    let mut aws = Map::new();

    if platform == "aws_ec2" || !res("host.id").is_empty() {
        let mut ec2 = Map::new();
        ec2.insert("instance_id".into(), nullable(res("host.id")));
        ec2.insert(
            "availability_zone".into(),
            nullable(res("cloud.availability_zone")),
        );
        ec2.insert("instance_size".into(), nullable(res("host.type")));
        ec2.insert("ami_id".into(), nullable(res("host.image.id")));
        aws.insert("ec2".into(), Value::Object(ec2));
    }

    if platform == "aws_ecs" {
        let mut ecs = Map::new();
        for (field, key) in [
            ("container", "container.name"),
            ("container_id", "container.id"),
            ("task_arn", "aws.ecs.task.arn"),
            ("task_family", "aws.ecs.task.family"),
            ("cluster_arn", "aws.ecs.cluster.arn"),
            ("container_arn", "aws.ecs.container.arn"),
            ("availability_zone", "cloud.availability_zone"),
            ("launch_type", "aws.ecs.launchtype"),
        ] {
            insert_str(&mut ecs, field, res(key));
        }
        aws.insert("ecs".into(), Value::Object(ecs));
    }

    if let Some(eks) = eks(resource) {
        aws.insert("eks".into(), Value::Object(eks));
    }

    if platform == "aws_elastic_beanstalk" && !res("service.instance.id").is_empty() {
        let mut beanstalk = Map::new();
        beanstalk.insert(
            "environment_name".into(),
            nullable(res("service.namespace")),
        );
        beanstalk.insert("version_label".into(), nullable(res("service.version")));
        let deployment: i64 = res("service.instance.id").parse().unwrap_or(0);
        beanstalk.insert("deployment_id".into(), deployment.into());
        aws.insert("elastic_beanstalk".into(), Value::Object(beanstalk));
    }

    let logs = cloudwatch_logs(resource, log_groups);
    if !logs.is_empty() {
        aws.insert("cloudwatch_logs".into(), Value::Array(logs));
    }

    let mut xray = Map::new();
    let sdk = match (res("telemetry.sdk.name"), res("telemetry.sdk.language")) {
        ("", _) => String::new(),
        (name, "") => name.to_string(),
        (name, language) => format!("{name} for {language}"),
    };
    insert_str(&mut xray, "sdk", &sdk);
    insert_str(&mut xray, "sdk_version", res("telemetry.sdk.version"));
    let auto = resource.contains_key("telemetry.auto.version")
        || resource.contains_key("telemetry.distro.version");
    xray.insert("auto_instrumentation".into(), auto.into());
    aws.insert("xray".into(), Value::Object(xray));

    let account = first_str(attrs, &["aws.account_id"]).unwrap_or(res("cloud.account.id"));
    insert_str(&mut aws, "account_id", account);
    let operation = first_str(attrs, &["aws.operation", "rpc.method"]).unwrap_or("");
    insert_str(&mut aws, "operation", operation);
    insert_str(&mut aws, "region", get_str(attrs, "aws.region"));
    let request_id = first_str(attrs, &["aws.request_id", "aws.requestId"]).unwrap_or("");
    insert_str(&mut aws, "request_id", request_id);
    let queue_url = first_str(attrs, &["messaging.url", "aws.queue_url", "aws.queue.url"]);
    insert_str(&mut aws, "queue_url", queue_url.unwrap_or(""));

    let mut table_name = first_str(attrs, &["aws.table_name", "aws.table.name"])
        .unwrap_or("")
        .to_string();
    if let Some(tables) = attrs.get("aws.dynamodb.table_names") {
        match array_of(tables) {
            Some([one]) => table_name = str_of(one).to_string(),
            Some(many) if many.len() > 1 => {
                table_name.clear();
                let names = many.iter().map(|v| Value::from(str_of(v))).collect();
                aws.insert("table_names".into(), Value::Array(names));
            }
            Some(_) => {}
            None if !str_of(tables).is_empty() => table_name = str_of(tables).to_string(),
            None => {}
        }
    }
    insert_str(&mut aws, "table_name", &table_name);

    Some(Value::Object(aws))
}

/// The `aws.eks` block, when the resource is on EKS (`cloud.platform: aws_eks`) or names a
/// cluster (`k8s.cluster.name`): `cluster_name`, `pod` (`k8s.pod.name`), `container_id`
/// (`container.id`), each `null` when unknown. The one mapping of the Kubernetes identity, used by
/// the translation and by the pipelines' X-Ray stamping (`crate::translate::xray_identity`).
pub(crate) fn eks(resource: &AttrMap<'_>) -> Option<Map<String, Value>> {
    let res = |key: &str| get_str(resource, key);
    if res("cloud.platform") != "aws_eks" && res("k8s.cluster.name").is_empty() {
        return None;
    }
    let nullable = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    let mut eks = Map::new();
    eks.insert("cluster_name".into(), nullable(res("k8s.cluster.name")));
    eks.insert("pod".into(), nullable(res("k8s.pod.name")));
    eks.insert("container_id".into(), nullable(res("container.id")));
    Some(eks)
}

/// `cloudwatch_logs` entries from `aws.log.group.arns`, else `aws.log.group.names`, else the
/// exporter's `aws_log_groups` setting.
fn cloudwatch_logs(resource: &AttrMap<'_>, log_groups: &[String]) -> Vec<Value> {
    let entries = |key: &str| -> Vec<String> {
        let Some(value) = resource.get(key) else {
            return Vec::new();
        };
        let items: Vec<String> = match array_of(value) {
            Some(items) => items.iter().map(|v| str_of(v).to_string()).collect(),
            None => str_of(value).split('&').map(str::to_string).collect(),
        };
        items.into_iter().filter(|s| !s.is_empty()).collect()
    };
    let arns = entries("aws.log.group.arns");
    if !arns.is_empty() {
        return arns
            .into_iter()
            .map(|arn| {
                let mut obj = Map::new();
                let group = arn
                    .split(':')
                    .nth(6)
                    .map(Value::from)
                    .unwrap_or(Value::Null);
                obj.insert("log_group".into(), group);
                obj.insert("arn".into(), Value::String(arn));
                Value::Object(obj)
            })
            .collect();
    }
    let names = entries("aws.log.group.names");
    let names = if names.is_empty() {
        log_groups.to_vec()
    } else {
        names
    };
    names
        .into_iter()
        .map(|name| {
            let mut obj = Map::new();
            obj.insert("log_group".into(), Value::String(name));
            Value::Object(obj)
        })
        .collect()
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
pub(crate) fn service(resource: &AttrMap<'_>) -> Option<Value> {
    let version = first_str(resource, &["service.version", "container.image.tag"])?;
    let mut obj = Map::new();
    obj.insert("version".into(), version.into());
    Some(Value::Object(obj))
}

fn insert_str(obj: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        obj.insert(key.to_string(), Value::String(value.to_string()));
    }
}
