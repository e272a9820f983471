//! The tree-building OTLP -> X-Ray translator the direct writer replaced, kept as the test
//! oracle of `differential`: every span becomes a `serde_json::Map` tree (keys sorted, as
//! `serde_json`'s map is a `BTreeMap` here) serialized with `serde_json::to_vec`. The shared rules
//! (names, ids, URLs, the cause and stack parsing, the resource lookups) are the production ones;
//! what is kept here is the document shape the writer must reproduce byte for byte.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span::SpanKind};
use serde_json::{Map, Number, Value};

use super::attributes::{
    AttrMap, array_of, attr_map, first_str, get_str, hex, int_of, raw_json, str_of,
};
use super::aws::{AWS_CONSUMED, eks};
use super::cause::make_cause as cause_of;
use super::http::{HTTP_CONSUMED, HTTP_MARKERS, construct_url, ip_str, response_size};
use super::segment::{
    REMOTE_ONLY_ATTRIBUTES, REMOTE_ONLY_AWS_FIELDS, SQL_SYSTEMS, STATED_ATTRIBUTES, bool_attr,
    check_id_len, convert_trace_id, fix_annotation_key, name_and_namespace, resource_metadata_key,
    stated_flags, string_value, trim_aws_sdk_prefix,
};
use super::stack::Exception;
use super::{
    Document, IdSource, TraceIdValidation, TranslateError, TranslateSettings, Translation,
};

/// Translation state shared by the spans of one call.
struct Ctx<'a> {
    settings: &'a TranslateSettings,
    ids: &'a mut dyn IdSource,
}

/// The old `to_xray_documents_with_ids`.
pub(crate) fn to_xray_documents_with_ids(
    resource_spans: &[ResourceSpans],
    settings: &TranslateSettings,
    ids: &mut dyn IdSource,
) -> Translation {
    let mut ctx = Ctx { settings, ids };
    let mut out = Translation::default();
    for rs in resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            match make_segments(span, resource, &mut ctx) {
                Ok(docs) => out.documents.extend(docs.into_iter().map(|doc| {
                    let text = |key: &str| doc.get(key).and_then(|v| v.as_str()).unwrap_or("");
                    Document {
                        id: text("id").to_owned(),
                        trace_id: text("trace_id").to_owned(),
                        json: serde_json::to_vec(&doc).expect("a JSON map always serializes"),
                    }
                })),
                Err(err) => out.dropped.push(err),
            }
        }
    }
    out
}

/// `error`, `fault`, `throttle` and the `cause` object.
fn make_cause(
    span: &Span,
    attrs: &AttrMap<'_>,
    resource: &AttrMap<'_>,
    filtered: &mut AttrMap<'_>,
    new_id: &mut dyn FnMut() -> String,
) -> (bool, bool, bool, Option<Value>) {
    let c = cause_of(span, attrs, resource, filtered, new_id);
    let cause = (!c.exceptions.is_empty()).then(|| {
        let mut obj = Map::new();
        obj.insert(
            "exceptions".into(),
            Value::Array(c.exceptions.iter().map(exception_json).collect()),
        );
        Value::Object(obj)
    });
    (c.error, c.fault, c.throttle, cause)
}

/// Translates one span into one document, or two for a `LOCAL_ROOT` span of a dependency kind.
fn make_segments(
    span: &Span,
    resource: &[KeyValue],
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Map<String, Value>>, TranslateError> {
    let attrs = attr_map(&span.attributes);
    let kind = span.kind();
    if get_str(&attrs, "aws.span.kind") != "LOCAL_ROOT" {
        let mut doc = make_segment(span, resource, ctx)?;
        if matches!(
            kind,
            SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
        ) && doc.contains_key("type")
            && !doc.contains_key("namespace")
            && attrs.contains_key("aws.remote.service")
        {
            doc.insert("namespace".into(), "remote".into());
        }
        return Ok(vec![doc]);
    }
    if matches!(kind, SpanKind::Server | SpanKind::Internal) {
        let mut doc = make_segment(span, resource, ctx)?;
        doc.remove("type");
        doc.remove("namespace");
        return Ok(vec![doc]);
    }

    let service_segment_id = ctx.ids.next_id().to_vec();

    // The dependency subsegment: the original span id, parented to the new service segment.
    let mut dependency_span = span.clone();
    dependency_span.parent_span_id = service_segment_id.clone();
    let mut dependency = make_segment(&dependency_span, resource, ctx)?;
    dependency.insert("type".into(), "subsegment".into());
    dependency
        .entry("namespace")
        .or_insert_with(|| "remote".into());
    if kind == SpanKind::Consumer {
        dependency.remove("links");
    }
    if let Some(remote) = attrs.get("aws.remote.service") {
        let name = trim_aws_sdk_prefix(str_of(remote), &attrs);
        dependency.insert("name".into(), name.into());
    }

    // The service segment: a new span id, the original parent, no remote-only attributes.
    let mut service_span = span.clone();
    service_span.span_id = service_segment_id;
    service_span
        .attributes
        .retain(|kv| !REMOTE_ONLY_ATTRIBUTES.contains(&kv.key.as_str()));
    let mut service = make_segment(&service_span, resource, ctx)?;
    if let Some(local) = attrs.get("aws.local.service") {
        service.insert("name".into(), str_of(local).into());
    }
    service.remove("http");
    if let Some(Value::Object(aws)) = service.get_mut("aws") {
        for field in REMOTE_ONLY_AWS_FIELDS {
            aws.remove(*field);
        }
    }
    if let Some(Value::Object(metadata)) = service.get_mut("metadata") {
        for namespace in metadata.values_mut() {
            if let Value::Object(entries) = namespace {
                entries.retain(|k, _| k.starts_with("otel.resource."));
            }
        }
        // Namespaces left empty are omitted, like every other empty map.
        metadata.retain(|_, namespace| namespace.as_object().is_none_or(|m| !m.is_empty()));
        if metadata.is_empty() {
            service.remove("metadata");
        }
    }
    service.remove("type");
    service.remove("namespace");
    if kind != SpanKind::Consumer {
        service.remove("links");
    }
    Ok(vec![dependency, service])
}

/// `MakeSegment`: the single-span translation.
fn make_segment(
    span: &Span,
    resource_list: &[KeyValue],
    ctx: &mut Ctx<'_>,
) -> Result<Map<String, Value>, TranslateError> {
    let kind = span.kind();
    let attrs = attr_map(&span.attributes);
    let resource = attr_map(resource_list);
    let is_subsegment = kind != SpanKind::Server && !span.parent_span_id.is_empty();
    let store_resource = !is_subsegment;

    let trace_id = convert_trace_id(&span.trace_id, ctx.settings.trace_id_validation)?;
    check_id_len("span_id", &span.span_id)?;
    check_id_len("parent_span_id", &span.parent_span_id)?;
    let links = make_links(span, ctx.settings.trace_id_validation)?;

    let mut filtered = attrs.clone();
    let http = make_http(span, &attrs, &mut filtered);
    let (mut error, mut fault, mut throttle, cause) = {
        let mut new_id = || hex(&ctx.ids.next_id());
        make_cause(span, &attrs, &resource, &mut filtered, &mut new_id)
    };
    // A span converted from an X-Ray document (`from_xray`) states its flags and in-progress
    // state; they win over what the span's status would imply, so documents survive a round trip.
    if let Some(stated) = stated_flags(&attrs) {
        (error, fault, throttle) = (stated[0], stated[1], stated[2]);
    }
    let in_progress =
        bool_attr(&attrs, "aws.xray.inprogress") == Some(true) && span.end_time_unix_nano == 0;
    for key in STATED_ATTRIBUTES {
        filtered.remove(key);
    }
    let origin = super::aws::origin(&resource);
    let aws = make_aws(&attrs, &resource, &ctx.settings.log_groups, &mut filtered);
    let service = service(&resource);
    let sql = make_sql(span, &attrs, &mut filtered);
    for name in &ctx.settings.indexed_attributes {
        if let Some((key, value)) = attrs.get_key_value(name.as_str()) {
            filtered.insert_if_absent(key, value);
        }
    }
    let xray_attrs = make_xray_attributes(filtered, &resource, store_resource, ctx.settings);
    let (name, namespace) = name_and_namespace(span, &attrs, &resource);

    let mut doc = Map::new();
    doc.insert("name".into(), name.into_owned().into());
    doc.insert(
        "id".into(),
        if span.span_id.is_empty() {
            Value::Null
        } else {
            hex(&span.span_id).into()
        },
    );
    doc.insert("start_time".into(), seconds(span.start_time_unix_nano));
    if in_progress {
        doc.insert("in_progress".into(), true.into());
    } else {
        doc.insert("end_time".into(), seconds(span.end_time_unix_nano));
    }
    doc.insert("trace_id".into(), trace_id.into());
    if !span.parent_span_id.is_empty() {
        doc.insert("parent_id".into(), hex(&span.parent_span_id).into());
    }
    if is_subsegment {
        doc.insert("type".into(), "subsegment".into());
    }
    doc.insert("fault".into(), fault.into());
    doc.insert("error".into(), error.into());
    doc.insert("throttle".into(), throttle.into());
    insert_some(&mut doc, "cause", cause);
    insert_some(&mut doc, "origin", origin.map(Value::from));
    insert_some(&mut doc, "namespace", namespace.map(Value::from));
    insert_some(&mut doc, "user", xray_attrs.user.map(Value::from));
    insert_some(&mut doc, "http", http);
    insert_some(&mut doc, "aws", aws);
    insert_some(&mut doc, "service", service);
    insert_some(&mut doc, "sql", sql);
    if !xray_attrs.annotations.is_empty() {
        doc.insert("annotations".into(), Value::Object(xray_attrs.annotations));
    }
    if !xray_attrs.metadata.is_empty() {
        doc.insert("metadata".into(), Value::Object(xray_attrs.metadata));
    }
    if !links.is_empty() {
        doc.insert("links".into(), Value::Array(links));
    }
    Ok(doc)
}

/// Seconds since the epoch as a JSON float.
fn seconds(nanos: u64) -> Value {
    serde_json::Number::from_f64(nanos as f64 / 1e9)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn insert_some(doc: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        doc.insert(key.to_string(), value);
    }
}

/// `links[]` with converted trace ids (`makeSpanLinks`).
fn make_links(span: &Span, validation: TraceIdValidation) -> Result<Vec<Value>, TranslateError> {
    span.links
        .iter()
        .map(|link| {
            let mut obj = Map::new();
            obj.insert(
                "trace_id".into(),
                convert_trace_id(&link.trace_id, validation)?.into(),
            );
            check_id_len("links.span_id", &link.span_id)?;
            obj.insert(
                "id".into(),
                if link.span_id.is_empty() {
                    Value::Null
                } else {
                    hex(&link.span_id).into()
                },
            );
            let mut attributes = Map::new();
            for (key, value) in attr_map(&link.attributes) {
                if let Some(v) = raw_json(value) {
                    attributes.insert(key.to_string(), v);
                }
            }
            if !attributes.is_empty() {
                obj.insert("attributes".into(), Value::Object(attributes));
            }
            Ok(Value::Object(obj))
        })
        .collect()
}

/// The `sql` block (`makeSQL`) for SQL database systems; it consumes the `db.*` attributes it uses.
fn make_sql(span: &Span, attrs: &AttrMap<'_>, filtered: &mut AttrMap<'_>) -> Option<Value> {
    let system = get_str(attrs, "db.system");
    if !SQL_SYSTEMS.contains(&system) {
        return None;
    }
    for key in [
        "db.connection_string",
        "db.system",
        "db.name",
        "db.statement",
        "db.user",
    ] {
        filtered.remove(key);
    }
    let connection = match get_str(attrs, "db.connection_string") {
        "" => "localhost",
        s => s,
    };
    let mut sql = Map::new();
    sql.insert("url".into(), span.name.clone().into());
    sql.insert(
        "connection_string".into(),
        format!("{connection}/{}", get_str(attrs, "db.name")).into(),
    );
    sql.insert("database_type".into(), system.into());
    for (field, key) in [("user", "db.user"), ("sanitized_query", "db.statement")] {
        let value = get_str(attrs, key);
        if !value.is_empty() {
            sql.insert(field.into(), value.into());
        }
    }
    Some(Value::Object(sql))
}

/// The output of `makeXRayAttributes`.
struct XRayAttributes {
    user: Option<String>,
    annotations: Map<String, Value>,
    metadata: Map<String, Value>,
}

/// Splits the remaining span attributes (and, for segments, the resource attributes) into
/// `user`, annotations and metadata.
fn make_xray_attributes(
    mut attrs: AttrMap<'_>,
    resource: &AttrMap<'_>,
    store_resource: bool,
    settings: &TranslateSettings,
) -> XRayAttributes {
    let user = attrs
        .remove("enduser.id")
        .map(|v| str_of(v).to_string())
        .filter(|s| !s.is_empty());
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    let mut default = Map::new();

    let mut indexed: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    if !settings.index_all_attributes {
        indexed.extend(settings.indexed_attributes.iter().cloned());
    }
    if let Some(keys) = attrs.get("aws.xray.annotations").and_then(|v| array_of(v)) {
        for key in keys {
            if let Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) =
                &key.value
            {
                indexed.insert(s.clone());
            }
        }
        attrs.remove("aws.xray.annotations");
    }

    if store_resource {
        for (key, value) in resource {
            let key = resource_metadata_key(key);
            let indexed_here = settings.index_all_attributes || indexed.contains(&key);
            match annotation_value(value).filter(|_| indexed_here) {
                Some(v) => {
                    annotations.insert(fix_annotation_key(&key).into_owned(), v);
                }
                None => {
                    if let Some(v) = raw_json(value) {
                        default.insert(key, v);
                    }
                }
            }
        }
    }

    for (key, value) in attrs {
        if settings.index_all_attributes || indexed.contains(key) {
            if let Some(v) = annotation_value(value) {
                annotations.insert(fix_annotation_key(key).into_owned(), v);
            }
        } else if let (Some(namespace), Some(text)) =
            (key.strip_prefix("aws.xray.metadata."), string_value(value))
        {
            match serde_json::from_str::<Map<String, Value>>(text) {
                Err(_) => {
                    default.insert(key.to_string(), text.into());
                }
                Ok(object) if namespace.eq_ignore_ascii_case("default") => default.extend(object),
                Ok(object) => {
                    metadata.insert(namespace.to_string(), Value::Object(object));
                }
            }
        } else if let Some(v) = raw_json(value) {
            default.insert(key.to_string(), v);
        }
    }
    if !default.is_empty() {
        metadata.insert("default".into(), Value::Object(default));
    }
    XRayAttributes {
        user,
        annotations,
        metadata,
    }
}

/// Builds the `aws` object from resource and span attributes, consuming the span attributes it
/// uses from `filtered`. Returns `None` when the resource names a cloud provider other than AWS.
pub(crate) fn make_aws(
    attrs: &AttrMap<'_>,
    resource: &AttrMap<'_>,
    log_groups: &[String],
    filtered: &mut AttrMap<'_>,
) -> Option<Value> {
    for key in AWS_CONSUMED {
        filtered.remove(key);
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

/// Returns the `http` object, removing the attributes it consumed from `filtered`, or `None` when
/// the span has no HTTP attribute (then nothing is consumed).
pub(crate) fn make_http(
    span: &Span,
    attrs: &AttrMap<'_>,
    filtered: &mut AttrMap<'_>,
) -> Option<Value> {
    if !HTTP_MARKERS.iter().any(|k| attrs.contains_key(k)) {
        return None;
    }
    for key in HTTP_MARKERS.iter().chain(HTTP_CONSUMED) {
        filtered.remove(key);
    }

    let mut request = Map::new();
    if let Some(method) = first_str(attrs, &["http.method", "http.request.method"]) {
        request.insert("method".into(), method.into());
    }
    let client_ip = first_str(attrs, &["http.client_ip"])
        .or_else(|| ip_str(attrs, "client.address"))
        .or_else(|| first_str(attrs, &["net.peer.ip"]))
        .or_else(|| ip_str(attrs, "network.peer.address"));
    if let Some(ip) = client_ip {
        request.insert("client_ip".into(), ip.into());
        if !attrs.contains_key("net.peer.ip") && !attrs.contains_key("network.peer.address") {
            request.insert("x_forwarded_for".into(), true.into());
        }
    }
    if let Some(agent) = first_str(attrs, &["http.user_agent", "user_agent.original"]) {
        request.insert("user_agent".into(), agent.into());
    }
    let url = first_str(attrs, &["http.url", "url.full"])
        .map(str::to_string)
        .or_else(|| construct_url(span.kind() == SpanKind::Server, attrs));
    if let Some(url) = url {
        request.insert("url".into(), url.into());
    }

    let mut response = Map::new();
    let status = ["http.status_code", "http.response.status_code"]
        .iter()
        .find_map(|k| attrs.get(k).and_then(|v| int_of(v)));
    if let Some(status) = status {
        response.insert("status".into(), status.into());
    }
    response.insert("content_length".into(), response_size(span, attrs).into());

    let mut http = Map::new();
    http.insert("request".into(), Value::Object(request));
    http.insert("response".into(), Value::Object(response));
    Some(Value::Object(http))
}

/// The value as an annotation: strings, integers, doubles and booleans only (`annotationValue`).
pub(crate) fn annotation_value(value: &AnyValue) -> Option<Value> {
    match &value.value {
        Some(Any::StringValue(s)) => Some(Value::String(s.clone())),
        Some(Any::IntValue(n)) => Some(Value::from(*n)),
        Some(Any::DoubleValue(d)) => Number::from_f64(*d).map(Value::Number),
        Some(Any::BoolValue(b)) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// An exception's X-Ray JSON object; empty strings and empty stacks are omitted.
fn exception_json(e: &Exception) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(e.id.clone()));
    if let Some(kind) = &e.kind {
        obj.insert("type".into(), Value::String(kind.clone()));
    }
    if let Some(message) = e.message.as_ref().filter(|m| !m.is_empty()) {
        obj.insert("message".into(), Value::String(message.clone()));
    }
    if let Some(remote) = e.remote {
        obj.insert("remote".into(), Value::Bool(remote));
    }
    if let Some(cause) = &e.cause {
        obj.insert("cause".into(), Value::String(cause.clone()));
    }
    if !e.stack.is_empty() {
        let frames = e
            .stack
            .iter()
            .map(|f| {
                let mut frame = Map::new();
                if !f.path.is_empty() {
                    frame.insert("path".into(), Value::String(f.path.clone()));
                }
                frame.insert("line".into(), Value::from(f.line));
                if !f.label.is_empty() {
                    frame.insert("label".into(), Value::String(f.label.clone()));
                }
                Value::Object(frame)
            })
            .collect();
        obj.insert("stack".into(), Value::Array(frames));
    }
    Value::Object(obj)
}
