//! Replays every seed and regression input of this crate's cargo-fuzz targets (`fuzz/`) through the
//! check each target runs (`blueprint::fuzzing`), on stable: see `harness::fuzz_inputs`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    harness::fuzz_inputs::replay(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz"),
        target,
        check,
    );
}

#[test]
fn blueprint_inputs() {
    replay("blueprint", blueprint::fuzzing::blueprint);
}
