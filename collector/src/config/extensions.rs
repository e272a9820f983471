//! Extension configs: `health_check`.

use serde::Deserialize;

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
