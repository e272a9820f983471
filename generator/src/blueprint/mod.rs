//! The blueprint format and how a file becomes a validated `Blueprint`.

pub mod adot_versions;
pub mod load;
pub mod model;
pub mod rules;
pub mod validate;
