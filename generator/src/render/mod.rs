//! The rendering core: one `Plan` in, one set of files out, per target.
//!
//! Rendering is a pure function of (plan, templates): no IO, no clock, no environment. Templates are
//! embedded in the binary at build time (`build.rs`, minijinja-embed), undefined values are errors
//! (`UndefinedBehavior::Strict`) and nothing is auto-escaped: YAML, HCL and JSON each need their own
//! quoting, which the filters (`engine.rs`) and `|tojson` do explicitly. Files are written only by
//! `write_all` / `write_atomically` (`write.rs`): every output of a command is staged first and then
//! swapped in, so a failure leaves no partial output behind (or, if undoing a failed swap fails,
//! says exactly what was written).
//!
//! One module per target (`terraform`, `cdk`, `kubernetes`); `engine` is the template environment
//! and the error type they share; `write` puts rendered files on disk. No target imports this module.

pub mod cdk;
mod engine;
pub mod kubernetes;
pub mod terraform;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::Environment;

use crate::blueprint::model::TargetName;
use crate::plan::Plan;

pub use engine::{RenderCause, RenderError, environment, render_template};
pub use write::{Output, PartialState, WriteError, write_all, write_atomically};

/// One output of `blueprint render`, written to `<out>/<dir>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Terraform root modules, `terraform/`.
    Terraform,
    /// An AWS CDK cloud assembly, `cdk/`.
    Cdk,
    /// Kubernetes manifests, `kubernetes/`.
    Kubernetes,
}

impl Target {
    /// Every target, in output order.
    pub const ALL: [Target; 3] = [Target::Terraform, Target::Cdk, Target::Kubernetes];

    /// The directory the target writes, relative to the output directory.
    pub fn dir(self) -> &'static str {
        match self {
            Target::Terraform => "terraform",
            Target::Cdk => "cdk",
            Target::Kubernetes => "kubernetes",
        }
    }

    /// Renders the target's files, keyed by path relative to the target's directory. A target that
    /// is not built yet renders nothing, and then its directory is not written.
    pub fn render(
        self,
        env: &Environment<'static>,
        plan: &Plan,
    ) -> Result<BTreeMap<PathBuf, String>, RenderError> {
        match self {
            Target::Terraform => terraform::render(env, plan),
            Target::Cdk => cdk::render(env, plan),
            Target::Kubernetes => kubernetes::render(env, plan),
        }
    }
}

impl From<TargetName> for Target {
    fn from(name: TargetName) -> Self {
        match name {
            TargetName::Terraform => Target::Terraform,
            TargetName::Cdk => Target::Cdk,
            TargetName::Kubernetes => Target::Kubernetes,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir())
    }
}

/// Renders the given targets, keyed by path relative to the output directory
/// (`kubernetes/namespace.yaml`). Every file ends with exactly one newline.
pub fn render(plan: &Plan, targets: &[Target]) -> Result<BTreeMap<PathBuf, String>, RenderError> {
    let env = environment();
    let mut files = BTreeMap::new();
    for &target in targets {
        for (path, mut text) in target.render(&env, plan)? {
            while text.ends_with("\n\n") {
                text.pop();
            }
            if !text.ends_with('\n') {
                text.push('\n');
            }
            files.insert(Path::new(target.dir()).join(path), text);
        }
    }
    Ok(files)
}

/// Reads the committed files of the given targets under `dir`, keyed like `render`'s output.
/// Missing target directories read as empty.
pub fn read_tree(dir: &Path, targets: &[Target]) -> std::io::Result<BTreeMap<PathBuf, String>> {
    let mut files = BTreeMap::new();
    for &target in targets {
        let root = dir.join(target.dir());
        if root.is_dir() {
            walk(dir, &root, &mut files)?;
        }
    }
    Ok(files)
}

fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(base, &path, files)?;
        } else {
            let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
            let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
            files.insert(rel, text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_values_are_errors() {
        let mut env = environment();
        env.add_template("t.yaml.j2", "name: {{ collector.nmae }}\n")
            .unwrap();
        let ctx = serde_json::json!({"collector": {"name": "xray"}});
        let err = render_template(&env, "t.yaml.j2", &ctx).unwrap_err();
        assert_eq!(err.what, "t.yaml.j2");
        assert!(
            matches!(&err.cause, RenderCause::Template(m) if m.contains("undefined")),
            "{err}"
        );
    }

    #[test]
    fn nothing_is_auto_escaped() {
        let mut env = environment();
        env.add_template("t.yaml.j2", "v: {{ s }}\nq: {{ s|yamlstr }}\n")
            .unwrap();
        let out = render_template(&env, "t.yaml.j2", serde_json::json!({"s": "a\"b"})).unwrap();
        assert_eq!(out, "v: a\"b\nq: \"a\\\"b\"\n");
    }

    #[test]
    fn a_failed_write_keeps_the_previous_output() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        std::fs::create_dir_all(out.join("kubernetes")).unwrap();
        std::fs::write(out.join("kubernetes/old.yaml"), "old\n").unwrap();
        // The second file cannot be created below the first, so staging fails half-way.
        let files = BTreeMap::from([
            (PathBuf::from("kubernetes/a.yaml"), "a\n".to_owned()),
            (PathBuf::from("kubernetes/a.yaml/b.yaml"), "b\n".to_owned()),
        ]);
        assert!(write_atomically(out, &[Target::Kubernetes], &files).is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("kubernetes/old.yaml")).unwrap(),
            "old\n"
        );
        assert!(!out.join("kubernetes/a.yaml").exists());
        let names: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["kubernetes"], "temporary directories left behind");
    }

    #[test]
    fn files_end_with_exactly_one_newline() {
        let plan = crate::plan::Plan::new(
            &crate::blueprint::validate::validate(&crate::blueprint::load::Source {
                name: "guide-existing-cluster.yaml".into(),
                text: include_str!("../../../blueprints/guide-existing-cluster.yaml").into(),
            })
            .unwrap(),
        );
        let files = render(&plan, &[Target::Kubernetes]).unwrap();
        assert!(files.len() >= 5);
        for (path, text) in files {
            assert!(path.starts_with("kubernetes"));
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n"),
                "{}",
                path.display()
            );
        }
    }
}
