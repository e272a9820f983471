//! One span as `filter` conditions and `attributes`' `include`/`exclude` read it, whether it is
//! an OTLP span or an X-Ray document ([`SpanView`]).
//!
//! An X-Ray document is read from its top level only (`xray_doc::TopLevel`, the subsegment tree
//! is skipped, not parsed). What maps to what:
//!
//! | span field | X-Ray document |
//! |---|---|
//! | `name` | `name` |
//! | service (`resource.attributes["service.name"]`, `services`) | `name` (the X-Ray service name), unless a processor set `service.name` on the document's resource |
//! | `attributes[k]` | `annotations.k`, else the scalar `metadata.default.k` |
//! | `resource.attributes[k]` | the resource processors gave the document (`Segment::resource`) |
//! | `kind` | `SPAN_KIND_SERVER` for a segment (no `"type":"subsegment"`); an independent subsegment is `SPAN_KIND_CLIENT` when its `namespace` is `remote` or `aws`, else `SPAN_KIND_INTERNAL` |
//! | `status.code` | `STATUS_CODE_ERROR` when `fault` or `error` is true, else `STATUS_CODE_UNSET` (X-Ray has no OK) |

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value};

use super::xray_doc::TopLevel;

/// `SPAN_KIND_*` values.
pub const KIND_INTERNAL: i64 = 1;
pub const KIND_SERVER: i64 = 2;
pub const KIND_CLIENT: i64 = 3;
/// `STATUS_CODE_*` values.
pub const STATUS_UNSET: i64 = 0;
pub const STATUS_ERROR: i64 = 2;

/// An attribute value as conditions compare it.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Maps, arrays, bytes: equal to nothing a condition can write.
    Other,
}

impl Val<'_> {
    /// The value of an OTLP attribute.
    pub fn of_any(v: &AnyValue) -> Val<'_> {
        match &v.value {
            Some(Any::StringValue(s)) => Val::Str(Cow::Borrowed(s)),
            Some(Any::IntValue(n)) => Val::Int(*n),
            Some(Any::DoubleValue(d)) => Val::Double(*d),
            Some(Any::BoolValue(b)) => Val::Bool(*b),
            _ => Val::Other,
        }
    }

    /// The value of a JSON scalar.
    pub fn of_json(v: &Value) -> Val<'_> {
        match v {
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => n.as_f64().map_or(Val::Other, Val::Double),
            },
            _ => Val::Other,
        }
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The fields of one span that processors read.
pub trait SpanView {
    fn name(&self) -> &str;
    /// The service name (`service.name` of the resource).
    fn service(&self) -> Option<&str>;
    fn kind(&self) -> i64;
    fn status_code(&self) -> i64;
    fn attribute(&self, key: &str) -> Option<Val<'_>>;
    fn resource_attribute(&self, key: &str) -> Option<Val<'_>>;
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<Val<'a>> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().map_or(Val::Other, Val::of_any))
}

/// An OTLP span and its resource.
pub struct OtlpSpan<'a> {
    pub span: &'a Span,
    pub resource: &'a [KeyValue],
}

impl SpanView for OtlpSpan<'_> {
    fn name(&self) -> &str {
        &self.span.name
    }

    fn service(&self) -> Option<&str> {
        self.resource
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
    }

    fn kind(&self) -> i64 {
        i64::from(self.span.kind)
    }

    fn status_code(&self) -> i64 {
        self.span.status.as_ref().map_or(0, |s| i64::from(s.code))
    }

    fn attribute(&self, key: &str) -> Option<Val<'_>> {
        find(&self.span.attributes, key)
    }

    fn resource_attribute(&self, key: &str) -> Option<Val<'_>> {
        find(self.resource, key)
    }
}

/// The top level of an X-Ray document, read for conditions (see the module doc).
pub struct XrayView<'a> {
    name: Cow<'a, str>,
    kind: i64,
    status: i64,
    annotations: Map<String, Value>,
    default_metadata: Map<String, Value>,
    resource: &'a [KeyValue],
}

impl<'a> XrayView<'a> {
    /// Reads a document's top level; `None` when it is not a JSON object.
    pub fn read(body: &'a [u8], resource: &'a [KeyValue]) -> Option<XrayView<'a>> {
        let top = TopLevel::scan(body).ok()?;
        let name: Cow<'a, str> = top.parse("name").unwrap_or(Cow::Borrowed(""));
        let flag = |k: &str| top.parse::<bool>(k).unwrap_or(false);
        let status = if flag("fault") || flag("error") {
            STATUS_ERROR
        } else {
            STATUS_UNSET
        };
        let kind = if top.parse::<Cow<'_, str>>("type").as_deref() == Some("subsegment") {
            match top.parse::<Cow<'_, str>>("namespace").as_deref() {
                Some("remote" | "aws") => KIND_CLIENT,
                _ => KIND_INTERNAL,
            }
        } else {
            KIND_SERVER
        };
        let annotations = top.parse("annotations").unwrap_or_default();
        let default_metadata = top
            .parse::<Map<String, Value>>("metadata")
            .and_then(|mut m| match m.remove("default") {
                Some(Value::Object(d)) => Some(d),
                _ => None,
            })
            .unwrap_or_default();
        Some(XrayView {
            name,
            kind,
            status,
            annotations,
            default_metadata,
            resource,
        })
    }
}

impl SpanView for XrayView<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn service(&self) -> Option<&str> {
        match find(self.resource, "service.name") {
            Some(Val::Str(_)) => self.resource.iter().find_map(|kv| {
                (kv.key == "service.name").then_some(())?;
                match kv.value.as_ref()?.value.as_ref()? {
                    Any::StringValue(s) => Some(s.as_str()),
                    _ => None,
                }
            }),
            _ => Some(&self.name),
        }
    }

    fn kind(&self) -> i64 {
        self.kind
    }

    fn status_code(&self) -> i64 {
        self.status
    }

    fn attribute(&self, key: &str) -> Option<Val<'_>> {
        self.annotations
            .get(key)
            .or_else(|| self.default_metadata.get(key))
            .map(Val::of_json)
    }

    fn resource_attribute(&self, key: &str) -> Option<Val<'_>> {
        find(self.resource, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_documents_map_to_span_fields() {
        let doc = br#"{"name":"checkout","fault":false,"error":true,"annotations":{"tier":"gold","n":3},"metadata":{"default":{"region":"eu"},"x":{"tier":"no"}},"http":{"request":{}}}"#;
        let v = XrayView::read(doc, &[]).unwrap();
        assert_eq!(v.name(), "checkout");
        assert_eq!(v.service(), Some("checkout"));
        assert_eq!(v.kind(), KIND_SERVER);
        assert_eq!(v.status_code(), STATUS_ERROR);
        assert_eq!(v.attribute("tier"), Some(Val::Str("gold".into())));
        assert_eq!(v.attribute("n"), Some(Val::Int(3)));
        assert_eq!(v.attribute("region"), Some(Val::Str("eu".into())));
        assert_eq!(v.attribute("x"), None);
        let sub = br#"{"type":"subsegment","name":"DynamoDB","namespace":"aws"}"#;
        let v = XrayView::read(sub, &[]).unwrap();
        assert_eq!(v.kind(), KIND_CLIENT);
        assert_eq!(v.status_code(), STATUS_UNSET);
    }
}
