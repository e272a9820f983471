//! Attribute access with the semantics of the collector's `pcommon.Value` accessors.
//!
//! The reference translator reads attributes through typed accessors that return a zero value when the
//! type does not match (`Str()` of an int is `""`).
//! These helpers do the same so that the translation rules can be written as they are specified.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Any};
use serde_json::{Map, Number, Value};

/// An attribute value that is absent from the protobuf message (`KeyValue.value` unset).
static EMPTY: AnyValue = AnyValue { value: None };

/// Attributes by key; when a key repeats, the first occurrence wins, as in `pcommon.Map.Get`.
///
/// A short list sorted by key: iteration is in key order (as a `BTreeMap`'s), and a lookup is a
/// scan comparing lengths first, which for the ten or twenty attributes of a span costs less than
/// a tree's ordered string comparisons; the translation looks up many keys a span does not have.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttrMap<'a> {
    entries: Vec<(&'a str, &'a AnyValue)>,
}

impl<'a> AttrMap<'a> {
    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| *k == key)
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&&'a AnyValue> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The stored key and value of `key`.
    pub(crate) fn get_key_value(&self, key: &str) -> Option<(&'a str, &'a AnyValue)> {
        self.entries.iter().find(|(k, _)| *k == key).copied()
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove(&mut self, key: &str) -> Option<&'a AnyValue> {
        let idx = self.position(key)?;
        Some(self.entries.remove(idx).1)
    }

    /// Adds `key` unless it is there already.
    pub(crate) fn insert_if_absent(&mut self, key: &'a str, value: &'a AnyValue) {
        if let Err(idx) = self.entries.binary_search_by(|(k, _)| (*k).cmp(key)) {
            self.entries.insert(idx, (key, value));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &'a AnyValue)> + '_ {
        self.entries.iter().copied()
    }

    /// The values in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &'a AnyValue> + '_ {
        self.entries.iter().map(|(_, v)| *v)
    }
}

impl<'a> IntoIterator for AttrMap<'a> {
    type Item = (&'a str, &'a AnyValue);
    type IntoIter = std::vec::IntoIter<(&'a str, &'a AnyValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, 'm> IntoIterator for &'m AttrMap<'a> {
    type Item = (&'a str, &'a AnyValue);
    type IntoIter = std::iter::Copied<std::slice::Iter<'m, (&'a str, &'a AnyValue)>>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().copied()
    }
}

/// Builds an [`AttrMap`] from a protobuf attribute list.
pub(crate) fn attr_map(attributes: &[KeyValue]) -> AttrMap<'_> {
    let mut entries: Vec<(&str, &AnyValue)> = attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap_or(&EMPTY)))
        .collect();
    // A stable sort keeps repeated keys in list order; `dedup_by` keeps the first of each.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.dedup_by(|later, first| later.0 == first.0);
    AttrMap { entries }
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
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// `AttrMap` behaves as the `BTreeMap` it replaced: the first of a repeated key wins,
        /// iteration is in key order, and removals and insertions of absent keys match.
        #[test]
        fn attr_map_behaves_as_a_first_wins_btree_map(
            list in prop::collection::vec((prop::sample::select(vec!["a", "b", "ab", "ba", "c", ""]), any::<i64>()), 0..12),
            ops in prop::collection::vec((any::<bool>(), prop::sample::select(vec!["a", "b", "ab", "x", ""]), any::<i64>()), 0..8),
        ) {
            let attributes: Vec<KeyValue> = list
                .iter()
                .map(|(key, n)| KeyValue {
                    key: (*key).to_owned(),
                    value: Some(AnyValue { value: Some(Any::IntValue(*n)) }),
                })
                .collect();
            let values: Vec<AnyValue> = ops
                .iter()
                .map(|(_, _, n)| AnyValue { value: Some(Any::IntValue(*n)) })
                .collect();
            let mut map = attr_map(&attributes);
            let mut reference: BTreeMap<&str, &AnyValue> = BTreeMap::new();
            for kv in &attributes {
                reference.entry(kv.key.as_str()).or_insert(kv.value.as_ref().unwrap());
            }
            for ((insert, key, _), value) in ops.iter().zip(&values) {
                if *insert {
                    map.insert_if_absent(key, value);
                    reference.entry(key).or_insert(value);
                } else {
                    prop_assert_eq!(map.remove(key), reference.remove(key));
                }
                prop_assert_eq!(map.get(key), reference.get(key));
                prop_assert_eq!(map.contains_key("ab"), reference.contains_key("ab"));
            }
            let entries: Vec<_> = map.iter().collect();
            let expected: Vec<_> = reference.into_iter().collect();
            prop_assert_eq!(entries, expected);
        }
    }

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
