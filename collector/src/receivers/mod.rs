//! Receivers: `awsxray` (X-Ray segments over UDP). Each receiver instance is built once and feeds
//! every pipeline that names it through one [`crate::pipeline::TracesSender`].

pub mod awsxray;
pub mod otlp;
