//! One span to one X-Ray document (`MakeSegment`), and the `LOCAL_ROOT` split
//! (`MakeSegmentsFromSpan`).
//!
//! A span is first gathered into a [`Segment`], its fields borrowed from the span, the resource
//! and the settings where they can be, and then written as compact JSON straight into a reused
//! buffer (`Segment::write`), keys in ascending byte order as a `serde_json::Map` orders them.
//! The tree-building translator this replaced (a `serde_json::Map` per span, then `to_vec`) is
//! kept in `oracle.rs` as the test oracle: `differential.rs` checks that both give the same bytes.

use std::borrow::Cow;
use std::cmp::Ordering;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use serde_json::{Map, Value};

use super::attributes::{AttrMap, array_of, attr_map, get_str, hex, str_of};
use super::aws::{self, Aws};
use super::cause::{self, Cause};
use super::http::{self, Http};
use super::write::{self, Obj};
use super::{Document, IdSource, TraceIdValidation, TranslateError, TranslateSettings};

/// `db.system` values that produce an `sql` block.
pub(crate) const SQL_SYSTEMS: &[&str] = &[
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
pub(crate) const REMOTE_ONLY_ATTRIBUTES: &[&str] = &[
    "aws.remote.service",
    "aws.remote.operation",
    "remoteTarget",
    "K8s.RemoteNamespace",
];

/// The `metadata.default` key prefix of a resource attribute on a segment.
const RESOURCE_PREFIX: &str = "otel.resource.";

/// Translates one span into one document, or two for a `LOCAL_ROOT` span of a dependency kind,
/// and appends them to `docs`; `resource` is the span's resource's attribute map and `buf` a
/// scratch buffer reused from document to document. Nothing is appended when the span is dropped.
pub(crate) fn write_segments(
    span: &Span,
    resource: &AttrMap<'_>,
    settings: &TranslateSettings,
    ids: &mut dyn IdSource,
    buf: &mut Vec<u8>,
    docs: &mut Vec<Document>,
) -> Result<(), TranslateError> {
    let attrs = attr_map(&span.attributes);
    let kind = span.kind();
    let ids_of_span = (span.span_id.as_slice(), span.parent_span_id.as_slice());
    if get_str(&attrs, "aws.span.kind") != "LOCAL_ROOT" {
        let mut doc = make_segment(span, ids_of_span, &attrs, resource, settings, ids)?;
        if matches!(
            kind,
            SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
        ) && doc.subsegment
            && doc.namespace.is_none()
            && attrs.contains_key("aws.remote.service")
        {
            doc.namespace = Some("remote");
        }
        docs.push(doc.into_document(buf));
        return Ok(());
    }
    if matches!(kind, SpanKind::Server | SpanKind::Internal) {
        let mut doc = make_segment(span, ids_of_span, &attrs, resource, settings, ids)?;
        doc.subsegment = false;
        doc.namespace = None;
        docs.push(doc.into_document(buf));
        return Ok(());
    }

    let service_segment_id = ids.next_id();

    // The dependency subsegment: the original span id, parented to the new service segment.
    let dependency_ids = (span.span_id.as_slice(), service_segment_id.as_slice());
    let mut dependency = make_segment(span, dependency_ids, &attrs, resource, settings, ids)?;
    dependency.subsegment = true;
    dependency.namespace = dependency.namespace.or(Some("remote"));
    if kind == SpanKind::Consumer {
        dependency.links.clear();
    }
    if let Some(remote) = attrs.get("aws.remote.service") {
        dependency.name = Cow::Borrowed(trim_aws_sdk_prefix(str_of(remote), &attrs));
    }
    let dependency = dependency.into_document(buf);

    // The service segment: a new span id, the original parent, no remote-only attributes.
    let mut service_attrs = attrs.clone();
    for key in REMOTE_ONLY_ATTRIBUTES {
        service_attrs.remove(key);
    }
    let service_ids = (
        service_segment_id.as_slice(),
        span.parent_span_id.as_slice(),
    );
    let mut service = make_segment(span, service_ids, &service_attrs, resource, settings, ids)?;
    if let Some(local) = attrs.get("aws.local.service") {
        service.name = Cow::Borrowed(str_of(local));
    }
    service.http = None;
    if let Some(aws) = &mut service.aws {
        aws.drop_remote_fields();
    }
    service.metadata.keep_resource_entries();
    service.subsegment = false;
    service.namespace = None;
    if kind != SpanKind::Consumer {
        service.links.clear();
    }
    docs.push(dependency);
    docs.push(service.into_document(buf));
    Ok(())
}

/// One X-Ray document, its fields borrowed where they can be.
pub(crate) struct Segment<'a> {
    name: Cow<'a, str>,
    /// The span id; empty gives `"id": null`.
    id: &'a [u8],
    start_time: u64,
    /// `None` when the document is in progress.
    end_time: Option<u64>,
    trace_id: String,
    /// The parent span id; empty gives no `parent_id`.
    parent_id: &'a [u8],
    /// `"type": "subsegment"`.
    subsegment: bool,
    cause: Cause,
    origin: Option<&'static str>,
    namespace: Option<&'static str>,
    user: Option<&'a str>,
    http: Option<Http<'a>>,
    aws: Option<Aws<'a>>,
    /// `service.version`.
    service: Option<&'a str>,
    sql: Option<Sql<'a>>,
    /// Sorted by key, one entry per key; every value is a string, integer, finite double or
    /// boolean.
    annotations: Vec<(Cow<'a, str>, &'a AnyValue)>,
    metadata: Metadata<'a>,
    links: Vec<Link<'a>>,
}

impl Segment<'_> {
    /// Writes the document into `buf` (cleared first) and returns it with its ids.
    fn into_document(self, buf: &mut Vec<u8>) -> Document {
        buf.clear();
        self.write(buf);
        Document {
            json: buf.as_slice().to_vec(),
            id: if self.id.is_empty() {
                String::new()
            } else {
                hex(self.id)
            },
            trace_id: self.trace_id,
        }
    }

    /// Writes the JSON document, keys in ascending order.
    fn write(&self, out: &mut Vec<u8>) {
        let mut doc = Obj::begin(out);
        if !self.annotations.is_empty() {
            let mut annotations = Obj::begin(doc.key("annotations"));
            for (key, value) in &self.annotations {
                write::any(annotations.dynamic_key(key), value);
            }
            annotations.end();
        }
        if let Some(aws) = &self.aws {
            aws.write(doc.key("aws"));
        }
        if !self.cause.exceptions.is_empty() {
            self.cause.write_cause(doc.key("cause"));
        }
        if let Some(end) = self.end_time {
            write::finite_f64(doc.key("end_time"), seconds(end));
        }
        doc.bool("error", self.cause.error);
        doc.bool("fault", self.cause.fault);
        if let Some(http) = &self.http {
            http.write(doc.key("http"));
        }
        if self.id.is_empty() {
            write::null(doc.key("id"));
        } else {
            write::hex_string(doc.key("id"), self.id);
        }
        if self.end_time.is_none() {
            doc.bool("in_progress", true);
        }
        if !self.links.is_empty() {
            let out = doc.key("links");
            out.push(b'[');
            for (i, link) in self.links.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                link.write(out);
            }
            out.push(b']');
        }
        if !self.metadata.is_empty() {
            self.metadata.write(doc.key("metadata"));
        }
        doc.str("name", &self.name);
        if let Some(namespace) = self.namespace {
            doc.str("namespace", namespace);
        }
        if let Some(origin) = self.origin {
            doc.str("origin", origin);
        }
        if !self.parent_id.is_empty() {
            write::hex_string(doc.key("parent_id"), self.parent_id);
        }
        if let Some(version) = self.service {
            let mut service = Obj::begin(doc.key("service"));
            service.str("version", version);
            service.end();
        }
        if let Some(sql) = &self.sql {
            sql.write(doc.key("sql"));
        }
        write::finite_f64(doc.key("start_time"), seconds(self.start_time));
        doc.bool("throttle", self.cause.throttle);
        doc.str("trace_id", &self.trace_id);
        if self.subsegment {
            doc.str("type", "subsegment");
        }
        if let Some(user) = self.user {
            doc.str("user", user);
        }
        doc.end();
    }
}

/// `MakeSegment`: the single-span translation, with the span's own (`span_id`, `parent_span_id`)
/// or those of one half of a `LOCAL_ROOT` split, and its attribute map `attrs`.
fn make_segment<'a>(
    span: &'a Span,
    (span_id, parent_span_id): (&'a [u8], &'a [u8]),
    attrs: &AttrMap<'a>,
    resource: &AttrMap<'a>,
    settings: &'a TranslateSettings,
    ids: &mut dyn IdSource,
) -> Result<Segment<'a>, TranslateError> {
    let kind = span.kind();
    let is_subsegment = kind != SpanKind::Server && !parent_span_id.is_empty();
    let store_resource = !is_subsegment;

    let trace_id = convert_trace_id(&span.trace_id, settings.trace_id_validation)?;
    check_id_len("span_id", span_id)?;
    check_id_len("parent_span_id", parent_span_id)?;
    let links = make_links(span, settings.trace_id_validation)?;

    let mut filtered = attrs.clone();
    let http = http::make_http(span, attrs, &mut filtered);
    let mut cause = {
        let mut new_id = || hex(&ids.next_id());
        cause::make_cause(span, attrs, resource, &mut filtered, &mut new_id)
    };
    // A span converted from an X-Ray document (`from_xray`) states its flags and in-progress
    // state; they win over what the span's status would imply, so documents survive a round trip.
    if let Some([error, fault, throttle]) = stated_flags(attrs) {
        (cause.error, cause.fault, cause.throttle) = (error, fault, throttle);
    }
    let in_progress =
        bool_attr(attrs, "aws.xray.inprogress") == Some(true) && span.end_time_unix_nano == 0;
    for key in STATED_ATTRIBUTES {
        filtered.remove(key);
    }
    let origin = aws::origin(resource);
    let aws = aws::make_aws(attrs, resource, &settings.log_groups, &mut filtered);
    let service = aws::service(resource);
    let sql = make_sql(span, attrs, &mut filtered);
    for name in &settings.indexed_attributes {
        if let Some((key, value)) = attrs.get_key_value(name.as_str()) {
            filtered.insert_if_absent(key, value);
        }
    }
    let xray_attrs = make_xray_attributes(filtered, resource, store_resource, settings);
    let (name, namespace) = name_and_namespace(span, attrs, resource);

    Ok(Segment {
        name,
        id: span_id,
        start_time: span.start_time_unix_nano,
        end_time: (!in_progress).then_some(span.end_time_unix_nano),
        trace_id,
        parent_id: parent_span_id,
        subsegment: is_subsegment,
        cause,
        origin,
        namespace,
        user: xray_attrs.user,
        http,
        aws,
        service,
        sql,
        annotations: xray_attrs.annotations,
        metadata: xray_attrs.metadata,
        links,
    })
}
/// The X-Ray state a span converted from X-Ray carries (`translate::from_xray`).
pub(crate) const STATED_ATTRIBUTES: [&str; 4] = [
    "aws.xray.error",
    "aws.xray.fault",
    "aws.xray.throttle",
    "aws.xray.inprogress",
];

/// The boolean attribute `key`, if it is one.
pub(crate) fn bool_attr(attrs: &AttrMap<'_>, key: &str) -> Option<bool> {
    match attrs.get(key)?.value {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(b)) => Some(b),
        _ => None,
    }
}

/// `[error, fault, throttle]` when the span states any of them (an absent one is false).
pub(crate) fn stated_flags(attrs: &AttrMap<'_>) -> Option<[bool; 3]> {
    let flags =
        ["aws.xray.error", "aws.xray.fault", "aws.xray.throttle"].map(|k| bool_attr(attrs, k));
    flags
        .iter()
        .any(Option::is_some)
        .then(|| flags.map(|f| f.unwrap_or(false)))
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

/// Fields of the `aws` object removed from the service segment of a `LOCAL_ROOT` dependency span.
#[cfg(test)]
pub(crate) const REMOTE_ONLY_AWS_FIELDS: &[&str] = &[
    "operation",
    "account_id",
    "region",
    "request_id",
    "queue_url",
    "table_name",
    "table_names",
];

/// Seconds since the epoch, as the JSON number of a document's times.
fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

pub(crate) fn check_id_len(field: &'static str, id: &[u8]) -> Result<(), TranslateError> {
    if id.is_empty() || id.len() == 8 {
        Ok(())
    } else {
        Err(TranslateError::InvalidSpanId {
            field,
            len: id.len(),
        })
    }
}

/// One entry of `links`.
struct Link<'a> {
    trace_id: String,
    /// Empty gives `"id": null`.
    id: &'a [u8],
    attributes: &'a [KeyValue],
}

impl Link<'_> {
    /// Writes `{"attributes":{...},"id":...,"trace_id":...}`; `attributes` only when one of them
    /// has a value.
    fn write(&self, out: &mut Vec<u8>) {
        let mut obj = Obj::begin(out);
        let attributes = attr_map(self.attributes);
        if attributes.values().any(|v| v.value.is_some()) {
            let mut map = Obj::begin(obj.key("attributes"));
            for (key, value) in attributes.iter().filter(|(_, v)| v.value.is_some()) {
                write::any(map.dynamic_key(key), value);
            }
            map.end();
        }
        if self.id.is_empty() {
            write::null(obj.key("id"));
        } else {
            write::hex_string(obj.key("id"), self.id);
        }
        obj.str("trace_id", &self.trace_id);
        obj.end();
    }
}

/// `links[]` with converted trace ids (`makeSpanLinks`).
fn make_links(span: &Span, validation: TraceIdValidation) -> Result<Vec<Link<'_>>, TranslateError> {
    span.links
        .iter()
        .map(|link| {
            let trace_id = convert_trace_id(&link.trace_id, validation)?;
            check_id_len("links.span_id", &link.span_id)?;
            Ok(Link {
                trace_id,
                id: &link.span_id,
                attributes: &link.attributes,
            })
        })
        .collect()
}

/// The `sql` block.
struct Sql<'a> {
    url: &'a str,
    connection_string: String,
    database_type: &'a str,
    user: &'a str,
    sanitized_query: &'a str,
}

impl Sql<'_> {
    /// Writes the object, keys in ascending order; `user` and `sanitized_query` when not empty.
    fn write(&self, out: &mut Vec<u8>) {
        let mut sql = Obj::begin(out);
        sql.str("connection_string", &self.connection_string);
        sql.str("database_type", self.database_type);
        sql.non_empty_str("sanitized_query", self.sanitized_query);
        sql.str("url", self.url);
        sql.non_empty_str("user", self.user);
        sql.end();
    }
}

/// The `sql` block (`makeSQL`) for SQL database systems; it consumes the `db.*` attributes it uses.
fn make_sql<'a>(
    span: &'a Span,
    attrs: &AttrMap<'a>,
    filtered: &mut AttrMap<'_>,
) -> Option<Sql<'a>> {
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
    Some(Sql {
        url: &span.name,
        connection_string: format!("{connection}/{}", get_str(attrs, "db.name")),
        database_type: system,
        user: get_str(attrs, "db.user"),
        sanitized_query: get_str(attrs, "db.statement"),
    })
}

/// The output of `makeXRayAttributes`.
struct XRayAttributes<'a> {
    user: Option<&'a str>,
    annotations: Vec<(Cow<'a, str>, &'a AnyValue)>,
    metadata: Metadata<'a>,
}

/// A `metadata.default` key: a resource attribute's (`otel.resource.<key>`), a span attribute's,
/// or one of an `aws.xray.metadata.default` object. Ordered as the text it stands for.
enum MetaKey<'a> {
    Resource(&'a str),
    Span(&'a str),
    Owned(String),
}

impl MetaKey<'_> {
    /// The key as a prefix and the rest.
    fn parts(&self) -> (&str, &str) {
        match self {
            MetaKey::Resource(key) => (RESOURCE_PREFIX, key),
            MetaKey::Span(key) => ("", key),
            MetaKey::Owned(key) => ("", key),
        }
    }

    fn is_resource_key(&self) -> bool {
        match self {
            MetaKey::Resource(_) => true,
            MetaKey::Span(key) => key.starts_with(RESOURCE_PREFIX),
            MetaKey::Owned(key) => key.starts_with(RESOURCE_PREFIX),
        }
    }

    /// Writes the key as an escaped JSON string.
    fn write(&self, out: &mut Vec<u8>) {
        let (prefix, rest) = self.parts();
        out.push(b'"');
        write::string_contents(out, prefix);
        write::string_contents(out, rest);
        out.push(b'"');
    }
}

impl Ord for MetaKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let ((a_prefix, a), (b_prefix, b)) = (self.parts(), other.parts());
        if a_prefix == b_prefix {
            a.cmp(b)
        } else {
            a_prefix
                .bytes()
                .chain(a.bytes())
                .cmp(b_prefix.bytes().chain(b.bytes()))
        }
    }
}

impl PartialOrd for MetaKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MetaKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MetaKey<'_> {}

/// A `metadata.default` value.
enum MetaValue<'a> {
    /// An attribute value with a value (`raw_json`).
    Any(&'a AnyValue),
    /// The text of an `aws.xray.metadata.*` attribute that is not a JSON object.
    Text(&'a str),
    /// An entry of an `aws.xray.metadata.default` object.
    Json(Value),
}

/// The `metadata` block.
#[derive(Default)]
struct Metadata<'a> {
    /// `aws.xray.metadata.<namespace>` objects other than `default`, sorted by namespace.
    namespaces: Vec<(&'a str, Map<String, Value>)>,
    /// `metadata.default`, sorted by key, one entry per key.
    default: Vec<(MetaKey<'a>, MetaValue<'a>)>,
}

impl Metadata<'_> {
    fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.default.is_empty()
    }

    /// Keeps only the `otel.resource.*` entries, and the namespaces left with any (the service
    /// segment of a `LOCAL_ROOT` split).
    fn keep_resource_entries(&mut self) {
        self.default.retain(|(key, _)| key.is_resource_key());
        for (_, entries) in &mut self.namespaces {
            entries.retain(|k, _| k.starts_with(RESOURCE_PREFIX));
        }
        self.namespaces.retain(|(_, entries)| !entries.is_empty());
    }

    /// Writes the object: the namespaces and `default`, keys in ascending order.
    fn write(&self, out: &mut Vec<u8>) {
        let mut metadata = Obj::begin(out);
        let mut default_pending = !self.default.is_empty();
        for (namespace, entries) in &self.namespaces {
            if default_pending && *namespace > "default" {
                self.write_default(metadata.key("default"));
                default_pending = false;
            }
            write::value(metadata.dynamic_key(namespace), entries);
        }
        if default_pending {
            self.write_default(metadata.key("default"));
        }
        metadata.end();
    }

    fn write_default(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.default.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            key.write(out);
            out.push(b':');
            match value {
                MetaValue::Any(value) => write::any(out, value),
                MetaValue::Text(text) => write::string(out, text),
                MetaValue::Json(value) => write::value(out, value),
            }
        }
        out.push(b'}');
    }
}

/// Whether the value can be an annotation: a string, integer, finite double or boolean
/// (`annotationValue`).
fn annotatable(value: &AnyValue) -> bool {
    match &value.value {
        Some(Any::StringValue(_) | Any::IntValue(_) | Any::BoolValue(_)) => true,
        Some(Any::DoubleValue(d)) => d.is_finite(),
        _ => false,
    }
}

/// Splits the remaining span attributes (and, for segments, the resource attributes) into
/// `user`, annotations and metadata.
fn make_xray_attributes<'a>(
    mut attrs: AttrMap<'a>,
    resource: &AttrMap<'a>,
    store_resource: bool,
    settings: &TranslateSettings,
) -> XRayAttributes<'a> {
    let user = attrs
        .remove("enduser.id")
        .map(str_of)
        .filter(|s| !s.is_empty());
    let mut annotations = Vec::new();
    let mut metadata = Metadata::default();
    let resource_entries = if store_resource { resource.len() } else { 0 };
    metadata.default.reserve(resource_entries + attrs.len());

    // Keys to index: the configured ones and those the span lists in `aws.xray.annotations`.
    let listed: &[AnyValue] = match attrs.get("aws.xray.annotations").and_then(|v| array_of(v)) {
        Some(keys) => {
            attrs.remove("aws.xray.annotations");
            keys
        }
        None => &[],
    };
    let indexed = |prefix: &str, key: &str| {
        let is = |candidate: &str| {
            candidate
                .strip_prefix(prefix)
                .is_some_and(|rest| rest == key)
        };
        settings.index_all_attributes
            || settings.indexed_attributes.iter().any(|k| is(k))
            || listed.iter().any(|v| match &v.value {
                Some(Any::StringValue(s)) => is(s),
                _ => false,
            })
    };

    if store_resource {
        for (key, value) in resource {
            if annotatable(value) && indexed(RESOURCE_PREFIX, key) {
                let key = fix_annotation_key(&resource_metadata_key(key)).into_owned();
                annotations.push((Cow::Owned(key), value));
            } else if value.value.is_some() {
                metadata
                    .default
                    .push((MetaKey::Resource(key), MetaValue::Any(value)));
            }
        }
    }

    for (key, value) in attrs {
        if indexed("", key) {
            if annotatable(value) {
                annotations.push((fix_annotation_key(key), value));
            }
        } else if let (Some(namespace), Some(text)) =
            (key.strip_prefix("aws.xray.metadata."), string_value(value))
        {
            match serde_json::from_str::<Map<String, Value>>(text) {
                Err(_) => metadata
                    .default
                    .push((MetaKey::Span(key), MetaValue::Text(text))),
                Ok(object) if namespace.eq_ignore_ascii_case("default") => metadata.default.extend(
                    object
                        .into_iter()
                        .map(|(k, v)| (MetaKey::Owned(k), MetaValue::Json(v))),
                ),
                Ok(object) => metadata.namespaces.push((namespace, object)),
            }
        } else if value.value.is_some() {
            metadata
                .default
                .push((MetaKey::Span(key), MetaValue::Any(value)));
        }
    }
    write::sort_dedup(&mut annotations);
    write::sort_dedup(&mut metadata.default);
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

pub(crate) fn string_value(
    value: &opentelemetry_proto::tonic::common::v1::AnyValue,
) -> Option<&str> {
    match &value.value {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// `fixAnnotationKey` with `exporter.xray.allowDot` on: every character other than an ASCII
/// letter, digit or `.` becomes `_`.
pub(crate) fn fix_annotation_key(key: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '.';
    if key.chars().all(allowed) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(
        key.chars()
            .map(|c| if allowed(c) { c } else { '_' })
            .collect(),
    )
}

/// `fixSegmentName`: drops characters X-Ray does not allow in names, truncates to 200 bytes (at a
/// character boundary) and falls back to `span`.
pub(crate) fn fix_segment_name(name: &str) -> Cow<'_, str> {
    let allowed =
        |c: char| c == ' ' || c.is_ascii_digit() || c.is_alphabetic() || "N_.:/%&#=+-@".contains(c);
    if !name.is_empty() && name.len() <= 200 && name.chars().all(allowed) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len().min(200));
    for c in name.chars() {
        if !allowed(c) {
            continue;
        }
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        Cow::Borrowed("span")
    } else {
        Cow::Owned(out)
    }
}

/// The segment name (§6 of the rules) and namespace (§7).
pub(crate) fn name_and_namespace<'a>(
    span: &'a Span,
    attrs: &AttrMap<'a>,
    resource: &AttrMap<'a>,
) -> (Cow<'a, str>, Option<&'static str>) {
    let kind = span.kind();
    let aws_sdk = get_str(attrs, "rpc.system") == "aws-api";
    let mut namespace = aws_sdk.then_some("aws");
    let mut name = Cow::Borrowed("");
    if kind == SpanKind::Server {
        name = Cow::Borrowed(get_str(attrs, "aws.local.service"));
    }
    let local_root_internal =
        kind == SpanKind::Internal && get_str(attrs, "aws.span.kind") == "LOCAL_ROOT";
    match attrs.get("aws.local.service") {
        Some(local) if local_root_internal => name = Cow::Borrowed(str_of(local)),
        _ => {}
    }
    let dependency = matches!(
        kind,
        SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
    );
    match attrs.get("aws.remote.service") {
        Some(remote) if dependency => {
            name = Cow::Borrowed(trim_aws_sdk_prefix(str_of(remote), attrs));
        }
        _ => {}
    }
    if name.is_empty() {
        name = Cow::Borrowed(get_str(attrs, "peer.service"));
    }
    match attrs.get("aws.service") {
        Some(service) if name.is_empty() => {
            name = Cow::Borrowed(str_of(service));
            namespace = namespace.or(Some("aws"));
        }
        _ => {}
    }
    if let Some(db) = attrs.get("db.name").filter(|_| name.is_empty()) {
        name = Cow::Borrowed(str_of(db));
        let url = attrs.get("db.connection_string").map(|v| str_of(v));
        let host = url.map_or("", |u| url_host(u.strip_prefix("jdbc:").unwrap_or(u)));
        if !host.is_empty() {
            name = Cow::Owned(format!("{name}@{host}"));
        }
    }
    if name.is_empty() && kind == SpanKind::Server {
        name = Cow::Borrowed(get_str(resource, "service.name"));
    }
    for key in ["rpc.service", "http.host", "net.peer.name"] {
        if name.is_empty() {
            name = Cow::Borrowed(get_str(attrs, key));
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
pub(crate) fn trim_aws_sdk_prefix<'a>(name: &'a str, attrs: &AttrMap<'_>) -> &'a str {
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
