//! Fuzzes the OTLP decoders (protobuf and JSON) and the translation to X-Ray documents behind
//! them: any bytes are refused or translate into valid JSON documents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use xray_collector::translate::{TranslateSettings, to_xray_documents};

fuzz_target!(|data: &[u8]| {
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
});
