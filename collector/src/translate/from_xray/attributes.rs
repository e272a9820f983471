//! Building OTLP attribute lists, and reading document fields leniently.
//!
//! A field of the wrong JSON type is treated as absent: the reference receiver rejects the whole
//! document in that case (Go's `json.Unmarshal` into typed structs), which would lose every
//! subsegment for one odd optional field. Required fields are checked in `document.rs`.

use super::json::{Json, Object};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Any,
};

/// An attribute list in insertion order where putting an existing key replaces its value in
/// place, as `pcommon.Map.Put*` does.
#[derive(Debug, Default)]
pub(super) struct Attrs(Vec<KeyValue>);

impl Attrs {
    /// An empty list with room for `capacity` attributes.
    pub(super) fn with_capacity(capacity: usize) -> Attrs {
        Attrs(Vec::with_capacity(capacity))
    }

    /// Puts `value` under `key`.
    pub(super) fn put(&mut self, key: &str, value: Any) {
        let value = Some(AnyValue { value: Some(value) });
        match self.0.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = value,
            None => self.0.push(KeyValue {
                key: key.to_string(),
                value,
            }),
        }
    }

    /// Appends `value` under `key`, which must not be in the list yet: for the fixed keys of
    /// a span or event, where a search for an existing entry would only cost time.
    pub(super) fn push(&mut self, key: &str, value: Any) {
        debug_assert!(
            self.0.iter().all(|kv| kv.key != key),
            "{key} is already set"
        );
        self.0.push(KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
        });
    }

    /// Appends a string under a new key (as [`Attrs::push`]).
    pub(super) fn put_str(&mut self, key: &str, value: &str) {
        self.push(key, Any::StringValue(value.to_string()));
    }

    /// Appends a string under a new key when there is one.
    pub(super) fn put_opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.put_str(key, value);
        }
    }

    /// Appends a boolean under a new key when there is one.
    pub(super) fn put_opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.push(key, Any::BoolValue(value));
        }
    }

    /// Puts an integer when there is one.
    pub(super) fn put_opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.push(key, Any::IntValue(value));
        }
    }

    /// The attribute list.
    pub(super) fn into_vec(self) -> Vec<KeyValue> {
        self.0
    }
}

/// The object under `key`.
pub(super) fn object<'a, 'j>(obj: &'a Object<'j>, key: &str) -> Option<&'a Object<'j>> {
    obj.get(key).and_then(Json::as_object)
}

/// The string under `key`.
pub(super) fn string<'a>(obj: &'a Object<'_>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Json::as_str)
}

/// The boolean under `key`.
pub(super) fn boolean(obj: &Object<'_>, key: &str) -> Option<bool> {
    obj.get(key).and_then(Json::as_bool)
}

/// The integer under `key`: a JSON integer that fits in an `i64`, or a float without fraction
/// (some SDKs write `200.0`).
pub(super) fn integer(obj: &Object<'_>, key: &str) -> Option<i64> {
    let value = obj.get(key)?;
    value.as_i64().or_else(|| {
        let f = value.as_f64()?;
        // `i64::MAX as f64` rounds up to 2^63, which is out of range, hence the strict bound.
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

/// The array under `key`.
pub(super) fn array<'a, 'j>(obj: &'a Object<'j>, key: &str) -> &'a [Json<'j>] {
    obj.get(key).and_then(Json::as_array).unwrap_or(&[])
}

/// A scalar annotation value as an attribute value: strings, booleans, integers that fit in an
/// `i64` (as `IntValue`) and other numbers (as `DoubleValue`). Anything else is `None`.
///
/// Contrib decodes every JSON number as a float64, so `5` comes back as `5.0`; keeping integers
/// integral lets the round trip reproduce the annotation exactly.
pub(super) fn scalar(value: &Json<'_>) -> Option<Any> {
    match value {
        Json::String(s) => Some(Any::StringValue(s.to_string())),
        Json::Bool(b) => Some(Any::BoolValue(*b)),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) => Any::IntValue(i),
            None => Any::DoubleValue(n.as_f64()?),
        }),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

/// Any JSON value as an attribute value: objects become key-value lists (sorted by key, each
/// key once) and arrays become arrays; `null` is `None` (and is left out of lists and arrays).
pub(super) fn any(value: &Json<'_>) -> Option<Any> {
    match value {
        Json::Array(items) => Some(Any::ArrayValue(ArrayValue {
            values: items
                .iter()
                .filter_map(any)
                .map(|v| AnyValue { value: Some(v) })
                .collect(),
        })),
        Json::Object(map) => Some(Any::KvlistValue(KeyValueList {
            values: map
                .sorted()
                .into_iter()
                .filter_map(|(k, v)| {
                    any(v).map(|v| KeyValue {
                        key: k.to_string(),
                        value: Some(AnyValue { value: Some(v) }),
                    })
                })
                .collect(),
        })),
        other => scalar(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Runs `check` on the tree of `value`'s JSON text.
    fn with_json<T>(value: Value, check: impl FnOnce(&Json<'_>) -> T) -> T {
        let text = value.to_string();
        check(&Json::parse(text.as_bytes()).unwrap())
    }

    #[test]
    fn put_replaces_in_place() {
        let mut attrs = Attrs::default();
        attrs.put_str("a", "1");
        attrs.put_str("b", "2");
        attrs.put("a", Any::StringValue("3".into()));
        let list = attrs.into_vec();
        assert_eq!(
            list.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            list[0].value.as_ref().unwrap().value,
            Some(Any::StringValue("3".into()))
        );
    }

    #[test]
    fn integers_stay_integral_and_big_numbers_become_doubles() {
        let scalar = |v: Value| with_json(v, scalar);
        assert_eq!(scalar(json!(5)), Some(Any::IntValue(5)));
        assert_eq!(scalar(json!(-5)), Some(Any::IntValue(-5)));
        assert_eq!(scalar(json!(2.5)), Some(Any::DoubleValue(2.5)));
        assert_eq!(
            scalar(json!(u64::MAX)),
            Some(Any::DoubleValue(u64::MAX as f64))
        );
        assert_eq!(scalar(json!(null)), None);
        assert_eq!(scalar(json!([1])), None);
    }

    #[test]
    fn integer_accepts_integral_floats_only() {
        let obj = json!({"a": 200, "b": 200.0, "c": 200.5, "d": "200", "e": 1e300});
        with_json(obj, |obj| {
            let obj = obj.as_object().unwrap();
            assert_eq!(integer(obj, "a"), Some(200));
            assert_eq!(integer(obj, "b"), Some(200));
            assert_eq!(integer(obj, "c"), None);
            assert_eq!(integer(obj, "d"), None);
            assert_eq!(integer(obj, "e"), None);
        });
    }
}
