//! The assembly's `README.md`: what it holds, how to deploy it without a bootstrap, and how to apply
//! the Kubernetes objects afterwards. The text is the template `cdk/README.md.j2`, rendered from the
//! plan plus the few facts only the built CloudFormation template knows (resource counts, deploy-time
//! parameters).

use std::collections::BTreeMap;

use minijinja::{Environment, context};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::plan::Plan;
use crate::render::cdk::template::OIDC_ISSUER_PARAMETER;
use crate::render::engine::{RenderError, render_template};

/// A deploy-time parameter of the stack, as the README's table lists it.
#[derive(Serialize)]
struct Parameter<'a> {
    name: &'a str,
    /// Its default, `None` when it must be given.
    default: Option<String>,
    description: &'a str,
}

/// Renders `cdk/README.md` for the stack `stack` built as `template`.
pub(super) fn render(
    env: &Environment<'static>,
    plan: &Plan,
    stack: &str,
    template: &Value,
) -> Result<String, RenderError> {
    let mut resource_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in template["Resources"]
        .as_object()
        .into_iter()
        .flat_map(Map::values)
    {
        *resource_counts
            .entry(resource["Type"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    let parameters: Vec<Parameter> = template["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, parameter)| Parameter {
            name,
            default: match &parameter["Default"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            },
            description: parameter["Description"].as_str().unwrap_or(""),
        })
        .collect();
    let oidc_issuer_parameter = parameters
        .iter()
        .any(|p| p.name == OIDC_ISSUER_PARAMETER)
        .then_some(OIDC_ISSUER_PARAMETER);
    let ctx = context! {
        stack,
        resource_counts => resource_counts.into_iter().collect::<Vec<_>>(),
        parameters,
        oidc_issuer_parameter,
        ..minijinja::Value::from_serialize(plan)
    };
    render_template(env, "cdk/README.md.j2", ctx)
}
