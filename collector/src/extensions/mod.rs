//! Extensions: `health_check` (serves readiness), `awsproxy` (the X-Ray sampling proxy, for
//! SDKs' remote samplers), `file_storage` (the directory of persistent
//! sending queues, opened by the exporters whose `sending_queue.storage` names it) and `sigv4auth`
//! (signing, built by the exporters whose `auth.authenticator` names it). Such references are
//! resolved when the config loads (`config::component::ExtensionRef`).
//!
//! An extension's config implements [`ExtensionConfig`] (and `config::component::Component`);
//! the registry (`crate::registry`) lists the types.

pub mod awsproxy;
pub mod file_storage;
pub mod health_check;
pub mod sigv4auth;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::config::component::{AsAny, BoxFuture};
use crate::config::id::ComponentId;
use crate::telemetry::Telemetry;

/// What an extension's start needs from the service.
pub struct ExtensionContext {
    /// The collector's readiness.
    pub health: Health,
    /// Cancelled when the collector's own servers stop.
    pub stop: CancellationToken,
    /// The collector's counters.
    pub telemetry: Telemetry,
}

/// An extension's config, type-erased.
pub trait ExtensionConfig: AsAny + fmt::Debug {
    /// Starts extension `id` when `service.extensions` lists it; by default there is nothing to
    /// run (the extension is used by the components that reference it).
    fn start<'a>(
        &'a self,
        id: &'a ComponentId,
        ctx: &'a ExtensionContext,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        let _ = (id, ctx);
        Box::pin(async { Ok(()) })
    }
}

/// Whether the collector is ready; shared by the service and the `health_check` extension.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    /// When the process started.
    pub started: Instant,
    /// The start, in seconds since the epoch.
    pub up_since: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            up_since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

impl Health {
    /// Marks the collector ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the collector is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}
