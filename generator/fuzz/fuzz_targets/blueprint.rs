//! Fuzzes the blueprint loader and validator (`blueprint::validate::validate`, reading YAML
//! through `spanned-yaml`): any text validates, or yields located diagnostics that render; a
//! blueprint that validates also plans.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| blueprint::fuzzing::blueprint(data));
