//! `processors.resource`: contrib's keys (`attributes`: the action list of `attraction`).

use serde::Deserialize;

use crate::config::component::{Checker, Component};
use crate::processors::attraction::{self, ActionConfig};

/// `processors.resource`.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConfig {
    /// The actions, applied in order to each resource.
    pub attributes: Vec<ActionConfig>,
}

impl Component for ResourceConfig {
    const TYPE: &'static str = "resource";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.attributes.is_empty() {
            c.error("", "`attributes` must list at least one action");
        }
        attraction::compile(&self.attributes, "attributes", c);
    }
}
