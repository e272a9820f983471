//! Resource attributes of a document (contrib `populateResource`, `addAWSToResource`,
//! `addSdkToResource`), plus `origin`, which contrib ignores.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde_json::{Map, Value};

use super::attributes::{Attrs, integer, object, string};

/// The resource attributes of the top-level document `doc` named `name`.
///
/// Contrib's rules, in its order: `service.name` is the document's name (for an independent
/// subsegment that is the subsegment's own name, as in contrib); `cloud.provider` is `aws` when
/// the document has an `aws` object and `unknown` otherwise; then the `aws` sub-objects, the SDK,
/// `service.version` and `aws.xray.resource_arn`. Additions: an `origin` naming an AWS platform
/// also makes the provider `aws` and sets `cloud.platform` (and `aws.ecs.launchtype` for the ECS
/// launch types), so the X-Ray exporter derives the same `origin` again; the ECS task, family,
/// cluster, container ARN and launch type get the resource attributes the exporter reads them from;
/// `service.runtime` and `service.runtime_version` become `process.runtime.name` and `.version`.
pub(super) fn attributes(doc: &Map<String, Value>, name: &str) -> Vec<KeyValue> {
    let mut attrs = Attrs::default();
    attrs.put_str("service.name", name);

    let aws = object(doc, "aws");
    let platform = string(doc, "origin").and_then(platform_of_origin);
    let provider = if aws.is_some() || platform.is_some() {
        "aws"
    } else {
        "unknown"
    };
    attrs.put_str("cloud.provider", provider);
    if let Some(aws) = aws {
        add_aws(aws, &mut attrs);
    }
    if let Some((platform, launch_type)) = platform {
        attrs.put_str("cloud.platform", platform);
        if attrs.get("aws.ecs.launchtype").is_none() {
            attrs.put_opt_str("aws.ecs.launchtype", launch_type);
        }
    }
    if let Some(xray) = aws.and_then(|aws| object(aws, "xray")) {
        add_sdk(xray, &mut attrs);
    }
    if let Some(service) = object(doc, "service") {
        attrs.put_opt_str("service.version", string(service, "version"));
        // Addition: the SDKs record the language runtime here (`CPython`, `3.11.7`).
        attrs.put_opt_str("process.runtime.name", string(service, "runtime"));
        attrs.put_opt_str(
            "process.runtime.version",
            string(service, "runtime_version"),
        );
    }
    attrs.put_opt_str("aws.xray.resource_arn", string(doc, "resource_arn"));
    attrs.into_vec()
}

fn add_aws(aws: &Map<String, Value>, attrs: &mut Attrs) {
    attrs.put_opt_str("cloud.account.id", string(aws, "account_id"));
    for group in super::attributes::array(aws, "cloudwatch_logs")
        .iter()
        .filter_map(Value::as_object)
    {
        if let Some(arn) = string(group, "arn") {
            attrs.append_str("aws.log.group.arns", arn);
        }
        if let Some(name) = string(group, "log_group") {
            attrs.append_str("aws.log.group.names", name);
        }
    }
    if let Some(ec2) = object(aws, "ec2") {
        attrs.put_opt_str("cloud.availability_zone", string(ec2, "availability_zone"));
        attrs.put_opt_str("host.id", string(ec2, "instance_id"));
        attrs.put_opt_str("host.type", string(ec2, "instance_size"));
        attrs.put_opt_str("host.image.id", string(ec2, "ami_id"));
    }
    if let Some(ecs) = object(aws, "ecs") {
        attrs.put_opt_str("container.name", string(ecs, "container"));
        attrs.put_opt_str("cloud.availability_zone", string(ecs, "availability_zone"));
        attrs.put_opt_str("container.id", string(ecs, "container_id"));
        attrs.put_opt_str("aws.ecs.task.arn", string(ecs, "task_arn"));
        attrs.put_opt_str("aws.ecs.task.family", string(ecs, "task_family"));
        attrs.put_opt_str("aws.ecs.cluster.arn", string(ecs, "cluster_arn"));
        attrs.put_opt_str("aws.ecs.container.arn", string(ecs, "container_arn"));
        attrs.put_opt_str("aws.ecs.launchtype", string(ecs, "launch_type"));
    }
    if let Some(beanstalk) = object(aws, "elastic_beanstalk") {
        attrs.put_opt_str("service.namespace", string(beanstalk, "environment_name"));
        if let Some(deployment) = integer(beanstalk, "deployment_id") {
            attrs.put_str("service.instance.id", &deployment.to_string());
        }
        attrs.put_opt_str("service.version", string(beanstalk, "version_label"));
    }
    if let Some(eks) = object(aws, "eks") {
        attrs.put_opt_str("container.id", string(eks, "container_id"));
        attrs.put_opt_str("k8s.cluster.name", string(eks, "cluster_name"));
        attrs.put_opt_str("k8s.pod.name", string(eks, "pod"));
    }
}

/// `telemetry.sdk.*` from `aws.xray`: the name is the whole `sdk` text (`X-Ray for Python`) and
/// the language is what follows `for `, as in contrib, but spelled as the semantic conventions
/// spell languages (`python`, `nodejs`, `dotnet`), which is what the X-Ray exporter's
/// stack-trace parsers are chosen by. Contrib's special case that reports `java` whenever the
/// segment has exceptions is not reproduced: it mislabels every other language.
fn add_sdk(xray: &Map<String, Value>, attrs: &mut Attrs) {
    attrs.put_opt_str("telemetry.sdk.version", string(xray, "sdk_version"));
    if let Some(sdk) = string(xray, "sdk") {
        attrs.put_str("telemetry.sdk.name", sdk);
        if let Some((_, language)) = sdk.split_once("for ") {
            attrs.put_str("telemetry.sdk.language", &semconv_language(language));
        }
    }
}

/// The semantic-convention spelling of a language as the X-Ray SDKs name it.
fn semconv_language(language: &str) -> String {
    let lower = language.trim().to_ascii_lowercase();
    match lower.as_str() {
        "node.js" | "node" | "nodejs" | "javascript" => "nodejs".into(),
        ".net" | ".net core" | "dotnet" | "dotnet core" => "dotnet".into(),
        _ => lower,
    }
}

/// `cloud.platform` and, for the ECS launch types, `aws.ecs.launchtype` of an `origin`; the
/// inverse of the X-Ray exporter's `origin` rule.
fn platform_of_origin(origin: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match origin {
        "AWS::EC2::Instance" => ("aws_ec2", None),
        "AWS::ECS::Container" => ("aws_ecs", None),
        "AWS::ECS::EC2" => ("aws_ecs", Some("ec2")),
        "AWS::ECS::Fargate" => ("aws_ecs", Some("fargate")),
        "AWS::EKS::Container" => ("aws_eks", None),
        "AWS::ElasticBeanstalk::Environment" => ("aws_elastic_beanstalk", None),
        "AWS::AppRunner::Service" => ("aws_app_runner", None),
        "AWS::Lambda::Function" => ("aws_lambda", None),
        _ => return None,
    })
}
