//! Table-driven OTLP → X-Ray translation tests.
//!
//! Each file in `tests/translate/` is one case: OTLP/JSON `request` (an `ExportTraceServiceRequest`),
//! optional exporter `settings`, the `expected` X-Ray documents and the number of spans
//! `expected_dropped`, and the `rules` of `shared/reference/otlp-to-xray.md` it covers.
//! The request is decoded from OTLP/JSON, encoded to OTLP protobuf and decoded again, so the
//! translator sees exactly what the protobuf receivers hand it.
//! Invented ids (the `LOCAL_ROOT` service segment, exception ids) come from a counter:
//! `0000000000000001`, `0000000000000002`, and so on, in the order the translator asks for them.
//!
//! `XRB_BLESS=1` rewrites `expected` from the current output, for review with `git diff`.

use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::Deserialize;
use serde_json::Value;
use xray_collector::translate::{
    IdSource, TraceIdValidation, TranslateSettings, to_xray_documents_with_ids,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Which rules of `otlp-to-xray.md` the case covers.
    #[allow(dead_code)]
    rules: Vec<String>,
    #[serde(default)]
    settings: Settings,
    request: Value,
    expected: Vec<Value>,
    #[serde(default)]
    expected_dropped: usize,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    indexed_attributes: Vec<String>,
    #[serde(default)]
    index_all_attributes: bool,
    #[serde(default)]
    aws_log_groups: Vec<String>,
    /// When set, the trace-ID epoch window is checked against this time.
    #[serde(default)]
    validate_trace_ids_at: Option<i64>,
}

struct Counter(u64);

impl IdSource for Counter {
    fn next_id(&mut self) -> [u8; 8] {
        self.0 += 1;
        self.0.to_be_bytes()
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/translate");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    let request: ExportTraceServiceRequest = serde_json::from_value(case.request.clone())
        .map_err(|e| format!("bad OTLP/JSON request: {e}"))?;
    let wire = request.encode_to_vec();
    let request = ExportTraceServiceRequest::decode(wire.as_slice())
        .map_err(|e| format!("protobuf round trip: {e}"))?;
    let settings = TranslateSettings {
        indexed_attributes: case.settings.indexed_attributes.clone(),
        index_all_attributes: case.settings.index_all_attributes,
        log_groups: case.settings.aws_log_groups.clone(),
        trace_id_validation: match case.settings.validate_trace_ids_at {
            Some(now_unix_secs) => TraceIdValidation::Window { now_unix_secs },
            None => TraceIdValidation::Skip,
        },
    };
    let out = to_xray_documents_with_ids(&request.resource_spans, &settings, &mut Counter(0));
    let actual: Vec<Value> = out
        .documents
        .iter()
        .map(|doc| {
            let value: Value =
                serde_json::from_slice(&doc.json).expect("the translator emits JSON");
            assert_eq!(value["id"].as_str().unwrap_or(""), doc.id);
            assert_eq!(value["trace_id"].as_str().unwrap_or(""), doc.trace_id);
            value
        })
        .collect();

    if harness::bless() {
        let mut file: serde_json::Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| e.to_string())?;
        file.insert("expected".into(), Value::Array(actual));
        file.insert("expected_dropped".into(), out.dropped.len().into());
        let pretty = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        std::fs::write(path, pretty + "\n").map_err(|e| e.to_string())?;
        return Ok(());
    }

    let mut problems = Vec::new();
    if out.dropped.len() != case.expected_dropped {
        problems.push(format!(
            "dropped {} spans ({:?}), expected {}",
            out.dropped.len(),
            out.dropped,
            case.expected_dropped
        ));
    }
    if actual.len() != case.expected.len() {
        problems.push(format!(
            "{} documents, expected {}",
            actual.len(),
            case.expected.len()
        ));
    }
    for (idx, (got, want)) in actual.iter().zip(&case.expected).enumerate() {
        if got != want {
            problems.push(format!(
                "document {idx} differs\n  got:  {got}\n  want: {want}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn translation_cases() {
    let files = case_files();
    assert!(files.len() >= 10, "translation fixtures are missing");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_case(path)
                .err()
                .map(|e| format!("{}:\n{e}", path.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_document_is_a_json_object_with_required_fields() {
    // Independently of the fixtures' expectations: every output document has the fields X-Ray
    // requires for a separately sent segment or subsegment.
    for path in case_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let case: Case = serde_json::from_str(&text).unwrap();
        for doc in &case.expected {
            for field in ["name", "id", "start_time", "end_time", "trace_id"] {
                assert!(
                    doc.get(field).is_some(),
                    "{}: no {field} in {doc}",
                    path.display()
                );
            }
            if doc.get("type").and_then(Value::as_str) == Some("subsegment") {
                assert!(doc.get("parent_id").is_some(), "{}: {doc}", path.display());
            }
        }
    }
}
