//! Component and pipeline identifiers: `type[/name]`, as the OpenTelemetry collector writes them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A component instance id such as `batch` or `batch/traces`.
///
/// The type follows the collector's rule (`^[a-zA-Z][0-9a-zA-Z_]{0,62}$`); the optional name after the
/// first `/` is any non-empty text without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    kind: String,
    name: Option<String>,
}

/// Why a `type[/name]` string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id `{0}` has an empty type")]
    EmptyType(String),
    #[error(
        "id `{0}` has an invalid type: a type starts with a letter and has only letters, digits and `_` (at most 63 characters)"
    )]
    InvalidType(String),
    #[error("id `{0}` has an empty name after `/`")]
    EmptyName(String),
    #[error("id `{0}` has whitespace in its name")]
    InvalidName(String),
}

impl ComponentId {
    /// The component type, e.g. `batch` in `batch/traces`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The optional instance name, e.g. `traces` in `batch/traces`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl FromStr for ComponentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = match s.split_once('/') {
            Some((kind, name)) => (kind, Some(name)),
            None => (s, None),
        };
        if kind.is_empty() {
            return Err(IdError::EmptyType(s.to_owned()));
        }
        let mut chars = kind.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || kind.len() > 63 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(IdError::InvalidType(s.to_owned()));
        }
        if let Some(name) = name {
            if name.is_empty() {
                return Err(IdError::EmptyName(s.to_owned()));
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(IdError::InvalidName(s.to_owned()));
            }
        }
        Ok(ComponentId {
            kind: kind.to_owned(),
            name: name.map(str::to_owned),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.kind, name),
            None => f.write_str(&self.kind),
        }
    }
}

impl<'de> Deserialize<'de> for ComponentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The signal a pipeline carries: the part of its id before `/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
    Profiles,
}

impl Signal {
    /// The signal's name as written in pipeline ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }
}

/// A pipeline id such as `traces` or `traces/xray`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipelineId {
    signal: Signal,
    id: ComponentId,
}

impl PipelineId {
    /// The signal this pipeline carries.
    pub fn signal(&self) -> Signal {
        self.signal
    }
}

impl FromStr for PipelineId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id: ComponentId = s.parse().map_err(|e: IdError| e.to_string())?;
        let signal = match id.kind() {
            "traces" => Signal::Traces,
            "metrics" => Signal::Metrics,
            "logs" => Signal::Logs,
            "profiles" => Signal::Profiles,
            other => {
                return Err(format!(
                    "pipeline `{s}` has unknown signal `{other}`; expected traces, metrics, logs or profiles"
                ));
            }
        };
        Ok(PipelineId { signal, id })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id.fmt(f)
    }
}

impl<'de> Deserialize<'de> for PipelineId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_and_name() {
        let id: ComponentId = "batch/traces".parse().unwrap();
        assert_eq!(id.kind(), "batch");
        assert_eq!(id.name(), Some("traces"));
        assert_eq!(id.to_string(), "batch/traces");
        let id: ComponentId = "awsxray/a/b".parse().unwrap();
        assert_eq!(id.name(), Some("a/b"));
    }

    #[test]
    fn rejects_bad_ids() {
        for (text, want) in [
            ("", IdError::EmptyType(String::new())),
            ("/x", IdError::EmptyType("/x".into())),
            ("9x", IdError::InvalidType("9x".into())),
            ("a-b", IdError::InvalidType("a-b".into())),
            ("batch/", IdError::EmptyName("batch/".into())),
            ("batch/a b", IdError::InvalidName("batch/a b".into())),
        ] {
            assert_eq!(text.parse::<ComponentId>().unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn pipeline_signal() {
        let id: PipelineId = "traces/xray".parse().unwrap();
        assert_eq!(id.signal(), Signal::Traces);
        assert!(
            "spans"
                .parse::<PipelineId>()
                .unwrap_err()
                .contains("unknown signal")
        );
    }
}
