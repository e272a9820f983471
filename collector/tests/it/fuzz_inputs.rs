//! Replays every seed input (`fuzz/corpus/<target>/`) and regression input
//! (`fuzz/regressions/<target>/`, past crashes) of this crate's cargo-fuzz targets through the
//! check the target runs (`xray_collector::fuzzing`), on the stable toolchain, so that the test command
//! guards them on every run; fuzzing itself (nightly, time-bounded) is `tests/fuzz/run.sh`, which
//! CI runs after the test command.

use std::path::Path;

/// Feeds each input file of `target` to `check`; fails when the target has no seed input.
fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{} fails the check of fuzz target `{target}`",
                path.display()
            );
            inputs += 1;
        }
    }
    assert!(
        inputs > 0,
        "fuzz target `{target}` has no seed input under {}",
        fuzz.display()
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
