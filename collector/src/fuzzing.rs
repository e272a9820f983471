//! What each cargo-fuzz target of `collector/fuzz` checks for one input, kept here so that two
//! runners share it: the fuzz targets (nightly, `tests/fuzz/run.sh`, which CI runs after the test
//! command) and the stable test suite, which replays every seed and regression input of
//! `collector/fuzz/{corpus,regressions}/<target>/` on each run (`tests/it/fuzz_inputs.rs`).
//! Each check panics on a violated property; an error returned for bad input is not one.

use crate::traces::{Segment, SegmentIds};
use crate::translate::from_xray::to_otlp;
use crate::translate::{TranslateSettings, to_xray_documents};

/// `config`: any UTF-8 text either loads or fails with an error that names the file.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = crate::config::load_str(text, "fuzz.yaml", &|_| None) {
            assert!(e.to_string().contains("fuzz.yaml"), "{e}");
        }
    }
}

/// `datagram`: a datagram that parses keeps its body, the bytes after the first newline, byte for
/// byte.
pub fn datagram(data: &[u8]) {
    let datagram = bytes::Bytes::copy_from_slice(data);
    if let Ok(segment) =
        crate::receivers::awsxray::datagram::parse(&datagram, std::time::Instant::now())
    {
        let newline = data.iter().position(|&b| b == b'\n').unwrap_or(0);
        assert_eq!(&segment.body[..], &data[newline + 1..]);
    }
}

/// `from_xray`: documents (separated by `0xFF` bytes) convert to OTLP with every failure named,
/// and what converts translates back to valid JSON.
pub fn from_xray(data: &[u8]) {
    let ids = SegmentIds::new("0000000000000001", "").expect("valid ids");
    let received_at = std::time::Instant::now();
    let segments: Vec<Segment> = data
        .split(|&b| b == 0xFF)
        .map(|body| Segment {
            body: bytes::Bytes::copy_from_slice(body),
            ids,
            received_at,
            source: None,
            resource: None,
        })
        .collect();
    let out = to_otlp(&segments);
    assert!(out.failed.len() <= segments.len());
    for failed in &out.failed {
        assert!(!failed.error.is_empty());
    }
    let translation = to_xray_documents(&out.resource_spans, &TranslateSettings::default());
    for document in &translation.documents {
        assert!(serde_json::from_slice::<serde_json::Value>(&document.json).is_ok());
    }
}

/// `otlp`: an export request, as protobuf or as OTLP JSON, translates to valid X-Ray JSON.
pub fn otlp(data: &[u8]) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let requests = [
        ExportTraceServiceRequest::decode(data).ok(),
        serde_json::from_slice::<ExportTraceServiceRequest>(data).ok(),
    ];
    for request in requests.into_iter().flatten() {
        let translation = to_xray_documents(&request.resource_spans, &TranslateSettings::default());
        for document in &translation.documents {
            assert!(serde_json::from_slice::<serde_json::Value>(&document.json).is_ok());
        }
    }
}
