//! The round-trip property shared by `from_xray.rs` and `prop_round_trip.rs`.
//!
//! X-Ray documents go through `from_xray::to_otlp`, then through the existing
//! `translate::to_xray_documents` with default settings. Every (sub)segment of the input, embedded
//! or not, must come back as exactly one document with the same id, trace id, parent id, name,
//! start and end time (to the microsecond) or in-progress state, `error`/`fault`/`throttle` flags
//! (absent meaning false), HTTP response status and annotations (the scalar ones, the only kind
//! X-Ray has); and no other document may appear.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use xray_collector::translate::TranslateSettings;
use xray_collector::translate::from_xray::FromXray;

/// What the round trip keeps of one (sub)segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub trace_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub start_micros: u64,
    /// `None` for an in-progress (sub)segment.
    pub end_micros: Option<u64>,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    pub http_status: Option<i64>,
    pub annotations: Map<String, Value>,
}

/// Seconds to whole microseconds, rounding to the nearest.
pub fn micros(seconds: f64) -> u64 {
    let whole = seconds.trunc();
    whole as u64 * 1_000_000 + ((seconds - whole) * 1e6).round() as u64
}

fn kept(doc: &Map<String, Value>, trace_id: &str, parent_id: Option<String>) -> Kept {
    let flag = |k: &str| doc.get(k).and_then(Value::as_bool).unwrap_or(false);
    let in_progress = doc.get("in_progress").and_then(Value::as_bool) == Some(true);
    let end = doc.get("end_time").and_then(Value::as_f64);
    Kept {
        trace_id: trace_id.to_string(),
        parent_id,
        name: doc["name"].as_str().unwrap_or_default().to_string(),
        start_micros: micros(doc["start_time"].as_f64().unwrap_or(-1.0)),
        end_micros: if in_progress && end.is_none() {
            None
        } else {
            end.map(micros)
        },
        error: flag("error"),
        fault: flag("fault"),
        throttle: flag("throttle"),
        http_status: doc
            .get("http")
            .and_then(|h| h.get("response"))
            .and_then(|r| r.get("status"))
            .and_then(Value::as_i64),
        // X-Ray annotations are strings, numbers and booleans; anything else is not one.
        annotations: doc
            .get("annotations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, v)| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Every (sub)segment of the input documents by id, embedded subsegments flattened with the
/// enclosing (sub)segment as parent and the enclosing trace id unless they have their own.
pub fn flatten_input(documents: &[Value]) -> BTreeMap<String, Kept> {
    fn walk(
        doc: &Map<String, Value>,
        trace_id: &str,
        parent: Option<String>,
        out: &mut BTreeMap<String, Kept>,
    ) {
        let trace_id = doc
            .get("trace_id")
            .and_then(Value::as_str)
            .unwrap_or(trace_id)
            .to_ascii_lowercase();
        let id = doc["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let previous = out.insert(id.clone(), kept(doc, &trace_id, parent));
        assert!(previous.is_none(), "duplicate id {id} in the input");
        for sub in doc
            .get("subsegments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(sub.as_object().unwrap(), &trace_id, Some(id.clone()), out);
        }
    }
    let mut out = BTreeMap::new();
    for doc in documents {
        let doc = doc.as_object().expect("documents are objects");
        let parent = doc
            .get("parent_id")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        walk(doc, "", parent, &mut out);
    }
    out
}

/// Runs the forward translation on `converted` and checks it against `documents`.
pub fn check(documents: &[Value], converted: &FromXray) -> Result<(), String> {
    if !converted.failed.is_empty() {
        return Err(format!("documents failed: {:?}", converted.failed));
    }
    let translation = xray_collector::translate::to_xray_documents(
        &converted.resource_spans,
        &TranslateSettings::default(),
    );
    if !translation.dropped.is_empty() {
        return Err(format!("spans dropped: {:?}", translation.dropped));
    }
    let mut output = BTreeMap::new();
    for doc in &translation.documents {
        let value: Value = serde_json::from_slice(&doc.json).map_err(|e| e.to_string())?;
        let doc = value.as_object().ok_or("not an object")?;
        if doc.contains_key("subsegments") {
            return Err(format!("the exporter nested subsegments: {value}"));
        }
        let parent = doc
            .get("parent_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let trace_id = doc["trace_id"].as_str().unwrap_or_default();
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        if output
            .insert(id.clone(), kept(doc, trace_id, parent))
            .is_some()
        {
            return Err(format!("id {id} came back twice"));
        }
    }
    let input = flatten_input(documents);
    let mut problems = Vec::new();
    for (id, want) in &input {
        match output.get(id) {
            None => problems.push(format!("{id}: did not come back")),
            Some(got) if got != want => {
                problems.push(format!("{id}:\n  got:  {got:?}\n  want: {want:?}"))
            }
            Some(_) => {}
        }
    }
    for id in output.keys().filter(|id| !input.contains_key(*id)) {
        problems.push(format!("{id}: came back but was not sent"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
