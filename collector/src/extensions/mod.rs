//! Extensions: `health_check` and `sigv4auth` (`file_storage` is opened by the exporters whose
//! `sending_queue.storage` names it).

pub mod health_check;
pub mod sigv4auth;
