//! Go-style durations (`200ms`, `1s`, `1m30s`, `1.5h`), as collector configs write them.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a text is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("duration `{0}` is negative")]
    Negative(String),
    #[error("duration `{0}` lacks a unit (ns, us, ms, s, m, h)")]
    NoUnit(String),
    #[error("invalid duration `{0}`")]
    Invalid(String),
    #[error("invalid number in duration `{0}`")]
    Number(String),
    #[error("unknown unit `{unit}` in duration `{text}`")]
    Unit { unit: String, text: String },
}

/// Parses a Go duration string. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `0` alone is zero.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(text.to_owned()));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::NoUnit(text.to_owned()))?;
        if num_len == 0 {
            return Err(DurationError::Invalid(text.to_owned()));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| DurationError::Number(text.to_owned()))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(DurationError::Unit {
                    unit: other.to_owned(),
                    text: text.to_owned(),
                });
            }
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Deserializes a Go duration string (serde `deserialize_with` helper).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Nanos(u64),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        Raw::Nanos(n) => Ok(Duration::from_nanos(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (text, want_ms) in [
            ("0", 0),
            ("200ms", 200),
            ("1s", 1000),
            ("1.5s", 1500),
            ("1m30s", 90_000),
            ("2h", 7_200_000),
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Duration::from_millis(want_ms),
                "{text}"
            );
        }
        for bad in ["", "1", "5 s", "1d", "-1s", "s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
