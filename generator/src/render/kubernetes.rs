//! The Kubernetes target: one object per file, a `kustomization.yaml` listing them, and a README
//! saying what to apply first and which `AWS_XRAY_DAEMON_ADDRESS` applications use.
//!
//! File names follow the objects' kinds, so a change to one object is a change to one file. The
//! `OpenTelemetryCollector`'s `spec` is the plan's `collector.spec`, written by `ordered_yaml` in
//! its build order (its sorted leaves, such as the collector configuration, through the
//! `crate::yaml` emitter that the `toyaml` filter uses).

use std::collections::BTreeMap;
use std::path::PathBuf;

use minijinja::{Environment, context};
use serde_json::Value;

use crate::plan::{Ordered, Plan};
use crate::render::engine::{RenderError, render_template};

/// The object files, in apply order: the namespace first, the custom resource last.
const OBJECTS: [&str; 5] = [
    "namespace.yaml",
    "serviceaccount.yaml",
    "clusterrole.yaml",
    "clusterrolebinding.yaml",
    "opentelemetrycollector.yaml",
];

/// The objects of `spec.metrics`: the managed scraper's ClusterRole and its binding.
const METRICS_OBJECTS: [&str; 2] = [
    "scraper-clusterrole.yaml",
    "scraper-clusterrolebinding.yaml",
];

/// Renders `kubernetes/`: the objects, `kustomization.yaml` and `README.md`.
pub fn render(
    env: &Environment<'static>,
    plan: &Plan,
) -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let mut files = BTreeMap::new();
    let mut resources: Vec<&str> = OBJECTS.to_vec();
    if plan.metrics.is_some() {
        resources.extend(METRICS_OBJECTS);
    }
    let spec_yaml = ordered_yaml(&plan.collector.spec, 2);
    for file in resources.clone() {
        let ctx = context! { spec_yaml => &spec_yaml, ..minijinja::Value::from_serialize(plan) };
        let text = render_template(env, &format!("kubernetes/{file}.j2"), ctx)?;
        files.insert(PathBuf::from(file), text);
    }
    for file in ["kustomization.yaml", "README.md"] {
        let ctx = context! { resources => &resources, ..minijinja::Value::from_serialize(plan) };
        let text = render_template(env, &format!("kubernetes/{file}.j2"), ctx)?;
        files.insert(PathBuf::from(file), text);
    }
    Ok(files)
}

/// An ordered value as YAML nested under a `key:` whose entries sit at `indent` spaces, in the
/// layout of `crate::yaml::to_yaml_nested` (block style, the first entry of a list item on its dash
/// line), without the final newline, which the template supplies.
pub fn ordered_yaml(value: &Ordered, indent: usize) -> String {
    let mut out = String::new();
    after_key(&mut out, value, indent);
    out.pop();
    out
}

/// `value` after `key:`, its entries at `indent`.
fn after_key(out: &mut String, value: &Ordered, indent: usize) {
    match value {
        Ordered::Json(json) => {
            out.push_str(&crate::yaml::to_yaml_nested(json, indent));
            out.push('\n');
        }
        Ordered::Object(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Ordered::List(items) if items.is_empty() => out.push_str(" []\n"),
        Ordered::Object(entries) => {
            out.push('\n');
            for (key, value) in entries {
                entry(out, key, value, indent);
            }
        }
        Ordered::List(items) => {
            out.push('\n');
            for item in items {
                list_item(out, item, indent);
            }
        }
    }
}

/// `key: value` at `indent`.
fn entry(out: &mut String, key: &str, value: &Ordered, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
    out.push_str(&crate::yaml::string(key));
    out.push(':');
    after_key(out, value, indent + 2);
}

/// `- item` at `indent`: an object's first entry on the dash line, the rest aligned under it.
fn list_item(out: &mut String, item: &Ordered, indent: usize) {
    // A JSON object or list as an item is laid out like an ordered one (its keys sorted).
    let shallow;
    let item = match item {
        Ordered::Json(Value::Object(map)) => {
            shallow = Ordered::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Ordered::Json(v.clone())))
                    .collect(),
            );
            &shallow
        }
        Ordered::Json(Value::Array(items)) => {
            shallow = Ordered::List(items.iter().cloned().map(Ordered::Json).collect());
            &shallow
        }
        other => other,
    };
    out.extend(std::iter::repeat_n(' ', indent));
    out.push('-');
    match item {
        Ordered::Object(entries) if !entries.is_empty() => {
            for (idx, (key, value)) in entries.iter().enumerate() {
                if idx == 0 {
                    out.push(' ');
                    out.push_str(&crate::yaml::string(key));
                    out.push(':');
                    after_key(out, value, indent + 4);
                } else {
                    entry(out, key, value, indent + 2);
                }
            }
        }
        Ordered::List(items) if !items.is_empty() => {
            out.push('\n');
            for inner in items {
                list_item(out, inner, indent + 2);
            }
        }
        other => after_key(out, other, indent + 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The ordered emitter lays a value out exactly as `crate::yaml` does when the order is the
    /// sorted one, whatever the mix of ordered and JSON parts.
    #[test]
    fn ordered_yaml_matches_the_yaml_emitter_on_sorted_values() {
        let value = json!({
            "a": [1, {"x": "w", "z": [], "y": [{"k": null}, [2, [3]]]}, [], {}],
            "b": {"k": {"l": "0.0.0.0:2000"}, "m": {}},
            "c": "",
        });
        let Value::Object(map) = &value else {
            unreachable!()
        };
        let mixed = Ordered::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Ordered::Json(v.clone())))
                .collect(),
        );
        let mut nested = Ordered::object();
        nested.insert(
            "a",
            Ordered::List(vec![
                json!(1).into(),
                Ordered::Object(vec![
                    ("x".into(), json!("w").into()),
                    (
                        "y".into(),
                        Ordered::List(vec![json!({"k": null}).into(), json!([2, [3]]).into()]),
                    ),
                    ("z".into(), Ordered::List(Vec::new())),
                ]),
                json!([]).into(),
                Ordered::object(),
            ]),
        );
        nested.insert("b", map["b"].clone());
        nested.insert("c", json!(""));
        let want = crate::yaml::to_yaml_nested(&value, 2);
        assert_eq!(ordered_yaml(&Ordered::Json(value.clone()), 2), want);
        assert_eq!(ordered_yaml(&mixed, 2), want);
        assert_eq!(ordered_yaml(&nested, 2), want);
    }

    #[test]
    fn ordered_yaml_keeps_the_build_order() {
        let mut it = Ordered::object();
        it.insert("name", json!("xray"));
        it.insert("hostPort", json!(2000));
        let list = Ordered::List(vec![it]);
        assert_eq!(
            ordered_yaml(&list, 2),
            "\n  - name: xray\n    hostPort: 2000"
        );
    }

    /// The manifest's `spec` reads back as the plan's, for every example blueprint; the Terraform
    /// tests compare the workloads module's `spec` with the manifest's.
    #[test]
    fn the_manifest_spec_reads_back_as_the_plan_spec() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let source = crate::blueprint::load::Source {
                name: path.display().to_string(),
                text: std::fs::read_to_string(&path).unwrap(),
            };
            let plan = Plan::new(&crate::blueprint::validate::validate(&source).unwrap());
            let files = render(&crate::render::engine::environment(), &plan).unwrap();
            let text = &files[&PathBuf::from("opentelemetrycollector.yaml")];
            let doc = crate::blueprint::load::load(&crate::blueprint::load::Source {
                name: "opentelemetrycollector.yaml".into(),
                text: text.clone(),
            })
            .unwrap();
            assert_eq!(
                doc.value["spec"],
                plan.collector.spec.to_json(),
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 5, "only {seen} example blueprints");
    }
}
