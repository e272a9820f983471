//! Extension configs: `health_check` and `file_storage`.

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

/// `extensions.file_storage`: a directory for persistent sending queues
/// (`sending_queue.storage` names it).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// Directory holding one sub-directory per exporter's queue (required).
    pub directory: String,
    /// Disk bound of each queue, in bytes of log segments; default 1 GiB. A batch that would
    /// exceed it is refused and counted (`reason="storage_full"`).
    pub max_size_bytes: u64,
    /// `fsync` each batch and each acknowledgement; default false. A `kill -9` loses nothing
    /// either way; `fsync` guards against a machine crash.
    pub fsync: bool,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: String::new(),
            max_size_bytes: 1 << 30,
            fsync: false,
        }
    }
}
