//! One document to its spans (contrib `ToTraces`, `segToSpans`, `populateSpan`).

use opentelemetry_proto::tonic::common::v1::{ArrayValue, any_value::Value as Any};
use opentelemetry_proto::tonic::trace::v1::{
    Span, Status,
    span::{Link, SpanKind},
    status::StatusCode,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;

use super::attributes::{Attrs, any, array, boolean, integer, object, scalar, string};
use super::json::{Json, Object};
use super::{cause, resource};

/// Why a document could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ConvertError {
    /// The bytes are not a JSON object.
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    /// A required field is missing.
    #[error("{0}: missing")]
    Missing(String),
    /// A field has a value that cannot be converted.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field's path, e.g. `subsegments[1].id`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The attribute that lists which span attributes were annotations, so the X-Ray exporter turns
/// them back into annotations.
const ANNOTATIONS_ATTRIBUTE: &str = "aws.xray.annotations";

/// Parses one document (segment or independent subsegment) and converts it with its embedded
/// subsegments: appends its spans to `spans` (a segment before its subsegments) and then hands
/// the document's resource and `spans` to `place`, which files them. On error `spans` is left
/// as it was and `place` is not called.
pub(super) fn convert(
    body: &[u8],
    spans: &mut Vec<Span>,
    place: impl FnOnce(&resource::Resource<'_>, &mut Vec<Span>),
) -> Result<(), ConvertError> {
    let value = Json::parse(body).map_err(|e| ConvertError::NotAnObject(e.to_string()))?;
    let Json::Object(doc) = &value else {
        return Err(ConvertError::NotAnObject(format!(
            "found {}",
            json_type(&value)
        )));
    };
    let trace_id = match doc.get("trace_id") {
        None | Some(Json::Null) => return Err(ConvertError::Missing("trace_id".into())),
        Some(value) => trace_id(value, &"trace_id")?,
    };
    let name = required_name(doc, &Path::Top)?;
    // Contrib: a document is an independent subsegment when it says `"type": "subsegment"` and
    // has a parent; every other document is a segment, which is the server side of a request.
    let independent = doc.get("parent_id").is_some_and(|p| !p.is_null())
        && string(doc, "type").is_some_and(|t| t.eq_ignore_ascii_case("subsegment"));
    let resource = resource::attributes(doc, name);
    let top = Position {
        path: Path::Top,
        trace_id,
        enclosing: None,
        segment: !independent,
    };
    let before = spans.len();
    if let Err(err) = walk(doc, &top, spans) {
        spans.truncate(before);
        return Err(err);
    }
    place(&resource, spans);
    Ok(())
}

/// The JSON path of a (sub)segment in its document, spelled out only for error messages.
#[derive(Clone, Copy)]
enum Path<'p> {
    /// The document itself.
    Top,
    /// Entry `idx` of the `subsegments` of the (sub)segment at `parent`.
    Sub { parent: &'p Path<'p>, idx: usize },
}

impl Path<'_> {
    /// Whether this is the document itself.
    fn is_top(&self) -> bool {
        matches!(self, Path::Top)
    }

    /// The path of `name` in this (sub)segment.
    fn field<'n>(&'n self, name: &'n str) -> Field<'n> {
        Field { at: self, name }
    }
}

/// `Display` writes the path prefix of this (sub)segment's fields (`""` or
/// `subsegments[0].`).
impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Top => Ok(()),
            Path::Sub { parent, idx } => write!(f, "{parent}subsegments[{idx}]."),
        }
    }
}

/// A field of the (sub)segment at `at`, such as `subsegments[1].id`.
struct Field<'n> {
    at: &'n Path<'n>,
    name: &'n str,
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.at, self.name)
    }
}

/// Where a (sub)segment sits in its document.
struct Position<'p> {
    /// Where its fields are, for error messages.
    path: Path<'p>,
    /// The trace id of the enclosing document, for embedded subsegments without their own.
    trace_id: [u8; 16],
    /// The id of the enclosing (sub)segment, for embedded subsegments.
    enclosing: Option<[u8; 8]>,
    /// Whether this is a top-level segment (not a subsegment of any kind).
    segment: bool,
}

/// Converts `seg` and then its subsegments, depth first.
fn walk(seg: &Object<'_>, at: &Position<'_>, spans: &mut Vec<Span>) -> Result<(), ConvertError> {
    let span = convert_one(seg, at)?;
    let id: [u8; 8] = span.span_id.as_slice().try_into().unwrap_or([0; 8]);
    let trace_id: [u8; 16] = span.trace_id.as_slice().try_into().unwrap_or(at.trace_id);
    spans.push(span);
    for (idx, sub) in array(seg, "subsegments").iter().enumerate() {
        let Json::Object(sub) = sub else {
            return Err(ConvertError::Invalid {
                field: format!("{}subsegments[{idx}]", at.path),
                problem: "not an object",
            });
        };
        let child = Position {
            path: Path::Sub {
                parent: &at.path,
                idx,
            },
            trace_id,
            enclosing: Some(id),
            segment: false,
        };
        walk(sub, &child, spans)?;
    }
    Ok(())
}

/// Converts one (sub)segment, without its subsegments.
fn convert_one(seg: &Object<'_>, at: &Position<'_>) -> Result<Span, ConvertError> {
    let field = |name| at.path.field(name);
    let name = required_name(seg, &at.path)?;
    let id = match seg.get("id") {
        None | Some(Json::Null) => return Err(ConvertError::Missing(field("id").to_string())),
        Some(value) => span_id(value, &field("id"))?,
    };
    if id == [0; 8] {
        return Err(ConvertError::Invalid {
            field: field("id").to_string(),
            problem: "all zeros, which OTLP does not accept",
        });
    }
    let trace_id = match seg.get("trace_id") {
        None | Some(Json::Null) => at.trace_id,
        Some(value) => trace_id(value, &field("trace_id"))?,
    };
    // An embedded subsegment's parent is the enclosing (sub)segment, whatever it says itself.
    let parent = match (at.enclosing, seg.get("parent_id")) {
        (Some(enclosing), _) => Some(enclosing),
        (None, None | Some(Json::Null)) => None,
        (None, Some(value)) => Some(span_id(value, &field("parent_id"))?),
    }
    .filter(|p| *p != [0; 8]);
    let start = match seg.get("start_time") {
        None | Some(Json::Null) => {
            return Err(ConvertError::Missing(field("start_time").to_string()));
        }
        Some(value) => unix_nanos(value, &field("start_time"))?,
    };
    let end = match seg.get("end_time") {
        None | Some(Json::Null) => None,
        Some(value) => Some(unix_nanos(value, &field("end_time"))?),
    };

    let http = object(seg, "http");
    let request = http.and_then(|h| object(h, "request"));
    let response = http.and_then(|h| object(h, "response"));
    let client_ip = request.and_then(|r| string(r, "client_ip"));
    let namespace = string(seg, "namespace");
    // Contrib's kinds: a segment serves a request; a subsegment with a namespace (`aws` or
    // `remote`) calls out; one with a client IP serves a request; any other is internal work.
    // A namespace other than `aws` or `remote` makes contrib reject the whole document; here it
    // is treated as no namespace, since X-Ray itself only knows those two.
    let namespace = namespace.filter(|ns| matches!(*ns, "aws" | "remote"));
    let kind = if at.segment {
        SpanKind::Server
    } else if namespace.is_some() {
        SpanKind::Client
    } else if client_ip.is_some() {
        SpanKind::Server
    } else {
        SpanKind::Internal
    };

    let mut attrs = Attrs::with_capacity(16);
    if namespace == Some("aws") {
        attrs.put_str("aws.service", name);
    }
    attrs.put_opt_bool("aws.xray.inprogress", boolean(seg, "in_progress"));
    attrs.put_opt_str("enduser.id", string(seg, "user"));

    // HTTP (contrib `addHTTP`).
    if let Some(request) = request {
        attrs.put_opt_str("http.method", string(request, "method"));
        attrs.put_opt_str("http.client_ip", client_ip);
        attrs.put_opt_str("http.user_agent", string(request, "user_agent"));
        attrs.put_opt_str("http.url", string(request, "url"));
        attrs.put_opt_bool(
            "aws.xray.x_forwarded_for",
            boolean(request, "x_forwarded_for"),
        );
    }
    let http_status = response.and_then(|r| integer(r, "status"));
    attrs.put_opt_int("http.status_code", http_status);
    match response.and_then(|r| r.get("content_length")) {
        Some(Json::String(s)) => attrs.put_str("http.response_content_length", s),
        Some(value @ Json::Number(_)) => {
            let length = value.as_i64().or_else(|| value.as_f64().map(|f| f as i64));
            attrs.put_opt_int("http.response_content_length", length);
        }
        _ => {}
    }

    // Status (contrib: from the HTTP status, then `cause`), plus the flags, which X-Ray sets
    // for failed calls whether or not there is an HTTP status or a cause.
    let end_or_start = end.unwrap_or(start);
    let cause = cause::convert(seg.get("cause"), end_or_start);
    let error = boolean(seg, "error").unwrap_or(false);
    let fault = boolean(seg, "fault").unwrap_or(false);
    let throttle = boolean(seg, "throttle").unwrap_or(false);
    let http_error = http_status.is_some_and(|s| !(100..399).contains(&s));
    let status_code = if http_error || cause.present || error || fault || throttle {
        StatusCode::Error
    } else {
        StatusCode::Unset
    };

    // AWS (contrib `addAWSToSpan`), plus the DynamoDB table list.
    if let Some(aws) = object(seg, "aws") {
        attrs.put_opt_str("aws.account_id", string(aws, "account_id"));
        attrs.put_opt_str("aws.operation", string(aws, "operation"));
        attrs.put_opt_str("aws.region", string(aws, "region"));
        attrs.put_opt_str("aws.request_id", string(aws, "request_id"));
        attrs.put_opt_str("aws.queue_url", string(aws, "queue_url"));
        attrs.put_opt_str("aws.table_name", string(aws, "table_name"));
        let tables: Vec<_> = array(aws, "table_names")
            .iter()
            .filter_map(scalar)
            .filter(|v| matches!(v, Any::StringValue(_)))
            .map(|v| opentelemetry_proto::tonic::common::v1::AnyValue { value: Some(v) })
            .collect();
        if !tables.is_empty() {
            attrs.put(
                "aws.dynamodb.table_names",
                Any::ArrayValue(ArrayValue { values: tables }),
            );
        }
        attrs.put_opt_int("aws.xray.retries", integer(aws, "retries"));
    }

    // SQL (contrib `addSQLToSpan`).
    let sql = object(seg, "sql");
    if let Some(sql) = sql {
        add_sql(sql, &mut attrs);
    }
    attrs.put_opt_bool("aws.xray.traced", boolean(seg, "traced"));

    // Addition: the X-Ray name of a downstream call is the downstream's name, which is what
    // `peer.service` means; the X-Ray exporter names a span by `peer.service` before `db.name`, so
    // an SQL subsegment keeps its name instead of becoming `<db.name>@<host>`.
    if namespace == Some("remote") || sql.is_some() {
        attrs.put_str("peer.service", name);
    }

    // Addition: the X-Ray flags as stated, whenever any is set or the span would otherwise imply
    // one to the X-Ray exporter (an HTTP status of 400-599 or an error status). The exporter takes
    // the flags from these attributes instead of deriving them, so they survive the round trip.
    if error || fault || throttle || status_code == StatusCode::Error {
        attrs.put("aws.xray.error", Any::BoolValue(error));
        attrs.put("aws.xray.fault", Any::BoolValue(fault));
        attrs.put("aws.xray.throttle", Any::BoolValue(throttle));
    }

    // Annotations (contrib `addAnnotations`): scalar values become attributes under their own
    // key, and the key list says which attributes they were. Keys are sorted for a stable order.
    if let Some(annotations) = object(seg, "annotations") {
        let converted: Vec<(&str, Any)> = annotations
            .sorted()
            .into_iter()
            .filter_map(|(k, v)| scalar(v).map(|v| (k, v)))
            .collect();
        if !converted.is_empty() {
            let list = converted
                .iter()
                .map(|(k, _)| opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(Any::StringValue((*k).to_string())),
                })
                .collect();
            attrs.put(
                ANNOTATIONS_ATTRIBUTE,
                Any::ArrayValue(ArrayValue { values: list }),
            );
            for (key, value) in converted {
                attrs.put(key, value);
            }
        }
    }

    // Metadata (contrib `addMetadata`): each namespace as a JSON text. A top-level document's
    // `metadata.default` members that are resource attributes (`otel.resource.<key>`) went to
    // the resource (`resource::lifted`) and are left out; a `default` left with no member is
    // left out altogether.
    if let Some(metadata) = object(seg, "metadata") {
        for (namespace, value) in metadata.sorted() {
            let text = match value {
                Json::Object(default) if namespace == "default" && at.path.is_top() => {
                    let members: Vec<_> = default
                        .sorted()
                        .into_iter()
                        .filter(|(k, v)| resource::lifted(k, v).is_none())
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    serde_json::to_string(&Members(&members))
                }
                _ => serde_json::to_string(value),
            };
            if let Ok(text) = text {
                attrs.put(
                    &format!("aws.xray.metadata.{namespace}"),
                    Any::StringValue(text),
                );
            }
        }
    }

    let links = array(seg, "links")
        .iter()
        .enumerate()
        .map(|(idx, link)| convert_link(link, &LinkPath { at: &at.path, idx }))
        .collect::<Result<Vec<_>, _>>()?;

    let status =
        (status_code != StatusCode::Unset || !cause.message.is_empty()).then_some(Status {
            message: cause.message,
            code: status_code as i32,
        });
    Ok(Span {
        trace_id: trace_id.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: start,
        // Contrib: an in-progress (sub)segment has no end time, and says so in
        // `aws.xray.inprogress`.
        end_time_unix_nano: end.unwrap_or(0),
        attributes: attrs.into_vec(),
        events: cause.events,
        links,
        status,
        ..Span::default()
    })
}

/// Sorted members of an object, each key once, serialized as the object they are part of.
struct Members<'m, 'j>(&'m [(&'m str, &'m Json<'j>)]);

impl Serialize for Members<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `sql` to `db.*`. Contrib splits `url` into `db.connection_string` (everything before the
/// database name) and `db.name`, and rejects the document when the URL has no database name;
/// here such a URL is kept whole as `db.connection_string`. A `connection_string`, which
/// contrib ignores, is used when there is no `url`.
fn add_sql(sql: &Object<'_>, attrs: &mut Attrs) {
    match string(sql, "url") {
        Some(url) => match split_sql_url(url) {
            Some((connection, database)) => {
                attrs.put_str("db.connection_string", connection);
                attrs.put_str("db.name", database);
            }
            None => attrs.put_str("db.connection_string", url),
        },
        None => attrs.put_opt_str("db.connection_string", string(sql, "connection_string")),
    }
    attrs.put_opt_str("db.system", string(sql, "database_type"));
    attrs.put_opt_str("db.statement", string(sql, "sanitized_query"));
    attrs.put_opt_str("db.user", string(sql, "user"));
}

/// Splits `scheme://host[:port][/...]/database[?query]` into the part before the last `/` that
/// is followed by a database name, and that name (contrib's `^(.+//.+)/([^?]+)\??.*$`).
fn split_sql_url(url: &str) -> Option<(&str, &str)> {
    if url.contains('\n') {
        return None;
    }
    // The prefix must contain `//` with at least one character before it and one after it.
    let (double_slash, _) = url.match_indices("//").find(|&(i, _)| i >= 1)?;
    let min_slash = double_slash + 3;
    let (slash, _) = url
        .char_indices()
        .rev()
        .filter(|&(i, c)| c == '/' && i >= min_slash)
        .find(|&(i, _)| url[i + 1..].chars().next().is_some_and(|c| c != '?'))?;
    let rest = &url[slash + 1..];
    let database = rest.split('?').next().unwrap_or(rest);
    Some((&url[..slash], database))
}

/// The path of entry `idx` of the `links` of the (sub)segment at `at`, such as
/// `subsegments[0].links[1]`.
struct LinkPath<'p> {
    at: &'p Path<'p>,
    idx: usize,
}

impl fmt::Display for LinkPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}links[{}]", self.at, self.idx)
    }
}

fn convert_link(link: &Json<'_>, path: &LinkPath<'_>) -> Result<Link, ConvertError> {
    let Json::Object(link) = link else {
        return Err(ConvertError::Invalid {
            field: path.to_string(),
            problem: "not an object",
        });
    };
    let field = |name: &'static str| format!("{path}.{name}");
    let trace = match link.get("trace_id") {
        Some(value) => trace_id(value, &format_args!("{path}.trace_id"))?,
        None => return Err(ConvertError::Missing(field("trace_id"))),
    };
    let span = match link.get("id") {
        Some(value) => span_id(value, &format_args!("{path}.id"))?,
        None => return Err(ConvertError::Missing(field("id"))),
    };
    let mut attrs = Attrs::default();
    if let Some(attributes) = object(link, "attributes") {
        for (key, value) in attributes.sorted() {
            if let Some(value) = any(value) {
                attrs.put(key, value);
            }
        }
    }
    Ok(Link {
        trace_id: trace.to_vec(),
        span_id: span.to_vec(),
        attributes: attrs.into_vec(),
        ..Link::default()
    })
}

/// The `name`, which must be a non-empty string.
fn required_name<'a>(seg: &'a Object<'_>, path: &Path<'_>) -> Result<&'a str, ConvertError> {
    match seg.get("name") {
        None | Some(Json::Null) => Err(ConvertError::Missing(format!("{path}name"))),
        Some(Json::String(name)) if !name.is_empty() => Ok(name),
        Some(_) => Err(ConvertError::Invalid {
            field: format!("{path}name"),
            problem: "not a non-empty string",
        }),
    }
}

/// `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy` to 16 bytes; all zeros is refused, as OTLP does.
fn trace_id(value: &Json<'_>, field: &dyn fmt::Display) -> Result<[u8; 16], ConvertError> {
    let invalid = |problem| ConvertError::Invalid {
        field: field.to_string(),
        problem,
    };
    let text = value
        .as_str()
        .ok_or_else(|| invalid("not a string"))?
        .as_bytes();
    if text.len() != 35 || !text.starts_with(b"1-") || text[10] != b'-' {
        return Err(invalid(
            "not of the form 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx",
        ));
    }
    let out = trace_id_bytes(text).ok_or_else(|| invalid("not hexadecimal"))?;
    if out == [0; 16] {
        return Err(invalid("all zeros, which OTLP does not accept"));
    }
    Ok(out)
}

/// The 16 bytes of an X-Ray trace id `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`: the epoch's 4 bytes
/// then the 12 random ones, the OTLP trace id this translator gives the document's spans.
pub fn trace_id_bytes(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != 35 || !text.starts_with(b"1-") || text[10] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    decode_hex(&text[2..10], &mut out[..4])?;
    decode_hex(&text[11..], &mut out[4..])?;
    Some(out)
}

/// 16 hexadecimal digits to 8 bytes.
fn span_id(value: &Json<'_>, field: &dyn fmt::Display) -> Result<[u8; 8], ConvertError> {
    let invalid = |problem| ConvertError::Invalid {
        field: field.to_string(),
        problem,
    };
    let text = value.as_str().ok_or_else(|| invalid("not a string"))?;
    let mut out = [0u8; 8];
    if text.len() != 16 {
        return Err(invalid("not 16 hexadecimal digits"));
    }
    decode_hex(text.as_bytes(), &mut out).ok_or_else(|| invalid("not 16 hexadecimal digits"))?;
    Ok(out)
}

fn decode_hex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(())
}

/// The latest time this converter accepts, in seconds: about the year 2540, below where
/// nanoseconds overflow a `u64`.
const MAX_SECONDS: f64 = 18_000_000_000.0;

/// Seconds since the epoch (a JSON number) to nanoseconds, rounded to the microsecond.
///
/// X-Ray times have microsecond resolution; an `f64` near today's epoch seconds is within a
/// quarter of a microsecond of the decimal the SDK wrote, so rounding the fraction to whole
/// microseconds gives that decimal exactly, where contrib's `seconds * 1e9` is off by up to a
/// few hundred nanoseconds.
pub(super) fn unix_nanos(value: &Json<'_>, field: &dyn fmt::Display) -> Result<u64, ConvertError> {
    let seconds = value.as_f64().ok_or_else(|| ConvertError::Invalid {
        field: field.to_string(),
        problem: "not a number",
    })?;
    if !(0.0..MAX_SECONDS).contains(&seconds) {
        return Err(ConvertError::Invalid {
            field: field.to_string(),
            problem: "not a time between 1970 and 2540",
        });
    }
    let whole = seconds.trunc();
    let micros = ((seconds - whole) * 1e6).round() as u64;
    Ok(whole as u64 * 1_000_000_000 + micros * 1_000)
}

fn json_type(value: &Json<'_>) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// `value` as a tree borrowing from `text`.
    fn tree(value: Value, text: &mut String) -> Json<'_> {
        *text = value.to_string();
        Json::parse(text.as_bytes()).unwrap()
    }

    fn trace_id(value: Value) -> Result<[u8; 16], ConvertError> {
        super::trace_id(&tree(value, &mut String::new()), &"t")
    }

    fn span_id(value: Value) -> Result<[u8; 8], ConvertError> {
        super::span_id(&tree(value, &mut String::new()), &"s")
    }

    fn convert(body: &[u8]) -> Result<Vec<Span>, ConvertError> {
        let mut spans = Vec::new();
        super::convert(body, &mut spans, |_, _| ())?;
        Ok(spans)
    }

    #[test]
    fn sql_urls_split_like_contribs_pattern() {
        assert_eq!(
            split_sql_url("jdbc:postgresql://db.example.com:5432/ebdb"),
            Some(("jdbc:postgresql://db.example.com:5432", "ebdb"))
        );
        assert_eq!(
            split_sql_url("postgresql://app@db:5432/orders?sslmode=require"),
            Some(("postgresql://app@db:5432", "orders"))
        );
        assert_eq!(
            split_sql_url("mysql://host/a/b"),
            Some(("mysql://host/a", "b"))
        );
        assert_eq!(split_sql_url("mysql://host"), None);
        assert_eq!(split_sql_url("mysql://host/"), None);
        assert_eq!(split_sql_url("mysql://host/?x"), None);
        assert_eq!(split_sql_url("//host/db"), None);
        assert_eq!(split_sql_url("sqlite3"), None);
        assert_eq!(split_sql_url("a//b/c\n"), None);
    }

    #[test]
    fn times_round_to_the_microsecond() {
        let at = |v: Value| unix_nanos(&tree(v, &mut String::new()), &"t");
        assert_eq!(at(json!(1700000000.125)), Ok(1_700_000_000_125_000_000));
        assert_eq!(at(json!(1700000000.000001)), Ok(1_700_000_000_000_001_000));
        assert_eq!(at(json!(1700000000.999999)), Ok(1_700_000_000_999_999_000));
        assert_eq!(at(json!(1700000000.9999996)), Ok(1_700_000_001_000_000_000));
        assert_eq!(at(json!(0)), Ok(0));
        assert!(at(json!(-1.0)).is_err());
        assert!(at(json!(1e300)).is_err());
        assert!(at(json!("1700000000")).is_err());
    }

    #[test]
    fn ids_decode_and_reject_garbage() {
        assert_eq!(
            trace_id(json!("1-5759e988-bd862e3fe1be46a994272793")).unwrap()[..4],
            [0x57, 0x59, 0xe9, 0x88]
        );
        assert!(trace_id(json!("1-5759e988-bd862e3fe1be46a99427279")).is_err());
        assert!(trace_id(json!("2-5759e988-bd862e3fe1be46a994272793")).is_err());
        assert!(trace_id(json!("1-5759e988-bd862e3fe1be46a99427279g")).is_err());
        assert!(trace_id(json!("1-00000000-000000000000000000000000")).is_err());
        // A multi-byte character where a separator belongs must not panic.
        assert!(trace_id(json!("1-5759e98é-bd862e3fe1be46a99427279")).is_err());
        assert_eq!(
            span_id(json!("53995C3F42CD8AD8")),
            Ok([0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8])
        );
        assert!(span_id(json!("53995c3f42cd8ad")).is_err());
        assert!(span_id(json!("ééééééééé")).is_err());
    }

    /// The `aws.xray.metadata.default` text of each span of `doc`.
    fn default_metadata(doc: Value) -> Vec<Option<String>> {
        convert(doc.to_string().as_bytes())
            .unwrap()
            .iter()
            .map(|span| {
                span.attributes
                    .iter()
                    .find(|kv| kv.key == "aws.xray.metadata.default")
                    .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                        Any::StringValue(s) => Some(s.clone()),
                        _ => None,
                    })
            })
            .collect()
    }

    #[test]
    fn lifted_resource_metadata_leaves_the_top_level_span_only() {
        let sub = json!({"name": "b", "id": "0000000000000002", "start_time": 1,
            "metadata": {"default": {"otel.resource.k": "sub", "x": 1}}});
        let doc = json!({"name": "a", "id": "0000000000000001", "start_time": 1,
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "metadata": {
                "default": {"otel.resource.k": "v", "otel.resource.list": [1], "y": 2},
                "custom": {"otel.resource.k": "kept"}
            },
            "subsegments": [sub]});
        assert_eq!(
            default_metadata(doc),
            [
                Some(r#"{"otel.resource.list":[1],"y":2}"#.to_string()),
                // Resource attributes belong to documents: an embedded subsegment keeps its own.
                Some(r#"{"otel.resource.k":"sub","x":1}"#.to_string()),
            ]
        );
        // A `default` with nothing but lifted members is no attribute at all; other
        // namespaces are untouched.
        let doc = json!({"name": "a", "id": "0000000000000001", "start_time": 1,
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "metadata": {"default": {"otel.resource.a": "1", "otel.resource.b": 2.5},
                         "custom": {"otel.resource.k": "kept"}}});
        let spans = convert(doc.to_string().as_bytes()).unwrap();
        let keys: Vec<_> = spans[0]
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert!(!keys.contains(&"aws.xray.metadata.default"), "{keys:?}");
        assert!(keys.contains(&"aws.xray.metadata.custom"), "{keys:?}");
    }

    #[test]
    fn errors_name_the_field() {
        let body = br#"{"name":"a","id":"0000000000000001","start_time":1,"trace_id":"1-5759e988-bd862e3fe1be46a994272793",
            "subsegments":[{"name":"b","id":"0000000000000002","start_time":1},{"name":"c","id":"xyz","start_time":1}]}"#;
        assert_eq!(
            convert(body).unwrap_err().to_string(),
            "subsegments[1].id: not 16 hexadecimal digits"
        );
        assert_eq!(
            convert(b"[1]").unwrap_err().to_string(),
            "not a JSON object: found an array"
        );
    }
}
