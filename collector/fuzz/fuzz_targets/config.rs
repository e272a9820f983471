//! Fuzzes the config loader: any text gives a config or diagnostics naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xray_collector::fuzzing::config(data));
