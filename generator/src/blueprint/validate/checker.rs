//! `Checker`: the semantic rules' state (the file, its positions, the diagnostics found so far)
//! and how a rule reports a problem. The rules themselves are `impl Checker` blocks in the sibling
//! modules.

use crate::aws::regions::{self, Region};
use crate::blueprint::load::{Document, Source};
use crate::blueprint::rules::is_dns_label;
use crate::diagnostic::{Diagnostic, Phase};

/// The semantic rules.
pub(super) struct Checker<'a> {
    pub(super) source: &'a Source,
    pub(super) doc: &'a Document,
    pub(super) diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Reports a problem at `pointer`.
    pub(super) fn error(
        &mut self,
        pointer: &str,
        message: String,
        expected: Option<&str>,
        hint: Option<&str>,
    ) {
        self.diags.push(Diagnostic {
            file: self.source.name.clone(),
            span: self.doc.locate(pointer, true),
            pointer: pointer.to_owned(),
            phase: Phase::Semantic,
            message,
            expected: expected.map(str::to_owned),
            hint: hint.map(str::to_owned),
        });
    }

    /// Reports `value` unless it is a DNS-1123 label of at most `max` characters.
    pub(super) fn dns_label(&mut self, ptr: &str, value: &str, max: usize) {
        if !is_dns_label(value, max) {
            self.error(
                ptr,
                format!("`{value}` is not a DNS-1123 label"),
                Some(&format!("at most {max} lower-case letters, digits and `-`, starting and ending with a letter or digit")),
                None,
            );
        }
    }

    /// The region named `value` from the region table, or a report at `ptr` naming the closest
    /// known regions.
    pub(super) fn known_region(&mut self, ptr: &str, value: &str) -> Option<&'static Region> {
        if let Some(region) = regions::region(value) {
            return Some(region);
        }
        let closest = regions::closest(value, 3);
        let hint = if closest.is_empty() {
            "the known regions, and what each offers, are listed in docs/regions.md".to_owned()
        } else {
            format!(
                "did you mean {}?",
                closest
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        self.error(
            ptr,
            format!("unknown AWS region `{value}`"),
            Some("a region of the partitions aws, aws-cn or aws-us-gov, such as `us-east-1`"),
            Some(&hint),
        );
        None
    }
}
