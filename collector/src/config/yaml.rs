//! YAML text to a `serde_json::Value` plus a map from JSON Pointer to source position, so that
//! errors found after parsing (unknown keys, bad types, semantic checks) can point at a line and
//! column. Environment references in string scalars are expanded while converting.
//!
//! A thin adapter over the workspace's `spanned-yaml` crate (which parses with saphyr-parser and
//! applies the YAML 1.2 core schema and the [`limits`] below): this module plugs `${env:...}`
//! expansion ([`super::expand`]) in as the crate's scalar hook and words its errors for the
//! collector's diagnostics. The hook also records every expanded value with the text written in
//! the config ([`Redactions`]), so that no diagnostic echoes a value that came from the
//! environment: a secret put in the wrong field must not reach logs.

use serde_json::{Map, Value};
use spanned_yaml::{ErrorKind, Limits, Options, Positions, Rewrite, Span};

use super::expand;

/// A 1-based line and column in the config text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl From<Span> for Position {
    fn from(span: Span) -> Self {
        Position {
            line: span.line,
            column: span.column,
        }
    }
}

/// Positions of every mapping key and sequence item, by JSON Pointer (`/service/pipelines`), and
/// the values that came from `${...}` expansion.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    positions: Positions,
    redactions: Redactions,
}

impl SourceMap {
    /// The position of `pointer`, or of its nearest ancestor that has one: a mapping entry is at
    /// its key, a sequence item at the item; the document root has no position.
    pub fn locate(&self, pointer: &str) -> Option<Position> {
        let found = self.positions.nearest(pointer)?;
        if found.depth == 0 {
            return None;
        }
        Some(found.spans.key.unwrap_or(found.spans.value).into())
    }

    /// `message` with every value that came from an expansion replaced by what the config wrote.
    pub fn redact(&self, message: &str) -> String {
        self.redactions.redact(message)
    }

    /// The values that came from an expansion.
    pub fn redactions(&self) -> &Redactions {
        &self.redactions
    }
}

/// Values that came from `${...}` expansion, each with the text the config wrote for it.
///
/// A diagnostic may quote a value (serde's `invalid type: string "..."`, `unknown variant`, a
/// bad duration, an undefined extension name), and the value may be a secret that was put in the
/// wrong field. [`Redactions::redact`] replaces, in any message, each expanded scalar (in the
/// forms a message quotes it: as text, escaped, or as the number or boolean it typed to) by the
/// scalar as written, and each single reference's value by the reference (`${env:NAME}`), longest
/// value first. A value shorter than 4 characters is replaced only where it is a whole word, so
/// that `${env:N}` = `1` does not rewrite every digit of a message. The values are searched for
/// all at once (Aho-Corasick, leftmost-longest), so a config with very many expanded values and
/// very many errors still reports them in time linear in the messages' length.
#[derive(Clone, Debug, Default)]
pub struct Redactions {
    /// (value as a message may show it, replacement), longest value first once finished.
    pairs: Vec<(String, String)>,
    /// Finds the values of `pairs` (pattern `i` is `pairs[i].0`).
    finder: Option<aho_corasick::AhoCorasick>,
}

impl Redactions {
    /// Records one expanded scalar: `written` as in the config, `expanded` its expansion, `typed`
    /// whether its value gets a YAML type (a scalar that is exactly one reference).
    fn record(&mut self, written: &str, expanded: &expand::Expanded, typed: bool) {
        let text = &expanded.text;
        let mut forms = vec![text.clone()];
        let debug = format!("{text:?}");
        forms.push(debug[1..debug.len() - 1].to_owned());
        if let Ok(json) = serde_json::to_string(text) {
            forms.push(json[1..json.len() - 1].to_owned());
        }
        if typed {
            match spanned_yaml::resolve_plain(text) {
                Value::Number(n) => {
                    forms.push(n.to_string());
                    if let Some(f) = n.as_f64() {
                        forms.push(format!("{f}"));
                        forms.push(format!("{f:?}"));
                    }
                }
                Value::Bool(b) => forms.push(b.to_string()),
                _ => {}
            }
        }
        for form in forms {
            self.pairs.push((form, written.to_owned()));
        }
        for (reference, value) in &expanded.references {
            self.pairs.push((value.clone(), reference.clone()));
        }
    }

    fn finish(&mut self) {
        self.pairs.retain(|(value, _)| !value.is_empty());
        self.pairs
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        self.pairs.dedup_by(|a, b| a.0 == b.0);
        self.finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(self.pairs.iter().map(|(value, _)| value))
            .ok();
    }

    /// Whether a match of `value` at `start..end` of `message` may be replaced.
    fn replaceable(message: &str, value: &str, start: usize, end: usize) -> bool {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        value.chars().count() >= 4
            || (!word(message[..start].chars().next_back()) && !word(message[end..].chars().next()))
    }

    /// `message` with every recorded value replaced by its text as written.
    pub fn redact(&self, message: &str) -> String {
        if self.pairs.is_empty() {
            return message.to_owned();
        }
        let Some(finder) = &self.finder else {
            return self.redact_slowly(message);
        };
        let mut out = String::with_capacity(message.len());
        let (mut copied, mut at) = (0, 0);
        while at < message.len() {
            let input = aho_corasick::Input::new(message).span(at..message.len());
            let Some(m) = finder.find(input) else { break };
            let (value, written) = &self.pairs[m.pattern().as_usize()];
            if Self::replaceable(message, value, m.start(), m.end()) {
                out.push_str(&message[copied..m.start()]);
                out.push_str(written);
                (copied, at) = (m.end(), m.end());
            } else {
                at = m.start()
                    + message[m.start()..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
            }
        }
        out.push_str(&message[copied..]);
        out
    }

    /// `redact` without the automaton (when it could not be built): every value tried at every
    /// position, longest first.
    fn redact_slowly(&self, message: &str) -> String {
        let mut out = String::with_capacity(message.len());
        let mut i = 0;
        'scan: while i < message.len() {
            let rest = &message[i..];
            for (value, written) in &self.pairs {
                if rest.starts_with(value.as_str())
                    && Self::replaceable(message, value, i, i + value.len())
                {
                    out.push_str(written);
                    i += value.len();
                    continue 'scan;
                }
            }
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
        out
    }
}

/// A problem found while reading the YAML text.
#[derive(Clone, Debug)]
pub struct YamlError {
    pub position: Position,
    pub pointer: String,
    pub message: String,
}

/// Looks an environment variable up by name.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The bounds a config (or a manifest stream read by [`parse_documents`]) must stay within. ADOT
/// collector configs are 2–10 KB and the Kubernetes manifests that embed them 10–30 KB; 4 MiB of
/// input, 64 levels of nesting, 100,000 values and 16 MiB of text after alias expansion and 1,000
/// documents are far beyond any real file while keeping a hostile one well under 100 MB.
pub fn limits() -> Limits {
    Limits {
        max_input_bytes: 4 << 20,
        max_depth: 64,
        max_values: 100_000,
        ..Limits::default()
    }
}

/// Parses one YAML document. An empty document is an empty mapping.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, SourceMap), Vec<YamlError>> {
    // Keys are taken literally; values get `${env:VAR}` expansion, as the collector does. A plain
    // scalar, or one made entirely of a single `${...}` reference, keeps its YAML type.
    let redactions = std::cell::RefCell::new(Redactions::default());
    let hook = |text: &str| -> Result<Option<Rewrite>, String> {
        if !text.contains('$') {
            return Ok(None);
        }
        let expanded = expand::expand(text, env).map_err(|e| e.to_string())?;
        let plain = !expanded.substituted || expanded.whole;
        if expanded.substituted {
            redactions.borrow_mut().record(text, &expanded, plain);
        }
        Ok(Some(Rewrite {
            plain,
            text: expanded.text,
        }))
    };
    let options = Options {
        limits: limits(),
        scalar_hook: Some(&hook),
    };
    let loaded = spanned_yaml::load(text, &options);
    let mut redactions = redactions.take();
    redactions.finish();
    match loaded {
        Ok(Some(loaded)) => Ok((
            loaded.value,
            SourceMap {
                positions: loaded.positions,
                redactions,
            },
        )),
        Ok(None) => Ok((Value::Object(Map::new()), SourceMap::default())),
        Err(errors) => Err(errors
            .into_iter()
            .map(|e| {
                let mut e = yaml_error(e);
                e.message = redactions.redact(&e.message);
                e
            })
            .collect()),
    }
}

/// Parses every document of a YAML stream as written, without `${...}` expansion (for reading
/// Kubernetes manifests that embed a collector config).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let options = Options {
        limits: limits(),
        scalar_hook: None,
    };
    match spanned_yaml::load_all(text, &options) {
        Ok(documents) => Ok(documents.into_iter().map(|d| d.value).collect()),
        Err(errors) => Err(errors
            .into_iter()
            .next()
            .map(yaml_error)
            .unwrap_or_else(|| YamlError {
                position: Position { line: 1, column: 1 },
                pointer: String::new(),
                message: "invalid YAML".to_owned(),
            })),
    }
}

/// Escapes one JSON Pointer reference token.
pub fn escape_token(token: &str) -> String {
    spanned_yaml::escape_token(token)
}

fn yaml_error(err: spanned_yaml::Error) -> YamlError {
    let message = match err.kind {
        ErrorKind::Syntax(info) => format!("invalid YAML: {info}"),
        ErrorKind::MultipleDocuments => "expected one YAML document, found a second one".to_owned(),
        ErrorKind::TooManyValues { limit } => {
            format!("aliases expand the config beyond {limit} values")
        }
        ErrorKind::TooManyBytes { limit } => {
            format!("aliases expand the config beyond {limit} bytes of text")
        }
        ErrorKind::Scalar(message) => message,
        kind => kind.to_string(),
    };
    YamlError {
        position: err.span.into(),
        pointer: err.pointer,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn converts_and_locates() {
        let text = "a:\n  b: 1\n  c: [x, 'y']\n  d:\n  e: 1.5\n  f: true\n";
        let (value, map) = parse(text, &no_env).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": {"b": 1, "c": ["x", "y"], "d": null, "e": 1.5, "f": true}})
        );
        assert_eq!(map.locate("/a/b"), Some(Position { line: 2, column: 3 }));
        assert_eq!(
            map.locate("/a/c/1"),
            Some(Position {
                line: 3,
                column: 10
            })
        );
        assert_eq!(map.locate("/a/b/zz"), Some(Position { line: 2, column: 3 }));
    }

    #[test]
    fn reports_duplicates_and_syntax_errors() {
        let errs = parse("a: 1\na: 2\n", &no_env).unwrap_err();
        assert_eq!(errs[0].message, "duplicate key `a`");
        assert_eq!(errs[0].position.line, 2);
        let errs = parse("a: [1, 2\n", &no_env).unwrap_err();
        assert!(
            errs[0].message.starts_with("invalid YAML"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn hostile_nesting_and_aliases_are_errors() {
        let nested = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let errs = parse(&nested, &no_env).unwrap_err();
        assert_eq!(errs[0].message, "nesting deeper than 64 levels");
        let nested = format!("{}x{}", "[".repeat(50_000), "]".repeat(50_000));
        let errs = parse(&nested, &no_env).unwrap_err();
        assert_eq!(errs[0].message, "invalid YAML: recursion limit exceeded");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let errs = parse(&bomb, &no_env).unwrap_err();
        assert_eq!(
            errs[0].message,
            "aliases expand the config beyond 100000 values"
        );
        let (value, _) = parse("base: &b {x: 1}\nother: *b\n", &no_env).unwrap();
        assert_eq!(value["other"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn expands_env_with_types() {
        let env = |name: &str| match name {
            "N" => Some("50".to_owned()),
            "R" => Some("us-east-1".to_owned()),
            _ => None,
        };
        let (value, _) =
            parse("n: ${env:N}\nr: x-${env:R}\nq: '${env:N}'\nd: $$1\n", &env).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"n": 50, "r": "x-us-east-1", "q": "50", "d": "$1"})
        );
    }

    #[test]
    fn expanded_values_are_redacted_to_what_was_written() {
        let env = |name: &str| match name {
            "SECRET" => Some("s3cr3t".to_owned()),
            "N" => Some("1".to_owned()),
            "F" => Some("1e3".to_owned()),
            "Q" => Some("a\"b".to_owned()),
            _ => None,
        };
        let text = "a: ${env:SECRET}\nb: x-${env:SECRET}\nn: ${env:N}\nf: ${env:F}\nq: ${env:Q}\n";
        let (value, map) = parse(text, &env).unwrap();
        assert_eq!(value["b"], "x-s3cr3t");
        assert_eq!(
            map.redact("invalid type: string \"s3cr3t\", expected u64"),
            "invalid type: string \"${env:SECRET}\", expected u64"
        );
        assert_eq!(
            map.redact("unknown variant `x-s3cr3t`; also s3cr3tive"),
            "unknown variant `x-${env:SECRET}`; also ${env:SECRET}ive"
        );
        // A short value is replaced only as a whole word.
        assert_eq!(
            map.redact("integer `1`, expected u16 or 10"),
            "integer `${env:N}`, expected u16 or 10"
        );
        // The forms a typed or escaped value takes in a message.
        assert_eq!(
            map.redact("floating point `1000.0`"),
            "floating point `${env:F}`"
        );
        assert_eq!(map.redact("string \"a\\\"b\""), "string \"${env:Q}\"");
        let (_, plain) = parse("a: s3cr3t\n", &env).unwrap();
        assert_eq!(plain.redact("s3cr3t"), "s3cr3t", "only expanded values");
        // Without the automaton, the same result.
        let mut slow = map.redactions().clone();
        slow.finder = None;
        for message in [
            "unknown variant `x-s3cr3t`; also s3cr3tive",
            "integer `1`, 10",
        ] {
            assert_eq!(slow.redact(message), map.redact(message));
        }
    }

    #[test]
    fn many_expanded_values_and_errors_redact_in_linear_time() {
        // 20,000 distinct expanded values, each in a component of an unknown type.
        let mut text = String::from("receivers:\n");
        for i in 0..20_000 {
            text.push_str(&format!("  nope{i}:\n    k: ${{env:UNSET:-value-{i}}}\n"));
        }
        let (_, map) = parse(&text, &no_env).unwrap();
        let started = std::time::Instant::now();
        for i in 0..20_000 {
            let message = format!("`value-{i}` is not a known setting of this receiver");
            assert!(map.redact(&message).starts_with("`${env:UNSET:-value-"));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_root_has_no_position_and_entries_are_at_their_keys() {
        let (value, map) = parse("", &no_env).unwrap();
        assert_eq!(value, serde_json::json!({}));
        assert_eq!(map.locate("/a"), None);
        let (_, map) = parse("é: {x: 1}\nl:\n  - a: 1\n", &no_env).unwrap();
        assert_eq!(map.locate(""), None);
        assert_eq!(map.locate("/é/x"), Some(Position { line: 1, column: 5 }));
        assert_eq!(map.locate("/l/0/b"), Some(Position { line: 3, column: 5 }));
        let errs = parse("a: 1\n---\nb: 2\n", &no_env).unwrap_err();
        assert_eq!(errs[0].position, Position { line: 2, column: 1 });
    }
}
