//! Processors: `batch`. A processor instance belongs to one pipeline (as in the collector) and
//! reads a bounded channel.

pub mod batch;
