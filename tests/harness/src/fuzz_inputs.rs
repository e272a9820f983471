//! Replays the seed inputs (`fuzz/corpus/<target>/`) and regression inputs
//! (`fuzz/regressions/<target>/`, past crashes) of a crate's cargo-fuzz targets through the check
//! each target runs (`xray_collector::fuzzing`, `blueprint::fuzzing`), on the stable toolchain, so
//! that the test command guards them on every run; fuzzing itself (nightly, time-bounded) is
//! `tests/fuzz/run.sh`, which CI runs after the test command.

use std::path::Path;

/// Feeds each input file of `target` under `fuzz_dir` (a crate's `fuzz/`) to `check`, in name
/// order; fails naming the file whose input fails the check, and when the target has no seed input.
pub fn replay(fuzz_dir: &Path, target: &str, check: fn(&[u8])) {
    let mut inputs = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir.join(kind).join(target)) else {
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
        fuzz_dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh `fuzz/` directory holding `inputs` as the corpus of target `t` (removed on drop).
    struct Dir(std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir_with(name: &str, inputs: &[(&str, &[u8])]) -> Dir {
        let dir = std::env::temp_dir().join(format!("harness-fuzz-{}-{name}", std::process::id()));
        let corpus = dir.join("corpus/t");
        std::fs::create_dir_all(&corpus).unwrap();
        for (file, data) in inputs {
            std::fs::write(corpus.join(file), data).unwrap();
        }
        Dir(dir)
    }

    fn refuses_bang(data: &[u8]) {
        assert!(!data.contains(&b'!'), "a bang");
    }

    #[test]
    fn every_input_is_checked_and_a_failing_one_is_named() {
        let dir = dir_with("pass", &[("a", b"fine"), ("b", b"also fine")]);
        replay(&dir.0, "t", refuses_bang);
        let dir = dir_with("fail", &[("a", b"fine"), ("crash-1", b"boom!")]);
        let failed = std::panic::catch_unwind(|| replay(&dir.0, "t", refuses_bang));
        let message = failed.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("crash-1"), "{message}");
    }

    #[test]
    fn a_target_without_inputs_fails() {
        let dir = dir_with("empty", &[]);
        assert!(std::panic::catch_unwind(|| replay(&dir.0, "t", refuses_bang)).is_err());
    }
}
