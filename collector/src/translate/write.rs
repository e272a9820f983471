//! The JSON writer the translation writes X-Ray documents with: compact JSON straight into a byte
//! buffer, strings escaped as they are written, numbers formatted as `serde_json` formats them
//! (so a document is byte-identical to what serializing a `serde_json::Value` of it gives).
//!
//! Objects are written key by key through [`Obj`]; the callers write keys in ascending byte order,
//! the order of `serde_json::Map` (a `BTreeMap` in this build), so documents keep the key order
//! they had when they were built as trees. Maps whose keys come from the input (annotations,
//! metadata, attribute maps) are sorted with [`sort_dedup`] first.

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value as Any};
use serde_json::ser::{CompactFormatter, Formatter};

/// Writes `s` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    string_contents(out, s);
    out.push(b'"');
}

/// Writes the escaped text of `s` without quotes: `"` and `\\` escaped with a backslash, the
/// control characters with their short escape (`\\n`, `\\t`, ...) or `\\u00xx`, everything else
/// (DEL and non-ASCII included) as it is, which is what `serde_json` writes (`crate::json_escape`).
pub(crate) fn string_contents(out: &mut Vec<u8>, s: &str) {
    crate::json_escape::escape_into(s.as_bytes(), out);
}

/// Writes an integer.
pub(crate) fn int(out: &mut Vec<u8>, n: i64) {
    let _ = CompactFormatter.write_i64(out, n);
}

/// Writes a double as `serde_json` writes a `Number` made from it: the shortest text that reads
/// back as the same double (`ryu`). The caller handles non-finite values.
pub(crate) fn finite_f64(out: &mut Vec<u8>, d: f64) {
    debug_assert!(d.is_finite());
    let _ = CompactFormatter.write_f64(out, d);
}

/// Writes `true` or `false`.
pub(crate) fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Writes `null`.
pub(crate) fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// Writes `s` as a string, or `null` when it is empty.
pub(crate) fn string_or_null(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        null(out);
    } else {
        string(out, s);
    }
}

/// Writes lowercase hexadecimal of `bytes` as a JSON string.
pub(crate) fn hex_string(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    out.push(b'"');
}

/// Writes a `serde_json` value or map (metadata parsed from an `aws.xray.metadata.*` attribute).
pub(crate) fn value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Serializing a `serde_json` value into a `Vec` never fails.
    let _ = serde_json::to_writer(out, v);
}

/// An attribute value as plain JSON, as [`super::attributes::raw_json`] gives it: maps (keys
/// sorted, the first of a repeated key kept) and arrays kept, bytes as standard base64, a
/// non-finite double as its text, an unset value as `null`.
pub(crate) fn any(out: &mut Vec<u8>, value: &AnyValue) {
    match &value.value {
        None => null(out),
        Some(Any::StringValue(s)) => string(out, s),
        Some(Any::IntValue(n)) => int(out, *n),
        Some(Any::DoubleValue(d)) if d.is_finite() => finite_f64(out, *d),
        Some(Any::DoubleValue(d)) => string(out, &d.to_string()),
        Some(Any::BoolValue(b)) => boolean(out, *b),
        Some(Any::BytesValue(bytes)) => string(out, &super::attributes::base64(bytes)),
        Some(Any::ArrayValue(array)) => {
            out.push(b'[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                any(out, v);
            }
            out.push(b']');
        }
        Some(Any::KvlistValue(list)) => {
            let mut entries: Vec<(&str, Option<&AnyValue>)> = list
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref()))
                .collect();
            // `raw_json` keeps the first value of a repeated key.
            entries.reverse();
            sort_dedup(&mut entries);
            let mut obj = Obj::begin(out);
            for (key, v) in entries {
                let out = obj.dynamic_key(key);
                match v {
                    Some(v) => any(out, v),
                    None => null(out),
                }
            }
            obj.end();
        }
    }
}

/// Sorts `(key, value)` entries by key and keeps, of each repeated key, the entry that came last,
/// as inserting them one after the other into a map does.
pub(crate) fn sort_dedup<K: Ord, V>(entries: &mut Vec<(K, V)>) {
    if entries.len() < 2 {
        return;
    }
    // A stable sort keeps insertion order among equal keys; the last of each run wins. Entries
    // at and after `read` are untouched when `read` is compared with `read + 1`.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut write = 0;
    for read in 0..entries.len() {
        let last_of_run = read + 1 == entries.len() || entries[read + 1].0 != entries[read].0;
        if last_of_run {
            entries.swap(write, read);
            write += 1;
        }
    }
    entries.truncate(write);
}

/// A JSON object being written: `{`, then `"key":value` pairs separated by commas, then `}`.
pub(crate) struct Obj<'b> {
    out: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Obj<'b> {
    /// Writes `{`.
    pub(crate) fn begin(out: &'b mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes the separator and `"key":` for a key known not to need escaping; the value follows
    /// in the returned buffer.
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Writes the separator and an escaped `"key":`.
    pub(crate) fn dynamic_key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// `"key":"value"`.
    pub(crate) fn str(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        string(out, value);
    }

    /// `"key":"value"` when `value` is not empty.
    pub(crate) fn non_empty_str(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.str(key, value);
        }
    }

    /// `"key":true` or `false`.
    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        let out = self.key(key);
        boolean(out, value);
    }

    /// Writes `}`.
    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in ".*", t in "[ -~\u{0}-\u{1f}]{0,40}") {
            for s in [&s, &t] {
                let mut out = Vec::new();
                string(&mut out, s);
                proptest::prop_assert_eq!(out, serde_json::to_vec(s).unwrap());
            }
        }
    }

    #[test]
    fn sort_dedup_keeps_the_last_of_each_key_in_key_order() {
        let mut entries = vec![("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5), ("b", 6)];
        sort_dedup(&mut entries);
        assert_eq!(entries, [("a", 5), ("b", 6), ("c", 4)]);
        let mut one = vec![("x", 1)];
        sort_dedup(&mut one);
        assert_eq!(one, [("x", 1)]);
    }

    #[test]
    fn strings_and_numbers_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "plain",
            "quote\" back\\slash / slash",
            "ctl\u{0}\u{1}\u{8}\u{b}\u{c}\r\n\t\u{1f} end",
            "é ☃ 𝄞",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for d in [
            0.0,
            -0.0,
            1.5,
            1e21,
            1e-7,
            1_700_000_000.750_000_2,
            f64::MAX,
        ] {
            let mut out = Vec::new();
            finite_f64(&mut out, d);
            assert_eq!(out, serde_json::to_vec(&d).unwrap(), "{d}");
        }
        for n in [0, -1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            int(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
