//! One document to its spans (contrib `ToTraces`, `segToSpans`, `populateSpan`).

use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, any_value::Value as Any};
use opentelemetry_proto::tonic::trace::v1::{
    Span, Status,
    span::{Link, SpanKind},
    status::StatusCode,
};
use serde_json::{Map, Value};

use super::attributes::{Attrs, any, array, boolean, integer, object, scalar, string};
use super::{cause, resource};

/// The spans and resource of one document.
#[derive(Debug)]
pub(super) struct Converted {
    pub(super) resource: Vec<KeyValue>,
    pub(super) spans: Vec<Span>,
}

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

/// Converts one document (segment or independent subsegment) with its embedded subsegments.
pub(super) fn convert(body: &[u8]) -> Result<Converted, ConvertError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ConvertError::NotAnObject(e.to_string()))?;
    let Value::Object(doc) = value else {
        return Err(ConvertError::NotAnObject(format!(
            "found {}",
            json_type(&value)
        )));
    };
    let trace_id = match doc.get("trace_id") {
        None | Some(Value::Null) => return Err(ConvertError::Missing("trace_id".into())),
        Some(value) => trace_id(value, "trace_id")?,
    };
    let name = required_name(&doc, "")?;
    // Contrib: a document is an independent subsegment when it says `"type": "subsegment"` and
    // has a parent; every other document is a segment, which is the server side of a request.
    let independent = doc.get("parent_id").is_some_and(|p| !p.is_null())
        && string(&doc, "type").is_some_and(|t| t.eq_ignore_ascii_case("subsegment"));
    let resource = resource::attributes(&doc, name);
    let mut spans = Vec::new();
    let top = Position {
        path: String::new(),
        trace_id,
        enclosing: None,
        segment: !independent,
    };
    walk(&doc, &top, &mut spans)?;
    Ok(Converted { resource, spans })
}

/// Where a (sub)segment sits in its document.
struct Position {
    /// The JSON path prefix of its fields (`""` or `subsegments[0].`).
    path: String,
    /// The trace id of the enclosing document, for embedded subsegments without their own.
    trace_id: [u8; 16],
    /// The id of the enclosing (sub)segment, for embedded subsegments.
    enclosing: Option<[u8; 8]>,
    /// Whether this is a top-level segment (not a subsegment of any kind).
    segment: bool,
}

/// Converts `seg` and then its subsegments, depth first.
fn walk(
    seg: &Map<String, Value>,
    at: &Position,
    spans: &mut Vec<Span>,
) -> Result<(), ConvertError> {
    let span = convert_one(seg, at)?;
    let id: [u8; 8] = span.span_id.as_slice().try_into().unwrap_or([0; 8]);
    let trace_id: [u8; 16] = span.trace_id.as_slice().try_into().unwrap_or(at.trace_id);
    spans.push(span);
    for (idx, sub) in array(seg, "subsegments").iter().enumerate() {
        let path = format!("{}subsegments[{idx}]", at.path);
        let Value::Object(sub) = sub else {
            return Err(ConvertError::Invalid {
                field: path,
                problem: "not an object",
            });
        };
        let child = Position {
            path: format!("{path}."),
            trace_id,
            enclosing: Some(id),
            segment: false,
        };
        walk(sub, &child, spans)?;
    }
    Ok(())
}

/// Converts one (sub)segment, without its subsegments.
fn convert_one(seg: &Map<String, Value>, at: &Position) -> Result<Span, ConvertError> {
    let field = |name: &str| format!("{}{name}", at.path);
    let name = required_name(seg, &at.path)?;
    let id = match seg.get("id") {
        None | Some(Value::Null) => return Err(ConvertError::Missing(field("id"))),
        Some(value) => span_id(value, &field("id"))?,
    };
    if id == [0; 8] {
        return Err(ConvertError::Invalid {
            field: field("id"),
            problem: "all zeros, which OTLP does not accept",
        });
    }
    let trace_id = match seg.get("trace_id") {
        None | Some(Value::Null) => at.trace_id,
        Some(value) => trace_id(value, &field("trace_id"))?,
    };
    // An embedded subsegment's parent is the enclosing (sub)segment, whatever it says itself.
    let parent = match (at.enclosing, seg.get("parent_id")) {
        (Some(enclosing), _) => Some(enclosing),
        (None, None | Some(Value::Null)) => None,
        (None, Some(value)) => Some(span_id(value, &field("parent_id"))?),
    }
    .filter(|p| *p != [0; 8]);
    let start = match seg.get("start_time") {
        None | Some(Value::Null) => return Err(ConvertError::Missing(field("start_time"))),
        Some(value) => unix_nanos(value, &field("start_time"))?,
    };
    let end = match seg.get("end_time") {
        None | Some(Value::Null) => None,
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

    let mut attrs = Attrs::default();
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
        Some(Value::String(s)) => attrs.put_str("http.response_content_length", s),
        Some(value @ Value::Number(_)) => {
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
        let mut keys: Vec<&String> = annotations.keys().collect();
        keys.sort();
        let converted: Vec<(&String, Any)> = keys
            .into_iter()
            .filter_map(|k| scalar(&annotations[k.as_str()]).map(|v| (k, v)))
            .collect();
        if !converted.is_empty() {
            let list = converted
                .iter()
                .map(|(k, _)| opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(Any::StringValue((*k).clone())),
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

    // Metadata (contrib `addMetadata`): each namespace as a JSON text.
    if let Some(metadata) = object(seg, "metadata") {
        let mut namespaces: Vec<(&String, &Value)> = metadata.iter().collect();
        namespaces.sort_by(|a, b| a.0.cmp(b.0));
        for (namespace, value) in namespaces {
            if let Ok(text) = serde_json::to_string(value) {
                attrs.put_str(&format!("aws.xray.metadata.{namespace}"), &text);
            }
        }
    }

    let links = array(seg, "links")
        .iter()
        .enumerate()
        .map(|(idx, link)| convert_link(link, &format!("{}links[{idx}]", at.path)))
        .collect::<Result<Vec<_>, _>>()?;

    let status = (status_code != StatusCode::Unset || !cause.message.is_empty()).then(|| Status {
        message: cause.message.clone(),
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

/// `sql` to `db.*`. Contrib splits `url` into `db.connection_string` (everything before the
/// database name) and `db.name`, and rejects the document when the URL has no database name;
/// here such a URL is kept whole as `db.connection_string`. A `connection_string`, which
/// contrib ignores, is used when there is no `url`.
fn add_sql(sql: &Map<String, Value>, attrs: &mut Attrs) {
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

fn convert_link(link: &Value, path: &str) -> Result<Link, ConvertError> {
    let Value::Object(link) = link else {
        return Err(ConvertError::Invalid {
            field: path.to_string(),
            problem: "not an object",
        });
    };
    let trace = match link.get("trace_id") {
        Some(value) => trace_id(value, &format!("{path}.trace_id"))?,
        None => return Err(ConvertError::Missing(format!("{path}.trace_id"))),
    };
    let span = match link.get("id") {
        Some(value) => span_id(value, &format!("{path}.id"))?,
        None => return Err(ConvertError::Missing(format!("{path}.id"))),
    };
    let mut attrs = Attrs::default();
    if let Some(attributes) = object(link, "attributes") {
        for (key, value) in attributes {
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
fn required_name<'a>(seg: &'a Map<String, Value>, path: &str) -> Result<&'a str, ConvertError> {
    match seg.get("name") {
        None | Some(Value::Null) => Err(ConvertError::Missing(format!("{path}name"))),
        Some(Value::String(name)) if !name.is_empty() => Ok(name),
        Some(_) => Err(ConvertError::Invalid {
            field: format!("{path}name"),
            problem: "not a non-empty string",
        }),
    }
}

/// `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy` to 16 bytes; all zeros is refused, as OTLP does.
fn trace_id(value: &Value, field: &str) -> Result<[u8; 16], ConvertError> {
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
    let mut out = [0u8; 16];
    decode_hex(&text[2..10], &mut out[..4])
        .and_then(|()| decode_hex(&text[11..], &mut out[4..]))
        .ok_or_else(|| invalid("not hexadecimal"))?;
    if out == [0; 16] {
        return Err(invalid("all zeros, which OTLP does not accept"));
    }
    Ok(out)
}

/// 16 hexadecimal digits to 8 bytes.
fn span_id(value: &Value, field: &str) -> Result<[u8; 8], ConvertError> {
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
pub(super) fn unix_nanos(value: &Value, field: &str) -> Result<u64, ConvertError> {
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

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
