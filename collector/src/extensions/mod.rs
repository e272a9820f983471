//! Extensions: `health_check`.

pub mod health_check;
