//! A JSON tree that borrows from the document bytes, for reading X-Ray documents cheaply.
//!
//! `serde_json::Value` allocates a `String` for every key and every string value and a B-tree
//! for every object; this tree borrows keys and strings from the input (allocating only those
//! with escapes) and keeps an object's members in one vector, in document order. Lookups and
//! sorted iteration reproduce `Value`'s map semantics exactly: a repeated key means its last
//! value, and a sorted walk visits each key once, in byte order. Numbers are kept as
//! [`serde_json::Number`], of the same kind and value as in a `Value`, so every number
//! converts and re-serializes exactly as it did through `Value`.
//!
//! Documents are parsed by the hand-written parser in `fast.rs` where it can, and by
//! `serde_json` (through the visitor below) otherwise; the differential test at the end of this
//! file checks that both give the same trees and errors.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Number;

/// A JSON value borrowing its strings from the document.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` parsed it.
    Number(Number),
    /// A string, borrowed unless it had escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// An object's members in document order, repeated keys included.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Json<'a> {
    /// Parses a whole document, with `serde_json`'s syntax, limits and error messages.
    ///
    /// Valid UTF-8 (all the receiver hands on) is checked once here and parsed as `&str`, which
    /// spares `serde_json` checking each string again; other bytes take `from_slice`, for its
    /// error message.
    ///
    /// The tree comes from [`super::fast`] when that parser can take the text, and from
    /// `serde_json` (through [`Json::parse_serde`]) otherwise, errors included.
    pub(super) fn parse(bytes: &'a [u8]) -> serde_json::Result<Json<'a>> {
        match std::str::from_utf8(bytes) {
            Ok(text) => match super::fast::parse(text) {
                Some(tree) => Ok(tree),
                None => serde_json::from_str(text),
            },
            Err(_) => serde_json::from_slice(bytes),
        }
    }

    /// Parses a whole document with `serde_json` only: the reference [`Json::parse`] is
    /// tested against.
    #[cfg(test)]
    pub(super) fn parse_serde(bytes: &'a [u8]) -> serde_json::Result<Json<'a>> {
        match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        }
    }

    /// The object, if this is one.
    pub(super) fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub(super) fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub(super) fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The number as an `i64`, as `Value::as_i64`.
    pub(super) fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as an `f64`, as `Value::as_f64`.
    pub(super) fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub(super) fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl<'a> Object<'a> {
    /// An object of `members`, in document order.
    pub(super) fn new(members: Vec<(Cow<'a, str>, Json<'a>)>) -> Object<'a> {
        Object(members)
    }

    /// The value under `key`; the last one when the key is repeated, as in a `Value` map.
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// The members sorted by key (byte order), each key once with its last value: the order
    /// and contents of a `Value` map.
    pub(super) fn sorted(&self) -> Vec<(&str, &Json<'a>)> {
        let mut members: Vec<(&str, &Json<'a>)> =
            self.0.iter().map(|(k, v)| (k.as_ref(), v)).collect();
        // A stable sort keeps repeated keys in document order, so the last of a run is the last
        // in the document.
        members.sort_by(|a, b| a.0.cmp(b.0));
        members.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                kept.1 = later.1;
            }
            repeated
        });
        members
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Json`] from the parser's calls, as `Value`'s visitor does.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json<'de>, E> {
        // `Value` turns a non-finite float into `null`; so does this.
        Ok(Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(value)))
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(Object(members)))
    }
}

/// An object key, borrowed unless it had escapes (serde's own `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Builds a [`Key`].
struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(value)))
    }
}

/// Serializes as the equivalent `Value` does: objects with sorted keys, each once.
impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(object) => {
                let members = object.sorted();
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every probe parses to a tree that serializes exactly as the `Value` of the same bytes.
    #[test]
    fn serializes_like_value() {
        let probes: &[&str] = &[
            r#"{"b":1,"a":[true,null,2.50,-3,1e3,18446744073709551615,-9223372036854775808]}"#,
            r#"{"k":1,"k":{"z":"\u00e9\n","y":"x"},"a":"\"q\"","k":[{}]}"#,
            r#"{"x":{"x":1,"x":2},"":0,"\u0041":"esc","A":"plain"}"#,
            r#"[1.0,0.1,1.7976931348623157e308,5e-324,123456789012345678901234567890]"#,
            r#""just a string""#,
        ];
        for probe in probes {
            let ours = serde_json::to_string(&Json::parse(probe.as_bytes()).unwrap()).unwrap();
            let value: Value = serde_json::from_str(probe).unwrap();
            assert_eq!(ours, serde_json::to_string(&value).unwrap(), "{probe}");
        }
    }

    /// `Json::parse` gives what `serde_json` alone gives: the same tree (compared with its
    /// debug text too, which tells `0.0` from `-0.0`) or the same error.
    fn assert_parses_like_serde(bytes: &[u8]) {
        let ours = Json::parse(bytes).map_err(|e| e.to_string());
        let reference = Json::parse_serde(bytes).map_err(|e| e.to_string());
        assert_eq!(ours, reference, "{}", String::from_utf8_lossy(bytes));
        assert_eq!(
            format!("{ours:?}"),
            format!("{reference:?}"),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn fast_parser_agrees_on_edge_cases() {
        let probes: &[&str] = &[
            "0",
            "-0",
            "-0.0",
            "1e400",
            "-1e400",
            "1e-400",
            "0e999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "2.2250738585072011e-308",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "-",
            r#""\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83dx""#,
            r#""\u00e9\/\b\f\n\r\t\"\\""#,
            r#""\x""#,
            "\"tab\there\"",
            r#"{"a":1,"a":2}"#,
            r#"{"a" : [ 1 , { } , [ ] , "" ] }"#,
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a":1 "b":2}"#,
            "  {}  ",
            "{} {}",
            "tru",
            "nulll",
            "",
        ];
        for probe in probes {
            assert_parses_like_serde(probe.as_bytes());
        }
        // The fast parser takes ordinary documents itself (else the comparisons above would
        // only compare `serde_json` with itself).
        let ordinary = r#"{"name":"a\"b","id":"0000000000000001","start_time":1700000000.5,
            "http":{"response":{"status":200}},"sub":[-1,true,null,"\u00e9\ud83d\ude00"]}"#;
        assert!(super::super::fast::parse(ordinary).is_some());
        // Each kind of byte that ends a plain run, at every offset in and around an 8-byte word.
        for special in [
            "\\\"", "\\n", "\\u0041", "\u{1}", "\u{1f}", "\t", "\u{7f}", "é", "\"",
        ] {
            for offset in 0..20 {
                let text = format!("\"{}{special}{}\"", "a".repeat(offset), "b".repeat(20));
                assert_parses_like_serde(text.as_bytes());
            }
        }
        assert_parses_like_serde(ordinary.as_bytes());
        for depth in [98, 99, 100, 101, 127, 128, 129] {
            let nested = "[".repeat(depth) + &"]".repeat(depth);
            assert_parses_like_serde(nested.as_bytes());
            let nested = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
            assert_parses_like_serde(nested.as_bytes());
        }
    }

    mod differential {
        use super::assert_parses_like_serde;
        use proptest::prelude::*;

        /// JSON-ish text: valid JSON mostly, with odd numbers, escapes, whitespace and some
        /// invalid pieces (raw tabs, bad escapes, lone surrogates, leading zeros).
        fn text() -> impl Strategy<Value = String> {
            let ws = "[ \t\n\r]{0,2}";
            let number = "-?(0|[1-9][0-9]{0,21}|0[0-9])(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?";
            let string = "\"([a-z é☃𝄞\t]|\\\\[\"\\\\/bfnrtx]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}\\\\u[dD][c-fC-F][0-9a-f]{2}){0,24}\"";
            let leaf = prop_oneof![
                Just("null".to_string()),
                Just("true".to_string()),
                Just("false".to_string()),
                number,
                string,
            ];
            leaf.prop_recursive(5, 48, 6, move |inner| {
                prop_oneof![
                    (prop::collection::vec((inner.clone(), ws, ws), 0..6)).prop_map(|items| {
                        let items: Vec<String> = items
                            .into_iter()
                            .map(|(v, a, b)| format!("{a}{v}{b}"))
                            .collect();
                        format!("[{}]", items.join(","))
                    }),
                    (prop::collection::vec(("\"[a-c\\\\u0]{0,3}\"", inner, ws), 0..6)).prop_map(
                        |members| {
                            let members: Vec<String> = members
                                .into_iter()
                                .map(|(k, v, w)| format!("{k}{w}:{w}{v}"))
                                .collect();
                            format!("{{{}}}", members.join(","))
                        }
                    ),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn parses_like_serde_json(text in text()) {
                assert_parses_like_serde(text.as_bytes());
            }

            #[test]
            fn damaged_text_parses_like_serde_json(
                text in text(),
                cut in any::<prop::sample::Index>(),
                at in any::<prop::sample::Index>(),
                byte in prop::sample::select(b"\"\\{}[],:0-e. \x01\xff".to_vec()),
            ) {
                let bytes = text.as_bytes();
                let mut damaged = bytes.to_vec();
                damaged.insert(at.index(bytes.len() + 1), byte);
                assert_parses_like_serde(&damaged);
                assert_parses_like_serde(&bytes[..cut.index(bytes.len() + 1)]);
            }
        }
    }

    #[test]
    fn repeated_keys_mean_the_last_value() {
        let doc = Json::parse(br#"{"a":1,"b":2,"a":"three"}"#).unwrap();
        let object = doc.as_object().unwrap();
        assert_eq!(object.get("a").and_then(Json::as_str), Some("three"));
        let keys: Vec<_> = object
            .sorted()
            .into_iter()
            .map(|(k, v)| (k, v.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                ("a", Json::String("three".into())),
                ("b", Json::Number(2.into()))
            ]
        );
    }

    #[test]
    fn errors_are_serde_jsons() {
        let probes: &[&[u8]] = &[
            b"{\"a\":",
            b"{\"a\":1} x",
            b"[1,]",
            b"{1:2}",
            b"",
            b"nul",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"caf\xc3",
            b"{\"a\xc3\xa9\":1,}",
        ];
        for probe in probes {
            let ours = Json::parse(probe).unwrap_err().to_string();
            let value = serde_json::from_slice::<Value>(probe)
                .unwrap_err()
                .to_string();
            assert_eq!(ours, value, "{}", String::from_utf8_lossy(probe));
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            Json::parse(deep.as_bytes()).unwrap_err().to_string(),
            serde_json::from_str::<Value>(&deep)
                .unwrap_err()
                .to_string()
        );
    }
}
