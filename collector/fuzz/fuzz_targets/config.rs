//! Fuzzes the config loader: any text gives a config or diagnostics naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = xray_collector::config::load_str(text, "fuzz.yaml", &|_| None) {
            assert!(e.to_string().contains("fuzz.yaml"));
        }
    }
});
