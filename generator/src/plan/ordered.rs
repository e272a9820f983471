//! `Ordered`: a JSON value whose object keys keep the order they were built in.
//!
//! The collector's `spec` is built once, as an `Ordered`, and emitted by every target from that one
//! value: the Kubernetes target writes it as YAML in its build order (the order of the Kubernetes
//! API reference, `mode` and `image` first, `config` last), the Terraform target as HCL and anything
//! that needs JSON through `to_json`, whose objects are `serde_json` maps and so have sorted keys.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    /// Any JSON value; its own objects (a leaf such as the collector configuration) have sorted keys.
    Json(Value),
    /// A list of ordered values.
    List(Vec<Ordered>),
    /// An object whose entries keep their order.
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// An empty ordered object.
    pub fn object() -> Ordered {
        Ordered::Object(Vec::new())
    }

    /// Appends `key: value` to an object, replacing an earlier entry of that key in place. A no-op
    /// on anything but an object.
    pub fn insert(&mut self, key: &str, value: impl Into<Ordered>) {
        if let Ordered::Object(entries) = self {
            let value = value.into();
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key.to_owned(), value)),
            }
        }
    }

    /// The entry `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as plain JSON (objects with sorted keys).
    pub fn to_json(&self) -> Value {
        match self {
            Ordered::Json(value) => value.clone(),
            Ordered::List(items) => Value::Array(items.iter().map(Ordered::to_json).collect()),
            Ordered::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Ordered {
    fn from(value: Value) -> Self {
        Ordered::Json(value)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Json(value) => value.serialize(serializer),
            Ordered::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_keep_their_order_until_they_become_json() {
        let mut it = Ordered::object();
        it.insert("b", json!(1));
        it.insert("a", Ordered::List(vec![json!({"y": 1, "x": 2}).into()]));
        it.insert("b", json!(3));
        assert_eq!(
            serde_json::to_string(&it).unwrap(),
            r#"{"b":3,"a":[{"x":2,"y":1}]}"#
        );
        assert_eq!(it.to_json(), json!({"a": [{"x": 2, "y": 1}], "b": 3}));
        assert_eq!(it.get("b"), Some(&Ordered::Json(json!(3))));
        assert_eq!(it.get("c"), None);
    }
}
