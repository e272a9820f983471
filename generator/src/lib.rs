//! `blueprint`: validates an X-Ray-on-EKS blueprint and renders it, deterministically, into
//! Terraform, an AWS CDK cloud assembly and Kubernetes manifests.
//!
//! The flow is `load` (YAML with positions) → `validate` (JSON schema, then typed parse, then
//! semantic rules; every problem at once) → `Plan::new` (every derived value resolved once) →
//! `render` (pure: plan and embedded templates in, files out) → `write_all` (every output staged, then swapped in).
//!
//! Each stage imports only earlier ones: `render` reads the `plan`, the `plan` reads the validated
//! model, and validation shares its format rules with the plan through `blueprint::rules` and the
//! partition through `aws`, the leaf module that spells every ARN, DNS suffix and service
//! principal.

pub mod aws;
pub mod blueprint;
pub mod cli;
pub mod commands;
pub mod diagnostic;
#[doc(hidden)]
pub mod fuzzing;
pub mod plan;
pub mod render;
pub mod yaml;
