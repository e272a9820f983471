//! Fuzzes the X-Ray datagram splitter and body check: any bytes give a segment or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xray_collector::fuzzing::datagram(data));
