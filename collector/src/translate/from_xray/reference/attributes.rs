//! Building OTLP attribute lists, and reading document fields leniently.
//!
//! A field of the wrong JSON type is treated as absent: the reference receiver rejects the whole
//! document in that case (Go's `json.Unmarshal` into typed structs), which would lose every
//! subsegment for one odd optional field. Required fields are checked in `document.rs`.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Any,
};
use serde_json::{Map, Value};

/// An attribute list in insertion order where putting an existing key replaces its value in
/// place, as `pcommon.Map.Put*` does.
#[derive(Debug, Default)]
pub(super) struct Attrs(Vec<KeyValue>);

impl Attrs {
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

    /// Puts a string.
    pub(super) fn put_str(&mut self, key: &str, value: &str) {
        self.put(key, Any::StringValue(value.to_string()));
    }

    /// Puts a string when there is one.
    pub(super) fn put_opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.put_str(key, value);
        }
    }

    /// Puts a boolean when there is one.
    pub(super) fn put_opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.put(key, Any::BoolValue(value));
        }
    }

    /// Puts an integer when there is one.
    pub(super) fn put_opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.put(key, Any::IntValue(value));
        }
    }

    /// Appends `value` to the string array under `key`, creating it when absent
    /// (contrib's `addStringSlice`).
    pub(super) fn append_str(&mut self, key: &str, value: &str) {
        let item = AnyValue {
            value: Some(Any::StringValue(value.to_string())),
        };
        let existing = self.0.iter_mut().find(|kv| kv.key == key).and_then(|kv| {
            match kv.value.as_mut().and_then(|v| v.value.as_mut()) {
                Some(Any::ArrayValue(array)) => Some(array),
                _ => None,
            }
        });
        match existing {
            Some(array) => array.values.push(item),
            None => self.put(key, Any::ArrayValue(ArrayValue { values: vec![item] })),
        }
    }

    /// The value under `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Any> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// The attribute list.
    pub(super) fn into_vec(self) -> Vec<KeyValue> {
        self.0
    }
}

/// The object under `key`.
pub(super) fn object<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    obj.get(key).and_then(Value::as_object)
}

/// The string under `key`.
pub(super) fn string<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// The boolean under `key`.
pub(super) fn boolean(obj: &Map<String, Value>, key: &str) -> Option<bool> {
    obj.get(key).and_then(Value::as_bool)
}

/// The integer under `key`: a JSON integer that fits in an `i64`, or a float without fraction
/// (some SDKs write `200.0`).
pub(super) fn integer(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    let value = obj.get(key)?;
    value.as_i64().or_else(|| {
        let f = value.as_f64()?;
        // `i64::MAX as f64` rounds up to 2^63, which is out of range, hence the strict bound.
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

/// The array under `key`.
pub(super) fn array<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    obj.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A scalar annotation value as an attribute value: strings, booleans, integers that fit in an
/// `i64` (as `IntValue`) and other numbers (as `DoubleValue`). Anything else is `None`.
///
/// Contrib decodes every JSON number as a float64, so `5` comes back as `5.0`; keeping integers
/// integral lets the round trip reproduce the annotation exactly.
pub(super) fn scalar(value: &Value) -> Option<Any> {
    match value {
        Value::String(s) => Some(Any::StringValue(s.clone())),
        Value::Bool(b) => Some(Any::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Any::IntValue(i),
            None => Any::DoubleValue(n.as_f64()?),
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Any JSON value as an attribute value: objects become key-value lists and arrays become
/// arrays; `null` is `None` (and is left out of lists and arrays).
pub(super) fn any(value: &Value) -> Option<Any> {
    match value {
        Value::Array(items) => Some(Any::ArrayValue(ArrayValue {
            values: items
                .iter()
                .filter_map(any)
                .map(|v| AnyValue { value: Some(v) })
                .collect(),
        })),
        Value::Object(map) => Some(Any::KvlistValue(KeyValueList {
            values: map
                .iter()
                .filter_map(|(k, v)| {
                    any(v).map(|v| KeyValue {
                        key: k.clone(),
                        value: Some(AnyValue { value: Some(v) }),
                    })
                })
                .collect(),
        })),
        other => scalar(other),
    }
}
