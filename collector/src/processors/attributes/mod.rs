//! The `attributes` processor: attribute actions (`processors::attraction`) on the spans that
//! `include` / `exclude` select (`Matcher`).
//!
//! OTLP spans: `Span.attributes`. X-Ray documents: the top-level `annotations` object is read
//! (a borrowed scan of the top level, `xray_doc`), the actions run on it as attributes, and only
//! when they change something the new `annotations` member is spliced into the document; every
//! other byte stays as the SDK wrote it. Annotations hold strings, numbers and booleans only: an
//! action that produces another type (a map or list `value`) leaves that key out of the
//! annotations. Matching reads X-Ray documents as `processors::view` describes.
//!
//! `span_kinds` compares the kind's OTLP name (`SPAN_KIND_SERVER`, ...); an X-Ray document's kind
//! is the one `processors::view` gives it. `libraries` compares the instrumentation scope of the
//! span's `ScopeSpans`. An X-Ray document has no instrumentation scope (contrib's awsxray
//! receiver leaves it empty too): it matches as a scope with an empty name and version, so a
//! `libraries` entry naming a library never selects it, and an X-Ray SDK document is told apart
//! by `services` and `span_names` instead.

pub mod config;

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use regex::Regex;
use serde_json::{Map, Value};

use self::config::{AttributeMatch, AttributesConfig, MatchConfig, SPAN_KINDS};
use super::attraction::{self, Action};
use super::view::{OtlpSpan, SpanView, Val, XrayView};
use super::xray_doc::TopLevel;
use super::{BuildContext, BuildError, InlineProcessor, Processor, ProcessorConfig};
use crate::traces::{Refused, Segment, Traces};

impl ProcessorConfig for AttributesConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Processor, BuildError> {
        let actions = attraction::compile_unchecked(&self.actions).map_err(|e| ctx.error(e))?;
        let include = self
            .include
            .as_ref()
            .map(Matcher::new)
            .transpose()
            .map_err(|e| ctx.error(e))?;
        let exclude = self
            .exclude
            .as_ref()
            .map(Matcher::new)
            .transpose()
            .map_err(|e| ctx.error(e))?;
        Ok(Processor::Inline(Arc::new(AttributesProcessor {
            actions,
            include,
            exclude,
        })))
    }
}

/// The processor.
pub struct AttributesProcessor {
    actions: Vec<Action>,
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl AttributesProcessor {
    fn selected(&self, span: &dyn SpanView, scope: Scope<'_>) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches(span, scope))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|m| m.matches(span, scope))
    }

    fn xray(&self, segment: &mut Segment) {
        let empty = Vec::new();
        let resource = segment.resource.as_deref().unwrap_or(&empty);
        if self.include.is_some() || self.exclude.is_some() {
            let Some(view) = XrayView::read(&segment.body, resource) else {
                return;
            };
            if !self.selected(&view, Scope::NONE) {
                return;
            }
        }
        let Ok(top) = TopLevel::scan(&segment.body) else {
            return;
        };
        let annotations: Map<String, Value> = top.parse("annotations").unwrap_or_default();
        let mut attrs: Vec<KeyValue> = annotations
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: attraction::any_value(v),
            })
            .collect();
        if !attraction::apply(&self.actions, &mut attrs) {
            return;
        }
        let out: Map<String, Value> = attrs
            .iter()
            .filter_map(|kv| Some((kv.key.clone(), annotation(kv.value.as_ref()?)?)))
            .collect();
        let body = top.splice(&[(
            "annotations",
            serde_json::to_vec(&Value::Object(out)).unwrap_or_else(|_| b"{}".to_vec()),
        )]);
        segment.body = body;
    }
}

/// An attribute value as an X-Ray annotation (string, number or boolean).
fn annotation(v: &AnyValue) -> Option<Value> {
    match v.value.as_ref()? {
        Any::StringValue(s) => Some(Value::String(s.clone())),
        Any::IntValue(n) => Some(Value::from(*n)),
        Any::DoubleValue(d) => serde_json::Number::from_f64(*d).map(Value::Number),
        Any::BoolValue(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

impl InlineProcessor for AttributesProcessor {
    fn process(&self, mut traces: Traces) -> Result<Option<Traces>, Refused> {
        match &mut traces {
            Traces::Otlp(resource_spans) => {
                for rs in resource_spans {
                    let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
                    for ss in &mut rs.scope_spans {
                        let scope = ss.scope.as_ref().map_or(Scope::NONE, |s| Scope {
                            name: &s.name,
                            version: &s.version,
                        });
                        for span in &mut ss.spans {
                            let selected = self.selected(&OtlpSpan { span, resource }, scope);
                            if selected {
                                attraction::apply(&self.actions, &mut span.attributes);
                            }
                        }
                    }
                }
            }
            Traces::XRay(segments) => segments.iter_mut().for_each(|s| self.xray(s)),
        }
        Ok(Some(traces))
    }
}

/// The instrumentation scope of the spans being matched.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

impl Scope<'_> {
    /// No scope (X-Ray documents, OTLP `ScopeSpans` without one): empty name and version.
    pub const NONE: Scope<'static> = Scope {
        name: "",
        version: "",
    };
}

/// A compiled `include` / `exclude`.
pub struct Matcher {
    services: Vec<Text>,
    span_names: Vec<Text>,
    span_kinds: Vec<Text>,
    /// (name, version; `None` for any version).
    libraries: Vec<(Text, Option<Text>)>,
    attributes: Vec<(String, Option<ValueMatch>)>,
    resources: Vec<(String, Option<ValueMatch>)>,
}

enum Text {
    Exact(String),
    Pattern(Regex),
}

impl Text {
    fn matches(&self, s: &str) -> bool {
        match self {
            Text::Exact(e) => e == s,
            Text::Pattern(p) => p.is_match(s),
        }
    }
}

enum ValueMatch {
    Equal(AnyValue),
    Pattern(Regex),
}

impl Matcher {
    /// Compiles a checked `include` / `exclude`.
    pub fn new(m: &MatchConfig) -> Result<Matcher, regex::Error> {
        let regexp = m.match_type == "regexp";
        let text = |s: &String| -> Result<Text, regex::Error> {
            Ok(if regexp {
                Text::Pattern(Regex::new(s)?)
            } else {
                Text::Exact(s.clone())
            })
        };
        let attrs =
            |list: &[AttributeMatch]| -> Result<Vec<(String, Option<ValueMatch>)>, regex::Error> {
                list.iter()
                    .map(|a| {
                        let m = match (&a.value, regexp) {
                            (None, _) => None,
                            (Some(Value::String(p)), true) => {
                                Some(ValueMatch::Pattern(Regex::new(p)?))
                            }
                            (Some(v), _) => attraction::any_value(v).map(ValueMatch::Equal),
                        };
                        Ok((a.key.clone(), m))
                    })
                    .collect()
            };
        Ok(Matcher {
            services: m.services.iter().map(text).collect::<Result<_, _>>()?,
            span_names: m.span_names.iter().map(text).collect::<Result<_, _>>()?,
            span_kinds: m.span_kinds.iter().map(text).collect::<Result<_, _>>()?,
            libraries: m
                .libraries
                .iter()
                .map(|l| Ok((text(&l.name)?, l.version.as_ref().map(text).transpose()?)))
                .collect::<Result<_, regex::Error>>()?,
            attributes: attrs(&m.attributes)?,
            resources: attrs(&m.resources)?,
        })
    }

    /// Whether `span`, of instrumentation scope `scope`, has every property this names.
    pub fn matches(&self, span: &dyn SpanView, scope: Scope<'_>) -> bool {
        let any_of = |list: &[Text], s: Option<&str>| {
            list.is_empty() || s.is_some_and(|s| list.iter().any(|t| t.matches(s)))
        };
        let value_ok = |m: &Option<ValueMatch>, v: Option<Val<'_>>| match (m, v) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(ValueMatch::Pattern(p)), Some(v)) => v.as_str().is_some_and(|s| p.is_match(s)),
            (Some(ValueMatch::Equal(want)), Some(v)) => Val::of_any(want) == v,
        };
        let kind = usize::try_from(span.kind())
            .ok()
            .and_then(|k| SPAN_KINDS.get(k).copied());
        let library_ok = self.libraries.is_empty()
            || self.libraries.iter().any(|(name, version)| {
                name.matches(scope.name)
                    && version.as_ref().is_none_or(|v| v.matches(scope.version))
            });
        any_of(&self.services, span.service())
            && any_of(&self.span_names, Some(span.name()))
            && any_of(&self.span_kinds, kind)
            && library_ok
            && self
                .attributes
                .iter()
                .all(|(k, m)| value_ok(m, span.attribute(k)))
            && self
                .resources
                .iter()
                .all(|(k, m)| value_ok(m, span.resource_attribute(k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::SegmentIds;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn processor(yaml: &str) -> AttributesProcessor {
        let cfg: AttributesConfig = serde_json::from_str(yaml).unwrap();
        AttributesProcessor {
            actions: attraction::compile_unchecked(&cfg.actions).unwrap(),
            include: cfg.include.as_ref().map(|m| Matcher::new(m).unwrap()),
            exclude: cfg.exclude.as_ref().map(|m| Matcher::new(m).unwrap()),
        }
    }

    fn doc(body: &str) -> Segment {
        Segment::new(
            bytes::Bytes::from(body.to_owned()),
            SegmentIds::new("0123456789abcdef", "").unwrap(),
            std::time::Instant::now(),
        )
    }

    #[test]
    fn edits_annotations_of_selected_xray_documents_by_splicing() {
        let p = processor(
            r#"{"actions":[{"key":"env","action":"insert","value":"prod"},{"key":"user","action":"delete"}],
                "include":{"match_type":"regexp","span_names":["^check"]}}"#,
        );
        let body = r#"{"name":"checkout","annotations":{"user":"bob","n":1},"subsegments":[{"name":"x", "annotations":{"user":"keep"}}]}"#;
        let mut traces = Traces::XRay(vec![
            doc(body),
            doc(r#"{"name":"cart","annotations":{"user":"bob"}}"#),
        ]);
        traces = p.process(traces).unwrap().unwrap();
        let Traces::XRay(out) = traces else { panic!() };
        assert_eq!(
            std::str::from_utf8(&out[0].body).unwrap(),
            r#"{"name":"checkout","annotations":{"env":"prod","n":1},"subsegments":[{"name":"x", "annotations":{"user":"keep"}}]}"#
        );
        assert_eq!(
            &out[1].body[..],
            br#"{"name":"cart","annotations":{"user":"bob"}}"#
        );
    }

    #[test]
    fn otlp_spans_are_selected_by_service_and_attributes() {
        let p = processor(
            r#"{"actions":[{"key":"tag","action":"upsert","value":true}],
                "include":{"match_type":"strict","services":["api"],"attributes":[{"key":"http.status_code","value":500}]},
                "exclude":{"match_type":"strict","span_names":["health"]}}"#,
        );
        let kv = |k: &str, v: Any| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
        };
        let span = |name: &str, code: i64| Span {
            name: name.into(),
            attributes: vec![kv("http.status_code", Any::IntValue(code))],
            ..Span::default()
        };
        let rs = ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![kv("service.name", Any::StringValue("api".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span("a", 500), span("b", 200), span("health", 500)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let Traces::Otlp(out) = p.process(Traces::Otlp(vec![rs])).unwrap().unwrap() else {
            panic!()
        };
        let tagged: Vec<bool> = out[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.attributes.iter().any(|kv| kv.key == "tag"))
            .collect();
        assert_eq!(tagged, [true, false, false]);
    }

    /// A scope (name, version) and its spans (name, kind).
    type ScopeOfSpans<'a> = (Option<(&'a str, &'a str)>, &'a [(&'a str, i32)]);

    fn otlp_batch(scopes: &[ScopeOfSpans<'_>]) -> Traces {
        use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
        Traces::Otlp(vec![ResourceSpans {
            scope_spans: scopes
                .iter()
                .map(|(scope, spans)| ScopeSpans {
                    scope: scope.map(|(name, version)| InstrumentationScope {
                        name: name.into(),
                        version: version.into(),
                        ..Default::default()
                    }),
                    spans: spans
                        .iter()
                        .map(|(name, kind)| Span {
                            name: (*name).into(),
                            kind: *kind,
                            ..Span::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }])
    }

    /// The names of the spans that got the `hit` attribute.
    fn hits(p: &AttributesProcessor, traces: Traces) -> Vec<String> {
        let Traces::Otlp(out) = p.process(traces).unwrap().unwrap() else {
            panic!()
        };
        out.iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .filter(|s| s.attributes.iter().any(|kv| kv.key == "hit"))
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn span_kinds_select_by_the_kinds_otlp_name_strict_and_regexp() {
        let batch = || {
            otlp_batch(&[(
                None,
                &[
                    ("in", 2),
                    ("out", 3),
                    ("queue", 4),
                    ("plain", 1),
                    ("unset", 0),
                ],
            )])
        };
        let strict = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","span_kinds":["SPAN_KIND_SERVER","SPAN_KIND_CLIENT"]}}"#,
        );
        assert_eq!(hits(&strict, batch()), ["in", "out"]);
        let regexp = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "exclude":{"match_type":"regexp","span_kinds":["PRODUCER|UNSPECIFIED"]}}"#,
        );
        assert_eq!(hits(&regexp, batch()), ["in", "out", "plain"]);
    }

    #[test]
    fn libraries_select_by_scope_name_and_optional_version() {
        let batch = || {
            otlp_batch(&[
                (Some(("io.opentelemetry.flask", "0.45b0")), &[("flask", 2)]),
                (
                    Some(("io.opentelemetry.flask", "0.46b0")),
                    &[("flask-new", 2)],
                ),
                (Some(("io.opentelemetry.requests", "")), &[("requests", 3)]),
                (None, &[("no-scope", 1)]),
            ])
        };
        let any_version = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","libraries":[{"name":"io.opentelemetry.flask"}]}}"#,
        );
        assert_eq!(hits(&any_version, batch()), ["flask", "flask-new"]);
        let one_version = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","libraries":[{"name":"io.opentelemetry.flask","version":"0.46b0"},{"name":"io.opentelemetry.requests","version":""}]}}"#,
        );
        assert_eq!(hits(&one_version, batch()), ["flask-new", "requests"]);
        let regexp = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "exclude":{"match_type":"regexp","libraries":[{"name":"flask$","version":"^0\\.45"}]}}"#,
        );
        assert_eq!(
            hits(&regexp, batch()),
            ["flask-new", "requests", "no-scope"]
        );
        // No scope: an empty name, so only an empty (or any-matching) pattern selects it.
        let empty = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","libraries":[{"name":""}]}}"#,
        );
        assert_eq!(hits(&empty, batch()), ["no-scope"]);
    }

    #[test]
    fn xray_documents_match_kinds_from_their_shape_and_have_no_library() {
        let seg = r#"{"name":"checkout","annotations":{}}"#;
        let remote = r#"{"name":"db","type":"subsegment","namespace":"remote","parent_id":"1","annotations":{}}"#;
        let run = |p: &AttributesProcessor| -> Vec<bool> {
            let Traces::XRay(out) = p
                .process(Traces::XRay(vec![doc(seg), doc(remote)]))
                .unwrap()
                .unwrap()
            else {
                panic!()
            };
            out.iter()
                .map(|s| std::str::from_utf8(&s.body).unwrap().contains(r#""hit":1"#))
                .collect()
        };
        let server = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","span_kinds":["SPAN_KIND_SERVER"]}}"#,
        );
        assert_eq!(run(&server), [true, false]);
        let client = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"strict","span_kinds":["SPAN_KIND_CLIENT"]}}"#,
        );
        assert_eq!(run(&client), [false, true]);
        let library = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "include":{"match_type":"regexp","libraries":[{"name":"."}]}}"#,
        );
        assert_eq!(run(&library), [false, false]);
        let excluded = processor(
            r#"{"actions":[{"key":"hit","action":"insert","value":1}],
                "exclude":{"match_type":"strict","libraries":[{"name":"X-Ray for Python"}]}}"#,
        );
        assert_eq!(run(&excluded), [true, true]);
    }
}
