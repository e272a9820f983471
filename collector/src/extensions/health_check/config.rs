//! `extensions.health_check`: contrib's keys, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

/// `extensions.health_check`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    /// Address to listen on; default `0.0.0.0:13133`.
    pub endpoint: String,
    /// URL path that answers; default `/`.
    pub path: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "0.0.0.0:13133".to_owned(),
            path: "/".to_owned(),
        }
    }
}

impl Component for HealthCheckConfig {
    const TYPE: &'static str = "health_check";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        c.endpoint("endpoint", &self.endpoint);
        if !self.path.starts_with('/') {
            c.error("path", "must start with `/`");
        }
    }
}
