//! Replays every seed and regression input of this crate's cargo-fuzz targets (`fuzz/`) through the
//! check each target runs (`xray_collector::fuzzing`), on stable: see `harness::fuzz_inputs`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    harness::fuzz_inputs::replay(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz"),
        target,
        check,
    );
}

#[test]
fn config_inputs() {
    replay("config", xray_collector::fuzzing::config);
}

#[test]
fn datagram_inputs() {
    replay("datagram", xray_collector::fuzzing::datagram);
}

#[test]
fn from_xray_inputs() {
    replay("from_xray", xray_collector::fuzzing::from_xray);
}

#[test]
fn otlp_inputs() {
    replay("otlp", xray_collector::fuzzing::otlp);
}
