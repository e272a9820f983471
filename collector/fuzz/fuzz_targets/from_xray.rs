//! Fuzzes the X-Ray -> OTLP translation (`translate::from_xray::to_otlp`): any batch of documents
//! converts or is reported failed, document by document, and what converts translates back into
//! valid X-Ray JSON. The input is split at every 0xFF byte (never part of UTF-8 text) into the
//! documents of one batch, so the fuzzer also explores how documents group by resource.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xray_collector::fuzzing::from_xray(data));
