//! Resource attributes of a document (contrib `populateResource`, `addAWSToResource`,
//! `addSdkToResource`), plus `origin`, which contrib ignores, and the resource attributes the
//! OTLP translation (and the pipelines' stamping) stored as `metadata.default` entries named
//! `otel.resource.<key>`, which contrib leaves in the span's metadata.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, any_value::Value as Any,
};

use super::attributes::{integer, object, string};
use super::json::{Json, Object};

/// The resource attributes of a document, borrowing from it: documents of one batch mostly
/// share their resource, so a document's resource is compared with the batch's resources
/// before any of it is copied.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Resource<'a>(Vec<(&'a str, Value<'a>)>);

/// A resource attribute value.
#[derive(Debug, PartialEq)]
pub(super) enum Value<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// An array of strings.
    Strs(Vec<&'a str>),
    /// A boolean (from `metadata.default` only).
    Bool(bool),
    /// An integer (from `metadata.default` only).
    Int(i64),
    /// Any other number (from `metadata.default` only); compared by its bits, so `0.0` and
    /// `-0.0` are different resources, as their JSON texts are.
    Double(f64),
}

impl<'a> Resource<'a> {
    /// Puts `value` under `key`, replacing an existing value in place (as `Attrs::put`).
    fn put(&mut self, key: &'a str, value: Value<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => *existing = value,
            None => self.0.push((key, value)),
        }
    }

    /// Puts a string.
    fn put_str(&mut self, key: &'static str, value: impl Into<Cow<'a, str>>) {
        self.put(key, Value::Str(value.into()));
    }

    /// Puts a string when there is one.
    fn put_opt_str(&mut self, key: &'static str, value: Option<&'a str>) {
        if let Some(value) = value {
            self.put_str(key, value);
        }
    }

    /// Appends `value` to the string array under `key`, creating it when absent (as
    /// `Attrs::append_str`).
    fn append_str(&mut self, key: &'static str, value: &'a str) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, Value::Strs(values))) => values.push(value),
            _ => self.put(key, Value::Strs(vec![value])),
        }
    }

    /// Whether there is a value under `key`.
    fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == key)
    }

    /// Whether `attributes` are exactly what [`Resource::to_key_values`] would return.
    pub(super) fn matches(&self, attributes: &[KeyValue]) -> bool {
        fn string(value: &AnyValue) -> Option<&str> {
            match &value.value {
                Some(Any::StringValue(s)) => Some(s),
                _ => None,
            }
        }
        self.0.len() == attributes.len()
            && self.0.iter().zip(attributes).all(|((key, value), kv)| {
                let Some(any) = kv.value.as_ref().filter(|_| kv.key == *key) else {
                    return false;
                };
                match (value, &any.value) {
                    (Value::Str(s), Some(Any::StringValue(t))) => s == t,
                    (Value::Bool(b), Some(Any::BoolValue(c))) => b == c,
                    (Value::Int(i), Some(Any::IntValue(j))) => i == j,
                    (Value::Double(d), Some(Any::DoubleValue(e))) => d.to_bits() == e.to_bits(),
                    (Value::Strs(items), Some(Any::ArrayValue(array))) => {
                        items.len() == array.values.len()
                            && items
                                .iter()
                                .zip(&array.values)
                                .all(|(item, v)| string(v) == Some(item))
                    }
                    _ => false,
                }
            })
    }

    /// The attributes as OTLP key-values, in insertion order.
    pub(super) fn to_key_values(&self) -> Vec<KeyValue> {
        let string = |s: &str| AnyValue {
            value: Some(Any::StringValue(s.to_string())),
        };
        self.0
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.to_string(),
                value: Some(match value {
                    Value::Str(s) => string(s),
                    Value::Strs(items) => AnyValue {
                        value: Some(Any::ArrayValue(ArrayValue {
                            values: items.iter().map(|s| string(s)).collect(),
                        })),
                    },
                    Value::Bool(b) => AnyValue {
                        value: Some(Any::BoolValue(*b)),
                    },
                    Value::Int(i) => AnyValue {
                        value: Some(Any::IntValue(*i)),
                    },
                    Value::Double(d) => AnyValue {
                        value: Some(Any::DoubleValue(*d)),
                    },
                }),
            })
            .collect()
    }
}

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
pub(super) fn attributes<'a>(doc: &'a Object<'_>, name: &'a str) -> Resource<'a> {
    let mut attrs = Resource(Vec::with_capacity(12));
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
        if !attrs.contains("aws.ecs.launchtype") {
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
    if let Some(default) = object(doc, "metadata").and_then(|m| object(m, "default")) {
        for (key, value) in default.sorted() {
            if let Some((key, value)) = lifted(key, value) {
                attrs.put(key, value);
            }
        }
    }
    attrs
}

/// The prefix of a `metadata.default` key that holds a resource attribute.
const RESOURCE_PREFIX: &str = "otel.resource.";

/// The resource attribute a top-level document's `metadata.default` member `key`: `value`
/// stands for, if any: the OTLP translation writes every resource attribute of a segment there
/// as `otel.resource.<key>` (`translate::segment`), and the pipelines' stamping does the same
/// for X-Ray documents (`processors::stamp`). Only non-empty keys with a string, boolean or
/// number value are lifted; anything else (`null`, arrays, objects, a bare `otel.resource.`)
/// stays in the span's metadata, which keeps it as the document had it.
///
/// A lifted attribute replaces one the document's `aws`, `origin`, `service`, SDK or name
/// fields gave (in place): the OTLP translation writes the entry verbatim from the resource
/// attribute, while those fields are derived from it (the name is sanitized, `aws.eks` may
/// come from another attribute), so the entry is the more faithful copy. The members are
/// visited in key order, each key once with its last value, as in the span's metadata text.
pub(super) fn lifted<'a>(key: &'a str, value: &'a Json<'_>) -> Option<(&'a str, Value<'a>)> {
    let key = key
        .strip_prefix(RESOURCE_PREFIX)
        .filter(|k| !k.is_empty())?;
    let value = match value {
        Json::String(s) => Value::Str(Cow::Borrowed(s)),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64()?),
        },
        Json::Null | Json::Array(_) | Json::Object(_) => return None,
    };
    Some((key, value))
}

fn add_aws<'a>(aws: &'a Object<'_>, attrs: &mut Resource<'a>) {
    attrs.put_opt_str("cloud.account.id", string(aws, "account_id"));
    for group in super::attributes::array(aws, "cloudwatch_logs")
        .iter()
        .filter_map(Json::as_object)
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
            attrs.put_str("service.instance.id", deployment.to_string());
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
fn add_sdk<'a>(xray: &'a Object<'_>, attrs: &mut Resource<'a>) {
    attrs.put_opt_str("telemetry.sdk.version", string(xray, "sdk_version"));
    if let Some(sdk) = string(xray, "sdk") {
        attrs.put_str("telemetry.sdk.name", sdk);
        if let Some((_, language)) = sdk.split_once("for ") {
            attrs.put_str("telemetry.sdk.language", semconv_language(language));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The resource attributes of the document `doc` named `svc`, as OTLP key-values.
    fn resource_of(doc: &str) -> Vec<KeyValue> {
        let doc = Json::parse(doc.as_bytes()).unwrap();
        let resource = attributes(doc.as_object().unwrap(), "svc");
        let attrs = resource.to_key_values();
        assert!(resource.matches(&attrs));
        attrs
    }

    fn keys_and_strings(attrs: &[KeyValue]) -> Vec<(String, String)> {
        use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
        attrs
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Any::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    }

    #[test]
    fn a_document_without_aws_or_origin_has_provider_unknown() {
        let attrs = resource_of(r#"{"name": "svc"}"#);
        assert_eq!(
            keys_and_strings(&attrs),
            [
                ("service.name".into(), "svc".into()),
                ("cloud.provider".into(), "unknown".into())
            ]
        );
    }

    #[test]
    fn origin_sets_platform_and_launch_type() {
        let attrs = keys_and_strings(&resource_of(r#"{"origin": "AWS::ECS::Fargate"}"#));
        assert!(attrs.contains(&("cloud.provider".into(), "aws".into())));
        assert!(attrs.contains(&("cloud.platform".into(), "aws_ecs".into())));
        assert!(attrs.contains(&("aws.ecs.launchtype".into(), "fargate".into())));
        let attrs = keys_and_strings(&resource_of(r#"{"origin": "AWS::Custom::Thing"}"#));
        assert!(attrs.contains(&("cloud.provider".into(), "unknown".into())));
    }

    #[test]
    fn log_groups_append_and_put_replaces_in_place() {
        let mut resource = Resource::default();
        resource.put_str("a", "1");
        resource.append_str("list", "x");
        resource.put_str("a", "3");
        resource.append_str("list", "y");
        let attrs = resource.to_key_values();
        assert!(resource.matches(&attrs));
        assert_eq!(
            attrs.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(),
            ["a", "list"]
        );
        let strings = |values: &[AnyValue]| -> Vec<String> {
            values
                .iter()
                .map(|v| match &v.value {
                    Some(Any::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(strings(&[attrs[0].value.clone().unwrap()]), ["3"]);
        let Some(Any::ArrayValue(array)) = &attrs[1].value.as_ref().unwrap().value else {
            panic!("not an array: {attrs:?}");
        };
        assert_eq!(strings(&array.values), ["x", "y"]);
        // A resource differing in any key, value or array item does not match.
        let mut other = Resource::default();
        other.put_str("a", "3");
        other.append_str("list", "x");
        assert!(!other.matches(&attrs));
        other.append_str("list", "z");
        assert!(!other.matches(&attrs));
        other.put("list", Value::Str("x".into()));
        assert!(!other.matches(&attrs));
    }

    #[test]
    fn documents_with_log_groups_match_their_own_resource_only() {
        let doc =
            r#"{"aws": {"cloudwatch_logs": [{"arn": "a1", "log_group": "g1"}, {"arn": "a2"}]}}"#;
        let attrs = resource_of(doc);
        let keys: Vec<_> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "service.name",
                "cloud.provider",
                "aws.log.group.arns",
                "aws.log.group.names"
            ]
        );
        let other =
            Json::parse(br#"{"aws": {"cloudwatch_logs": [{"arn": "a1", "log_group": "g1"}]}}"#)
                .unwrap();
        assert!(!attributes(other.as_object().unwrap(), "svc").matches(&attrs));
    }

    #[test]
    fn scalar_otel_resource_metadata_becomes_resource_attributes() {
        let doc = r#"{"aws": {"eks": {"pod": "from-aws", "cluster_name": "c"}},
            "metadata": {"default": {
                "otel.resource.k8s.pod.name": "from-metadata",
                "otel.resource.k8s.namespace.name": "shop",
                "otel.resource.replicas": 3,
                "otel.resource.ratio": 0.5,
                "otel.resource.big": 18446744073709551615,
                "otel.resource.ready": true,
                "otel.resource.list": ["a"],
                "otel.resource.map": {"a": 1},
                "otel.resource.none": null,
                "otel.resource.": "no key",
                "otel.resources.x": "other prefix",
                "plain": "span metadata",
                "otel.resource.service.name": "first",
                "otel.resource.service.name": "real-svc"
            }, "other": {"otel.resource.elsewhere": "x"}}}"#;
        let attrs = resource_of(doc);
        let values: Vec<(String, Option<Any>)> = attrs
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().and_then(|v| v.value)))
            .collect();
        let s = |v: &str| Some(Any::StringValue(v.into()));
        assert_eq!(
            values,
            [
                // A lifted attribute replaces the derived one in place; the last of a repeated
                // key wins.
                ("service.name".into(), s("real-svc")),
                ("cloud.provider".into(), s("aws")),
                ("k8s.cluster.name".into(), s("c")),
                ("k8s.pod.name".into(), s("from-metadata")),
                // The rest in key order.
                ("big".into(), Some(Any::DoubleValue(18446744073709551615.0))),
                ("k8s.namespace.name".into(), s("shop")),
                ("ratio".into(), Some(Any::DoubleValue(0.5))),
                ("ready".into(), Some(Any::BoolValue(true))),
                ("replicas".into(), Some(Any::IntValue(3))),
            ]
        );
    }

    #[test]
    fn lifted_values_take_part_in_matching() {
        let with = |value: &str| {
            let doc = format!(r#"{{"metadata": {{"default": {{"otel.resource.v": {value}}}}}}}"#);
            let doc = Json::parse(doc.as_bytes()).unwrap();
            let resource = attributes(doc.as_object().unwrap(), "svc");
            let attrs = resource.to_key_values();
            assert!(resource.matches(&attrs), "{value}");
            attrs
        };
        let probes = ["1", "2", "1.5", "0.0", "-0.0", "true", "false", r#""1""#];
        for (i, a) in probes.iter().enumerate() {
            let doc = format!(r#"{{"metadata": {{"default": {{"otel.resource.v": {a}}}}}}}"#);
            let doc = Json::parse(doc.as_bytes()).unwrap();
            let resource = attributes(doc.as_object().unwrap(), "svc");
            for (j, b) in probes.iter().enumerate() {
                assert_eq!(resource.matches(&with(b)), i == j, "{a} against {b}");
            }
        }
    }

    #[test]
    fn sdk_language_uses_semantic_convention_names() {
        assert_eq!(semconv_language("Python"), "python");
        assert_eq!(semconv_language("Node.js"), "nodejs");
        assert_eq!(semconv_language(".NET"), "dotnet");
        assert_eq!(semconv_language("Go"), "go");
    }
}
