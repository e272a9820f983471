//! The `file_storage` extension: a directory holding the persistent sending queues of the
//! exporters whose `sending_queue.storage` names it (one sub-directory per exporter). It runs
//! nothing itself; `exporters::open_storage` opens an exporter's queue in it.

pub mod config;

use self::config::FileStorageConfig;
use super::ExtensionConfig;

impl ExtensionConfig for FileStorageConfig {}
