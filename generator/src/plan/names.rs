//! Name helpers of the plan.

use serde::Serialize;
use serde_json::Value;

/// The serde name of a unit enum variant.
pub(super) fn enum_string<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A string cut to at most `max` characters, without a trailing `-`.
pub(super) fn cut(s: &str, max: usize) -> String {
    let it: String = s.chars().take(max).collect();
    it.trim_end_matches('-').to_owned()
}
