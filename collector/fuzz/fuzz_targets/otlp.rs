//! Fuzzes the OTLP decoders (protobuf and JSON) and the translation to X-Ray documents behind
//! them: any bytes are refused or translate into valid JSON documents.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xray_collector::fuzzing::otlp(data));
