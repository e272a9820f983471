//! Fuzzes the X-Ray -> OTLP translation (`translate::from_xray::to_otlp`): any batch of documents
//! converts or is reported failed, document by document, and what converts translates back into
//! valid X-Ray JSON. The input is split at every 0xFF byte (never part of UTF-8 text) into the
//! documents of one batch, so the fuzzer also explores how documents group by resource.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xray_collector::traces::{Segment, SegmentIds};
use xray_collector::translate::from_xray::to_otlp;
use xray_collector::translate::{TranslateSettings, to_xray_documents};

fuzz_target!(|data: &[u8]| {
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
});
