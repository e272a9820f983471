//! Attribute access with the semantics of the collector's `pcommon.Value` accessors.
//!
//! The reference translator reads attributes through typed accessors that return a zero value when the
//! type does not match (`Str()` of an int is `""`).
//! These helpers do the same so that the translation rules can be written as they are specified.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use serde_json::{Map, Number, Value};

/// An attribute value that is absent from the protobuf message (`KeyValue.value` unset).
static EMPTY: AnyValue = AnyValue { value: None };

/// Attributes by key; when a key repeats, the first occurrence wins, as in `pcommon.Map.Get`.
pub(crate) type AttrMap<'a> = BTreeMap<&'a str, &'a AnyValue>;

/// Builds an [`AttrMap`] from a protobuf attribute list.
pub(crate) fn attr_map(attributes: &[KeyValue]) -> AttrMap<'_> {
    let mut map = AttrMap::new();
    for kv in attributes {
        map.entry(kv.key.as_str())
            .or_insert_with(|| kv.value.as_ref().unwrap_or(&EMPTY));
    }
    map
}

/// The string value, or `""` for any other type (`pcommon.Value.Str()`).
pub(crate) fn str_of(value: &AnyValue) -> &str {
    match &value.value {
        Some(Any::StringValue(s)) => s,
        _ => "",
    }
}

/// The string value of attribute `key`, or `""` when it is absent or not a string.
pub(crate) fn get_str<'a>(attrs: &AttrMap<'a>, key: &str) -> &'a str {
    attrs.get(key).map(|v| str_of(v)).unwrap_or("")
}

/// The first non-empty string among `keys`.
pub(crate) fn first_str<'a>(attrs: &AttrMap<'a>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .map(|k| get_str(attrs, k))
        .find(|s| !s.is_empty())
}

/// The integer value; a decimal string is accepted too, because some instrumentations send status
/// codes and ports as strings.
pub(crate) fn int_of(value: &AnyValue) -> Option<i64> {
    match &value.value {
        Some(Any::IntValue(n)) => Some(*n),
        Some(Any::StringValue(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The value rendered as text, as `pcommon.Value.AsString()` does for scalars.
pub(crate) fn as_string(value: &AnyValue) -> String {
    match &value.value {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(n)) => n.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(other) => raw_json(&AnyValue {
            value: Some(other.clone()),
        })
        .map(|v| v.to_string())
        .unwrap_or_default(),
        None => String::new(),
    }
}

/// The value as plain JSON, keeping maps and arrays (`pcommon.Value.AsRaw()`).
///
/// An unset value gives `None`; bytes become standard base64, as Go's `encoding/json` writes a
/// `[]byte`; a non-finite double, which JSON cannot carry, becomes its text (`"NaN"`, `"inf"`).
pub(crate) fn raw_json(value: &AnyValue) -> Option<Value> {
    Some(match value.value.as_ref()? {
        Any::StringValue(s) => Value::String(s.clone()),
        Any::IntValue(n) => Value::from(*n),
        Any::DoubleValue(d) => Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Any::BoolValue(b) => Value::Bool(*b),
        Any::BytesValue(bytes) => Value::String(base64(bytes)),
        Any::ArrayValue(array) => Value::Array(
            array
                .values
                .iter()
                .map(|v| raw_json(v).unwrap_or(Value::Null))
                .collect(),
        ),
        Any::KvlistValue(list) => {
            let mut map = Map::new();
            for kv in &list.values {
                let v = kv.value.as_ref().and_then(raw_json).unwrap_or(Value::Null);
                map.entry(kv.key.clone()).or_insert(v);
            }
            Value::Object(map)
        }
    })
}

/// The elements of an array value, or `None` for any other type.
pub(crate) fn array_of(value: &AnyValue) -> Option<&[AnyValue]> {
    match &value.value {
        Some(Any::ArrayValue(array)) => Some(&array.values),
        _ => None,
    }
}

/// Lowercase hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
