//! Located diagnostics: [`Diagnostic`] (`file:line:column: path: message`), [`ConfigErrors`], and
//! [`Ctx`], which collects them while a config file is typed and validated.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::yaml::Position;
use super::yaml::{self, SourceMap};

/// A located problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub position: Option<Position>,
    /// Dotted path of the offending key, e.g. `exporters.awsxray.region`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a config, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects the located errors and warnings of one config file.
pub struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) map: &'a SourceMap,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// Every diagnostic goes through here: its message shows values that came from `${...}`
    /// expansion as the config wrote them (see `yaml::Redactions`), never the values.
    fn diagnostic(&self, pointer: &str, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            position: self.map.locate(pointer),
            path: dotted(pointer),
            message: self.map.redact(&message),
        }
    }

    /// Reports an error at `pointer` (a JSON pointer into the file).
    pub fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let d = self.diagnostic(pointer, message.into());
        self.errors.push(d);
    }

    /// Reports a warning at `pointer`.
    pub fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        let d = self.diagnostic(pointer, message.into());
        self.warnings.push(d);
    }

    /// Deserializes `value` (null meaning "all defaults") into `T`, reporting a located error.
    pub fn typed<T: DeserializeOwned>(&mut self, value: &Value, pointer: &str) -> Option<T> {
        let value = if value.is_null() {
            Value::Object(serde_json::Map::new())
        } else {
            value.clone()
        };
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut p = pointer.to_owned();
                for segment in e.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => {
                            p.push_str(&format!("/{index}"))
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            p.push_str(&format!("/{}", yaml::escape_token(key)))
                        }
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let message = e.into_inner().to_string();
                if let Some(field) = unknown_field(&message) {
                    if !p.ends_with(&format!("/{}", yaml::escape_token(field))) {
                        p.push_str(&format!("/{}", yaml::escape_token(field)));
                    }
                }
                self.error(&p, message);
                None
            }
        }
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

/// `/exporters/awsxray~1x/region` becomes `exporters.awsxray/x.region`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}
