//! Plain-scalar resolution with the YAML 1.2 core schema.

use serde_json::{Number, Value};

/// Resolves a plain scalar with the YAML 1.2 core schema: null (`~`, `null`, `Null`, `NULL`, empty),
/// booleans (`true`, `True`, `TRUE`, `false`, `False`, `FALSE`), integers (decimal with an optional
/// sign, `0o` octal, `0x` hexadecimal) and decimal floats. Everything else, including `yes`, `.inf`
/// and `.nan` (which JSON cannot hold), is a string. A decimal integer beyond 64 bits becomes the
/// nearest float.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        if let Ok(n) = s.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = s.parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    if let Some(hex) = s.strip_prefix("0x").filter(|t| digits(t, 16)) {
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            return Value::Number(n.into());
        }
    }
    if let Some(oct) = s.strip_prefix("0o").filter(|t| digits(t, 8)) {
        if let Ok(n) = i64::from_str_radix(oct, 8) {
            return Value::Number(n.into());
        }
    }
    let float_chars = unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if float_chars
        && unsigned.chars().any(|c| c.is_ascii_digit())
        && !unsigned.starts_with(['e', 'E'])
    {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(s.to_owned())
}
