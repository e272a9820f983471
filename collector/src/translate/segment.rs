//! One span to one X-Ray document (`MakeSegment`), and the `LOCAL_ROOT` split
//! (`MakeSegmentsFromSpan`).

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use serde_json::{Map, Value};

use super::attributes::{
    AttrMap, annotation_value, array_of, attr_map, get_str, hex, raw_json, str_of,
};
use super::{IdSource, TraceIdValidation, TranslateError, TranslateSettings, aws, cause, http};

/// `db.system` values that produce an `sql` block.
const SQL_SYSTEMS: &[&str] = &[
    "db2",
    "derby",
    "hive",
    "mariadb",
    "mssql",
    "mysql",
    "oracle",
    "postgresql",
    "sqlite",
    "teradata",
    "other_sql",
];

/// Attributes removed from the service segment of a `LOCAL_ROOT` dependency span.
const REMOTE_ONLY_ATTRIBUTES: &[&str] = &[
    "aws.remote.service",
    "aws.remote.operation",
    "remoteTarget",
    "K8s.RemoteNamespace",
];

/// Fields of the `aws` object removed from the service segment of a `LOCAL_ROOT` dependency span.
const REMOTE_ONLY_AWS_FIELDS: &[&str] = &[
    "operation",
    "account_id",
    "region",
    "request_id",
    "queue_url",
    "table_name",
    "table_names",
];

/// Translation state shared by the spans of one call.
pub(crate) struct Ctx<'a> {
    pub(crate) settings: &'a TranslateSettings,
    pub(crate) ids: &'a mut dyn IdSource,
}

impl Ctx<'_> {
    fn new_id_hex(&mut self) -> String {
        hex(&self.ids.next_id())
    }
}

/// Translates one span into one document, or two for a `LOCAL_ROOT` span of a dependency kind.
pub(crate) fn make_segments(
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
    let http = http::make_http(span, &attrs, &mut filtered);
    let mut cause = {
        let mut new_id = || ctx.new_id_hex();
        cause::make_cause(span, &attrs, &resource, &mut filtered, &mut new_id)
    };
    // A span converted from an X-Ray document (`from_xray`) states its flags and in-progress
    // state; they win over what the span's status would imply, so documents survive a round trip.
    if let Some([error, fault, throttle]) = stated_flags(&attrs) {
        (cause.error, cause.fault, cause.throttle) = (error, fault, throttle);
    }
    let in_progress =
        bool_attr(&attrs, "aws.xray.inprogress") == Some(true) && span.end_time_unix_nano == 0;
    for key in STATED_ATTRIBUTES {
        filtered.remove(key);
    }
    let origin = aws::origin(&resource);
    let aws = aws::make_aws(&attrs, &resource, &ctx.settings.log_groups, &mut filtered);
    let service = aws::service(&resource);
    let sql = make_sql(span, &attrs, &mut filtered);
    for name in &ctx.settings.indexed_attributes {
        if let Some((key, value)) = attrs.get_key_value(name.as_str()) {
            filtered.entry(key).or_insert(value);
        }
    }
    let xray_attrs = make_xray_attributes(filtered, &resource, store_resource, ctx.settings);
    let (name, namespace) = name_and_namespace(span, &attrs, &resource);

    let mut doc = Map::new();
    doc.insert("name".into(), name.into());
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
    doc.insert("fault".into(), cause.fault.into());
    doc.insert("error".into(), cause.error.into());
    doc.insert("throttle".into(), cause.throttle.into());
    insert_some(&mut doc, "cause", cause.cause);
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

/// The X-Ray state a span converted from X-Ray carries (`translate::from_xray`).
const STATED_ATTRIBUTES: [&str; 4] = [
    "aws.xray.error",
    "aws.xray.fault",
    "aws.xray.throttle",
    "aws.xray.inprogress",
];

/// The boolean attribute `key`, if it is one.
fn bool_attr(attrs: &AttrMap<'_>, key: &str) -> Option<bool> {
    match attrs.get(key)?.value {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(b)) => Some(b),
        _ => None,
    }
}

/// `[error, fault, throttle]` when the span states any of them (an absent one is false).
fn stated_flags(attrs: &AttrMap<'_>) -> Option<[bool; 3]> {
    let flags =
        ["aws.xray.error", "aws.xray.fault", "aws.xray.throttle"].map(|k| bool_attr(attrs, k));
    flags
        .iter()
        .any(Option::is_some)
        .then(|| flags.map(|f| f.unwrap_or(false)))
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

fn check_id_len(field: &'static str, id: &[u8]) -> Result<(), TranslateError> {
    if id.is_empty() || id.len() == 8 {
        Ok(())
    } else {
        Err(TranslateError::InvalidSpanId {
            field,
            len: id.len(),
        })
    }
}

/// `1-` + 8 hex digits + `-` + 24 hex digits, with the optional epoch window check.
pub(crate) fn convert_trace_id(
    trace_id: &[u8],
    validation: TraceIdValidation,
) -> Result<String, TranslateError> {
    let bytes: &[u8; 16] = trace_id
        .try_into()
        .map_err(|_| TranslateError::InvalidTraceIdLength(trace_id.len()))?;
    if let TraceIdValidation::Window { now_unix_secs } = validation {
        const MAX_AGE_SECS: i64 = 28 * 24 * 60 * 60;
        const MAX_SKEW_SECS: i64 = 5 * 60;
        let epoch = i64::from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        let delta = now_unix_secs - epoch;
        if !(-MAX_SKEW_SECS..=MAX_AGE_SECS).contains(&delta) {
            return Err(TranslateError::TraceIdOutsideWindow(hex(bytes)));
        }
    }
    Ok(format!("1-{}-{}", hex(&bytes[..4]), hex(&bytes[4..])))
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
                    annotations.insert(fix_annotation_key(&key), v);
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
                annotations.insert(fix_annotation_key(key), v);
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

/// The `metadata.default` key of a resource attribute on a segment (`otel.resource.<key>`).
pub(crate) fn resource_metadata_key(key: &str) -> String {
    format!("otel.resource.{key}")
}

fn string_value(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<&str> {
    match &value.value {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// `fixAnnotationKey` with `exporter.xray.allowDot` on: every character other than an ASCII
/// letter, digit or `.` becomes `_`.
pub(crate) fn fix_annotation_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `fixSegmentName`: drops characters X-Ray does not allow in names, truncates to 200 bytes (at a
/// character boundary) and falls back to `span`.
pub(crate) fn fix_segment_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(200));
    for c in name.chars() {
        let allowed =
            c == ' ' || c.is_ascii_digit() || c.is_alphabetic() || "N_.:/%&#=+-@".contains(c);
        if !allowed {
            continue;
        }
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "span".into() } else { out }
}

/// The segment name (§6 of the rules) and namespace (§7).
fn name_and_namespace(
    span: &Span,
    attrs: &AttrMap<'_>,
    resource: &AttrMap<'_>,
) -> (String, Option<&'static str>) {
    let kind = span.kind();
    let aws_sdk = get_str(attrs, "rpc.system") == "aws-api";
    let mut namespace = aws_sdk.then_some("aws");
    let mut name = String::new();
    if kind == SpanKind::Server {
        name = get_str(attrs, "aws.local.service").to_string();
    }
    let local_root_internal =
        kind == SpanKind::Internal && get_str(attrs, "aws.span.kind") == "LOCAL_ROOT";
    match attrs.get("aws.local.service") {
        Some(local) if local_root_internal => name = str_of(local).to_string(),
        _ => {}
    }
    let dependency = matches!(
        kind,
        SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
    );
    match attrs.get("aws.remote.service") {
        Some(remote) if dependency => {
            name = trim_aws_sdk_prefix(str_of(remote), attrs).to_string();
        }
        _ => {}
    }
    if name.is_empty() {
        name = get_str(attrs, "peer.service").to_string();
    }
    match attrs.get("aws.service") {
        Some(service) if name.is_empty() => {
            name = str_of(service).to_string();
            namespace = namespace.or(Some("aws"));
        }
        _ => {}
    }
    if let Some(db) = attrs.get("db.name").filter(|_| name.is_empty()) {
        name = str_of(db).to_string();
        let url = attrs.get("db.connection_string").map(|v| str_of(v));
        let host = url.map_or("", |u| url_host(u.strip_prefix("jdbc:").unwrap_or(u)));
        if !host.is_empty() {
            name = format!("{name}@{host}");
        }
    }
    if name.is_empty() && kind == SpanKind::Server {
        name = get_str(resource, "service.name").to_string();
    }
    for key in ["rpc.service", "http.host", "net.peer.name"] {
        if name.is_empty() {
            name = get_str(attrs, key).to_string();
        }
    }
    if name.is_empty() {
        name = fix_segment_name(&span.name);
    }
    if namespace.is_none() && kind == SpanKind::Client {
        namespace = Some("remote");
    }
    (name, namespace)
}

/// Strips `AWS.SDK.` or else `AWS::` from a remote service name of an `aws-api` span.
fn trim_aws_sdk_prefix<'a>(name: &'a str, attrs: &AttrMap<'_>) -> &'a str {
    if get_str(attrs, "rpc.system") != "aws-api" {
        return name;
    }
    name.strip_prefix("AWS.SDK.")
        .or_else(|| name.strip_prefix("AWS::"))
        .unwrap_or(name)
}

/// The host name of a URL (`scheme://[user@]host[:port]/...`), as Go's `url.URL.Hostname()`
/// returns it; empty when the text has no authority.
fn url_host(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return "";
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_sanitized_and_truncated() {
        assert_eq!(fix_segment_name("GET /users/{id}"), "GET /users/id");
        assert_eq!(fix_segment_name("§§§"), "span");
        assert_eq!(fix_segment_name(""), "span");
        assert_eq!(fix_segment_name("naïve café"), "naïve café");
        let long = "é".repeat(150);
        let fixed = fix_segment_name(&long);
        assert_eq!(fixed.len(), 200);
        assert!(fixed.chars().all(|c| c == 'é'));
    }

    #[test]
    fn annotation_keys_keep_dots_and_replace_the_rest() {
        assert_eq!(fix_annotation_key("http.method"), "http.method");
        assert_eq!(fix_annotation_key("a-b c/d"), "a_b_c_d");
    }

    #[test]
    fn url_host_matches_go_hostname() {
        assert_eq!(
            url_host("mysql://db.dev.example.com:3306"),
            "db.dev.example.com"
        );
        assert_eq!(url_host("postgresql://u:p@pg.local/orders"), "pg.local");
        assert_eq!(url_host("mysql://[::1]:3306"), "::1");
        assert_eq!(url_host("localhost"), "");
    }

    #[test]
    fn trace_id_epoch_window() {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&1_700_000_000u32.to_be_bytes());
        let ok = convert_trace_id(&id, TraceIdValidation::Skip).unwrap();
        assert_eq!(ok, "1-6553f100-000000000000000000000000");
        let now = 1_700_000_000;
        assert!(convert_trace_id(&id, TraceIdValidation::Window { now_unix_secs: now }).is_ok());
        let too_old = now + 28 * 24 * 3600 + 1;
        assert!(matches!(
            convert_trace_id(
                &id,
                TraceIdValidation::Window {
                    now_unix_secs: too_old
                }
            ),
            Err(TranslateError::TraceIdOutsideWindow(_))
        ));
        let future = now - 301;
        assert!(
            convert_trace_id(
                &id,
                TraceIdValidation::Window {
                    now_unix_secs: future
                }
            )
            .is_err()
        );
        assert!(matches!(
            convert_trace_id(&id[..8], TraceIdValidation::Skip),
            Err(TranslateError::InvalidTraceIdLength(8))
        ));
    }
}
