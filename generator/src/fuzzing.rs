//! What the cargo-fuzz target of `generator/fuzz` checks for one input, kept here so that two
//! runners share it: the fuzz target (nightly, `tests/fuzz/run.sh`, which CI runs after the test
//! command) and the stable test suite, which replays every seed and regression input of
//! `generator/fuzz/{corpus,regressions}/blueprint/` on each run (`tests/it/fuzz_inputs.rs`).
//! The check panics on a violated property; diagnostics for bad input are not one.

use crate::blueprint::load::Source;
use crate::blueprint::validate::validate;
use crate::plan::Plan;

/// `blueprint`: UTF-8 text validates into a blueprint that plans, or into diagnostics that each
/// point at a line and column of the file and render.
pub fn blueprint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source {
        name: "fuzz.yaml".to_owned(),
        text: text.to_owned(),
    };
    match validate(&source) {
        Ok(blueprint) => {
            let _plan = Plan::new(&blueprint);
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without diagnostics");
            for d in &diags {
                assert!(d.span.line >= 1 && d.span.column >= 1, "{d:?}");
                assert_eq!(d.file, "fuzz.yaml");
                assert!(!d.render(text).is_empty());
            }
        }
    }
}
