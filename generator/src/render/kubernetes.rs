//! The Kubernetes target: one object per file, a `kustomization.yaml` listing them, and a README
//! saying what to apply first and which `AWS_XRAY_DAEMON_ADDRESS` applications use.
//!
//! File names follow the objects' kinds, so a change to one object is a change to one file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::{Environment, context};

use crate::plan::Plan;
use crate::render::{RenderError, render_template};

/// The object files, in apply order: the namespace first, the custom resource last.
const OBJECTS: [&str; 3] = [
    "namespace.yaml",
    "serviceaccount.yaml",
    "opentelemetrycollector.yaml",
];

/// Renders `kubernetes/`: the objects, `kustomization.yaml` and `README.md`.
pub fn render(
    env: &Environment<'static>,
    plan: &Plan,
) -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let mut files = BTreeMap::new();
    let resources: Vec<&str> = OBJECTS.to_vec();
    for file in OBJECTS {
        let text = render_template(env, &format!("kubernetes/{file}.j2"), plan)?;
        files.insert(PathBuf::from(file), text);
    }
    for file in ["kustomization.yaml", "README.md"] {
        let ctx = context! { resources => &resources, ..minijinja::Value::from_serialize(plan) };
        let text = render_template(env, &format!("kubernetes/{file}.j2"), ctx)?;
        files.insert(PathBuf::from(file), text);
    }
    Ok(files)
}
