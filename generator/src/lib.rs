//! `blueprint`: validates an X-Ray-on-EKS blueprint and renders it, deterministically, into
//! Terraform, an AWS CDK cloud assembly and Kubernetes manifests.
//!
//! The flow is `load` (YAML with positions) → `validate` (JSON schema, then typed parse, then
//! semantic rules; every problem at once) → `Plan::new` (every derived value resolved once) →
//! `render` (pure: plan and embedded templates in, files out) → `write_atomically`.

pub mod aws;
pub mod blueprint;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod plan;
pub mod render;
pub mod yaml;
