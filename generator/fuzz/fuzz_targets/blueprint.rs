//! Fuzzes the blueprint loader and validator (`blueprint::validate::validate`, reading YAML
//! through `spanned-yaml`): any text validates, or yields located diagnostics that render; a
//! blueprint that validates also plans.
#![no_main]

use blueprint::blueprint::load::Source;
use blueprint::blueprint::validate::validate;
use blueprint::plan::Plan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
