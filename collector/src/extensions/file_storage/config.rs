//! `extensions.file_storage`: contrib's keys, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};

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

impl Component for FileStorageConfig {
    const TYPE: &'static str = "file_storage";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if self.directory.is_empty() {
            c.error("", "`directory` is required");
        }
        if self.max_size_bytes == 0 {
            c.error("max_size_bytes", "must be positive");
        }
    }
}
