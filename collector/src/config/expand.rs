//! `${env:VAR}` expansion and `$$` escaping in config values, following the collector's rules:
//! `${env:VAR}` and `${VAR}` are replaced by the variable (empty when unset), `${env:VAR:-default}`
//! falls back to `default`, `$$` is a literal `$`, and any other `$` is kept as written.
//!
//! Each replaced reference is returned with its value ([`Expanded::references`]), so that
//! diagnostics can show the reference as written instead of the value (see `yaml::Redactions`).

/// The result of expanding one scalar.
#[derive(Debug)]
pub struct Expanded {
    pub text: String,
    /// Whether any `${...}` reference was replaced.
    pub substituted: bool,
    /// Whether the scalar was exactly one `${...}` reference (its value then gets a YAML type).
    pub whole: bool,
    /// Every replaced reference, as written (`${env:NAME}`), with the text it was replaced by.
    pub references: Vec<(String, String)>,
}

/// Why a scalar's references cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// A `${` without its `}`.
    #[error("unterminated `${{` in `{0}`")]
    Unterminated(String),
    /// `${scheme:...}` with a config provider other than `env`.
    #[error("config provider `{scheme}` in `${{{reference}}}` is not supported; only `env` is")]
    Provider { scheme: String, reference: String },
    /// A name that is not an environment variable name.
    #[error("`${{{0}}}` does not name a valid environment variable")]
    InvalidName(String),
}

/// Expands the references in `text`, looking variables up with `env`.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, ExpandError> {
    if !text.contains('$') {
        return Ok(Expanded {
            text: text.to_owned(),
            substituted: false,
            whole: false,
            references: Vec::new(),
        });
    }
    let mut out = String::with_capacity(text.len());
    let mut substituted = false;
    let mut references = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let end = r
                .find('}')
                .ok_or_else(|| ExpandError::Unterminated(text.to_owned()))?;
            let value = resolve(&r[..end], env)?;
            out.push_str(&value);
            substituted = true;
            references.push((format!("${{{}}}", &r[..end]), value));
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    let whole = references.len() == 1 && text.starts_with("${") && text.ends_with('}');
    Ok(Expanded {
        text: out,
        substituted,
        whole,
        references,
    })
}

fn resolve(reference: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let spec = match reference.split_once(':') {
        Some(("env", spec)) => spec,
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            return Err(ExpandError::Provider {
                scheme: scheme.to_owned(),
                reference: reference.to_owned(),
            });
        }
        _ => reference,
    };
    let (name, default) = match spec.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (spec, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ExpandError::InvalidName(reference.to_owned()));
    }
    Ok(match (env(name), default) {
        (Some(value), _) if !value.is_empty() || default.is_none() => value,
        (_, Some(default)) => default.to_owned(),
        (_, None) => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "REGION").then(|| "eu-west-1".to_owned())
    }

    #[test]
    fn table() {
        for (input, want) in [
            ("plain", "plain"),
            ("${env:REGION}", "eu-west-1"),
            ("${REGION}", "eu-west-1"),
            ("a-${env:REGION}-b", "a-eu-west-1-b"),
            ("${env:MISSING}", ""),
            ("${env:MISSING:-us-east-1}", "us-east-1"),
            ("$$1:$$2", "$1:$2"),
            ("__param_$1", "__param_$1"),
            ("$$${env:REGION}", "$eu-west-1"),
        ] {
            assert_eq!(expand(input, &env).unwrap().text, want, "{input}");
        }
    }

    #[test]
    fn references_are_returned_as_written_with_their_values() {
        let expanded = expand("a-${env:REGION}-${env:MISSING:-x}-$$", &env).unwrap();
        assert_eq!(
            expanded.references,
            [
                ("${env:REGION}".to_owned(), "eu-west-1".to_owned()),
                ("${env:MISSING:-x}".to_owned(), "x".to_owned()),
            ]
        );
        assert!(expand("$$plain", &env).unwrap().references.is_empty());
    }

    #[test]
    fn errors() {
        assert!(
            expand("${env:REGION", &env)
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
        assert!(
            expand("${file:/x}", &env)
                .unwrap_err()
                .to_string()
                .contains("`file`")
        );
        assert!(
            expand("${env:1A}", &env)
                .unwrap_err()
                .to_string()
                .contains("valid environment")
        );
    }
}
