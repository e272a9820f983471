//! `processors.attributes`: contrib's keys (`actions`, `include`, `exclude`), and their checks.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::config::component::{Checker, Component};
use crate::processors::attraction::{self, ActionConfig};

/// `processors.attributes`.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    pub actions: Vec<ActionConfig>,
    /// Only spans matching this are processed.
    pub include: Option<MatchConfig>,
    /// Spans matching this are not processed.
    pub exclude: Option<MatchConfig>,
}

/// `include` / `exclude`: the span properties contrib matches traces by. The properties given
/// must all match; within `services`, `span_names`, `span_kinds` and `libraries` any entry may
/// match; every entry of `attributes` and `resources` must match (an entry without `value`
/// matches when the key exists). With `regexp`, names, kinds, library names and versions and
/// string values are unanchored regular expressions. Refused: `regexp` (the cache settings) and
/// the log and metric properties (unknown keys).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// `strict` (equality) or `regexp` (names and string values matched by regular expressions).
    pub match_type: String,
    pub services: Vec<String>,
    pub span_names: Vec<String>,
    pub attributes: Vec<AttributeMatch>,
    pub resources: Vec<AttributeMatch>,
    /// Instrumentation scopes (contrib still calls them libraries).
    pub libraries: Vec<LibraryMatch>,
    /// Span kinds as OTLP names them (`SPAN_KIND_SERVER`, ...; see [`SPAN_KINDS`]).
    pub span_kinds: Vec<String>,
}

/// One `libraries` entry: the scope's name, and its version when `version` is given (an absent
/// `version` matches any version; `""` matches only an empty one).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LibraryMatch {
    pub name: String,
    pub version: Option<String>,
}

/// The span kind names, indexed by the OTLP kind number.
pub const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

/// One `attributes` / `resources` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeMatch {
    pub key: String,
    pub value: Option<Value>,
}

impl Component for AttributesConfig {
    const TYPE: &'static str = "attributes";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.actions.is_empty() {
            c.error("", "`actions` must list at least one action");
        }
        attraction::compile(&self.actions, "actions", c);
        for (key, m) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(m) = m {
                check_match(m, key, c);
            }
        }
    }
}

fn check_match(m: &MatchConfig, at: &str, c: &mut Checker<'_, '_>) {
    let regexp = match m.match_type.as_str() {
        "strict" => false,
        "regexp" => true,
        "" => {
            c.error(at, "`match_type` is required: strict or regexp");
            return;
        }
        other => {
            c.error(
                &format!("{at}/match_type"),
                format!("unknown match_type `{other}`; expected strict or regexp"),
            );
            return;
        }
    };
    if m.services.is_empty()
        && m.span_names.is_empty()
        && m.attributes.is_empty()
        && m.resources.is_empty()
        && m.libraries.is_empty()
        && m.span_kinds.is_empty()
    {
        c.error(
            at,
            "set at least one of `services`, `span_names`, `attributes`, `resources`, `libraries`, `span_kinds`",
        );
    }
    if !regexp {
        for (i, kind) in m.span_kinds.iter().enumerate() {
            if !SPAN_KINDS.contains(&kind.as_str()) {
                c.error(
                    &format!("{at}/span_kinds/{i}"),
                    format!(
                        "unknown span kind `{kind}`; with match_type strict use one of {}",
                        SPAN_KINDS.join(", ")
                    ),
                );
            }
        }
    }
    if regexp {
        for (list, items) in [
            ("services", &m.services),
            ("span_names", &m.span_names),
            ("span_kinds", &m.span_kinds),
        ] {
            for (i, p) in items.iter().enumerate() {
                if let Err(e) = Regex::new(p) {
                    c.error(
                        &format!("{at}/{list}/{i}"),
                        format!("invalid regular expression: {e}"),
                    );
                }
            }
        }
        for (i, lib) in m.libraries.iter().enumerate() {
            for (field, p) in [("name", Some(&lib.name)), ("version", lib.version.as_ref())] {
                if let Some(Err(e)) = p.map(|p| Regex::new(p)) {
                    c.error(
                        &format!("{at}/libraries/{i}/{field}"),
                        format!("invalid regular expression: {e}"),
                    );
                }
            }
        }
    }
    for (list, items) in [("attributes", &m.attributes), ("resources", &m.resources)] {
        for (i, a) in items.iter().enumerate() {
            if a.key.is_empty() {
                c.error(&format!("{at}/{list}/{i}"), "missing `key`");
            }
            if regexp {
                match &a.value {
                    Some(Value::String(p)) => {
                        if let Err(e) = Regex::new(p) {
                            c.error(
                                &format!("{at}/{list}/{i}/value"),
                                format!("invalid regular expression: {e}"),
                            );
                        }
                    }
                    Some(_) => c.error(
                        &format!("{at}/{list}/{i}/value"),
                        "with match_type regexp, `value` must be a string (a regular expression)",
                    ),
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A traces pipeline with `processors.attributes` whose settings start on line 7.
    fn load(body: &str) -> Result<AttributesConfig, Vec<String>> {
        let text = format!(
            "receivers:\n  awsxray:\nexporters:\n  debug:\nprocessors:\n  attributes:\n    actions:\n      - {{key: hit, action: insert, value: 1}}\n{body}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      processors: [attributes]\n      exporters: [debug]\n"
        );
        crate::config::load_str(&text, "collector.yaml", &|_| None)
            .map(|loaded| {
                loaded
                    .config
                    .processor::<AttributesConfig>("attributes")
                    .expect("typed")
                    .clone()
            })
            .map_err(|e| e.0.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn span_kinds_and_libraries_load() {
        let cfg = load(
            "    include:\n      match_type: strict\n      span_kinds: [SPAN_KIND_SERVER, SPAN_KIND_CONSUMER]\n      libraries:\n        - name: io.opentelemetry.flask\n        - name: io.opentelemetry.requests\n          version: \"\"\n    exclude:\n      match_type: regexp\n      span_kinds: [INTERNAL]\n      libraries:\n        - name: ^opentelemetry\\.instrumentation\\.\n          version: ^0\\.4\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let include = cfg.include.unwrap();
        assert_eq!(
            include.span_kinds,
            ["SPAN_KIND_SERVER", "SPAN_KIND_CONSUMER"]
        );
        assert_eq!(
            include.libraries,
            [
                LibraryMatch {
                    name: "io.opentelemetry.flask".into(),
                    version: None
                },
                LibraryMatch {
                    name: "io.opentelemetry.requests".into(),
                    version: Some(String::new())
                }
            ]
        );
        let exclude = cfg.exclude.unwrap();
        assert_eq!(exclude.span_kinds, ["INTERNAL"]);
        assert_eq!(exclude.libraries[0].version.as_deref(), Some("^0\\.4"));
    }

    #[test]
    fn bad_span_kinds_and_libraries_are_located() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "a kind that is not an OTLP kind name, strict",
                "    include:\n      match_type: strict\n      span_kinds: [SPAN_KIND_SERVER, server]\n",
                &[
                    "collector.yaml:11:38: processors.attributes.include.span_kinds[1]: unknown span kind `server`; with match_type strict use one of SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER",
                ],
            ),
            (
                "bad regular expressions",
                "    exclude:\n      match_type: regexp\n      span_kinds: [\"(\"]\n      libraries:\n        - name: \"[\"\n          version: \"(\"\n",
                &[
                    "collector.yaml:11:20: processors.attributes.exclude.span_kinds[0]: invalid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
                    "collector.yaml:13:11: processors.attributes.exclude.libraries[0].name: invalid regular expression: regex parse error:\n    [\n    ^\nerror: unclosed character class",
                    "collector.yaml:14:11: processors.attributes.exclude.libraries[0].version: invalid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
                ],
            ),
            (
                "an unknown library key",
                "    include:\n      match_type: strict\n      libraries:\n        - name: x\n          schema_url: y\n",
                &[
                    "collector.yaml:13:11: processors.attributes.include.libraries[0].schema_url: unknown field `schema_url`, expected `name` or `version`",
                ],
            ),
            (
                "a version that is not a string",
                "    include:\n      match_type: strict\n      libraries:\n        - name: x\n          version: [1]\n",
                &[
                    "collector.yaml:13:11: processors.attributes.include.libraries[0].version: invalid type: sequence, expected a string",
                ],
            ),
        ];
        for (name, body, want) in cases {
            let got = load(body)
                .err()
                .unwrap_or_else(|| panic!("{name}: expected errors"));
            assert_eq!(&got, want, "{name}");
        }
    }
}
