//! Golden tests: every example blueprint renders to exactly the committed files under
//! `golden/<blueprint>/<target>/`, for every target the renderer builds.
//!
//! * A rendered file that differs from its golden file fails, with a diff.
//! * A golden file with no matching rendered file fails (a stale file would otherwise linger).
//! * A golden directory with no blueprint fails.
//! * `XRB_BLESS=1 cargo nextest run -p blueprint -E 'test(/^golden::/)'` rewrites the golden files
//!   instead (optionally only some targets: `XRB_BLESS_TARGETS=kubernetes,terraform`); review
//!   with `git diff golden/`.
//! * The `blueprint` binary itself, run twice on every blueprint, writes byte-identical trees that
//!   equal the golden files; every file ends with exactly one newline and no absolute path appears.
//! * `render --check` reports drift and exits 1, writing nothing, and accepts the committed tree;
//!   rendering one target replaces only that target's directory; `--help` documents the exit codes.
//! * The docs generated from the generator's data tables (`docs/adot-versions.md`,
//!   `docs/regions.md`) equal what the tables produce now; `XRB_BLESS=1` rewrites them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use blueprint::blueprint::load::Source;
use blueprint::blueprint::validate::validate;
use blueprint::plan::Plan;
use blueprint::render::{self, Target};

fn root() -> PathBuf {
    harness::project_root()
}

/// Every example blueprint, by name, sorted.
fn blueprints() -> BTreeMap<String, PathBuf> {
    let dir = root().join("blueprints");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("blueprints/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(name, path);
        }
    }
    assert!(
        out.len() >= 4,
        "expected at least four example blueprints, found {out:?}"
    );
    out
}

fn render_blueprint(path: &Path) -> BTreeMap<PathBuf, String> {
    let rel = path.strip_prefix(root()).unwrap_or(path);
    let source = Source {
        name: rel.display().to_string(),
        text: std::fs::read_to_string(path).expect("readable blueprint"),
    };
    let bp = match validate(&source) {
        Ok(bp) => bp,
        Err(diags) => {
            let text: String = diags.iter().map(|d| d.render(&source.text)).collect();
            panic!("example blueprint {} is invalid:\n{text}", rel.display());
        }
    };
    let plan = Plan::new(&bp);
    let targets: Vec<Target> = plan.targets.iter().map(|&t| Target::from(t)).collect();
    render::render(&plan, &targets).expect("renders")
}

fn overwrite_targets() -> Option<Vec<Target>> {
    if !harness::bless() {
        return None;
    }
    let only = std::env::var("XRB_BLESS_TARGETS").unwrap_or_default();
    Some(
        Target::ALL
            .into_iter()
            .filter(|t| only.is_empty() || only.split(',').any(|o| o.trim() == t.dir()))
            .collect(),
    )
}

#[test]
fn golden_files_match_every_blueprint() {
    let golden = root().join("golden");
    let mut failures = Vec::new();
    for (name, path) in blueprints() {
        let rendered = render_blueprint(&path);
        let dir = golden.join(&name);
        if let Some(targets) = overwrite_targets() {
            let files: BTreeMap<PathBuf, String> = rendered
                .iter()
                .filter(|(p, _)| targets.iter().any(|t| p.starts_with(t.dir())))
                .map(|(p, t)| (p.clone(), t.clone()))
                .collect();
            render::write_atomically(&dir, &targets, &files).expect("golden files written");
            continue;
        }
        let committed = render::read_tree(&dir, &Target::ALL).expect("golden tree readable");
        let keys: BTreeSet<&PathBuf> = rendered.keys().chain(committed.keys()).collect();
        for key in keys {
            let shown = Path::new("golden").join(&name).join(key);
            match (rendered.get(key), committed.get(key)) {
                (Some(new), Some(old)) if new == old => {}
                (Some(new), Some(old)) => {
                    let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str())
                        .unified_diff()
                        .header("golden", "rendered")
                        .to_string();
                    failures.push(format!(
                        "{} differs from the render:\n{diff}",
                        shown.display()
                    ));
                }
                (Some(_), None) => {
                    failures.push(format!("{} is rendered but not committed", shown.display()))
                }
                (None, Some(_)) => failures.push(format!(
                    "{} is committed but no longer rendered (remove it)",
                    shown.display()
                )),
                (None, None) => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the change is intended: XRB_BLESS=1 cargo nextest run -p blueprint -E 'test(/^golden::/)', then review git diff golden/",
        failures.join("\n")
    );
}

#[test]
fn every_golden_directory_has_a_blueprint() {
    let names = blueprints();
    let golden = root().join("golden");
    for entry in std::fs::read_dir(&golden).expect("golden/ exists") {
        let entry = entry.expect("readable entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            names.contains_key(&name),
            "golden/{name} has no blueprints/{name}.yaml; remove the directory"
        );
    }
    for name in names.keys() {
        assert!(
            golden.join(name).join("kubernetes").is_dir(),
            "blueprints/{name}.yaml has no golden/{name}/kubernetes/"
        );
    }
}

#[test]
fn every_blueprint_names_its_schema_and_its_file() {
    for (name, path) in blueprints() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../schemas/blueprint.schema.json"),
            "{name}.yaml must start with the yaml-language-server schema line"
        );
        let bp = validate(&Source {
            name: path.display().to_string(),
            text,
        })
        .expect("valid");
        assert_eq!(bp.metadata.name, name);
    }
}

/// Runs `blueprint render FILE --out DIR` from the project root, as the README does.
fn cli_render(file: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .current_dir(root())
        .arg("render")
        .arg(file.strip_prefix(root()).unwrap())
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("blueprint runs");
    assert!(status.success(), "render of {} failed", file.display());
}

fn tree_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(base).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_cli_renders_byte_identical_output_equal_to_golden() {
    if overwrite_targets().is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, path) in blueprints() {
        let first = tmp.path().join(format!("{name}-1"));
        let second = tmp.path().join(format!("{name}-2"));
        cli_render(&path, &first);
        cli_render(&path, &second);
        let a = tree_bytes(&first);
        let b = tree_bytes(&second);
        assert!(!a.is_empty(), "{name}: nothing rendered");
        assert_eq!(a, b, "{name}: two renders differ");
        let golden = tree_bytes(&root().join("golden").join(&name));
        assert_eq!(
            a, golden,
            "{name}: the CLI's output differs from golden/{name}"
        );
        for (file, bytes) in &a {
            assert!(
                bytes.ends_with(b"\n"),
                "{name}/{}: no trailing newline",
                file.display()
            );
            assert!(
                !bytes.ends_with(b"\n\n"),
                "{name}/{}: blank line at the end",
                file.display()
            );
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(&root().display().to_string()) && !text.contains("/tmp/"),
                "{name}/{}: absolute path in the output",
                file.display()
            );
        }
    }
}

#[test]
fn check_mode_reports_drift_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let path = root().join("blueprints/guide-existing-cluster.yaml");
    cli_render(&path, tmp.path());
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_blueprint"))
            .current_dir(root())
            .args([
                "render",
                "blueprints/guide-existing-cluster.yaml",
                "--check",
                "--out",
            ])
            .arg(tmp.path())
            .output()
            .expect("blueprint runs")
    };
    let clean = check();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );

    let sa = tmp.path().join("kubernetes/serviceaccount.yaml");
    let text = std::fs::read_to_string(&sa).unwrap();
    std::fs::write(&sa, text.replace("aws-otel-collector", "adot-collector")).unwrap();
    std::fs::remove_file(tmp.path().join("kubernetes/README.md")).unwrap();
    std::fs::write(tmp.path().join("kubernetes/extra.yaml"), "a: 1\n").unwrap();
    let drift = check();
    let stderr = String::from_utf8_lossy(&drift.stderr);
    assert_eq!(drift.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("changed: ") && stderr.contains("serviceaccount.yaml (+1 -1)"),
        "{stderr}"
    );
    assert!(stderr.contains("-  name: adot-collector"), "{stderr}");
    assert!(
        stderr.contains("missing: ") && stderr.contains("README.md"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unexpected: ") && stderr.contains("extra.yaml"),
        "{stderr}"
    );
    // --check never writes.
    assert!(tmp.path().join("kubernetes/extra.yaml").exists());
}

#[test]
fn rendering_replaces_only_the_rendered_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let stale = tmp.path().join("kubernetes/stale.yaml");
    let other = tmp.path().join("terraform/keep.tf");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&stale, "old\n").unwrap();
    std::fs::write(&other, "keep\n").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .current_dir(root())
        .args([
            "render",
            "blueprints/pod-identity.yaml",
            "--target",
            "kubernetes",
            "--out",
        ])
        .arg(tmp.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!stale.exists(), "a stale file survived the render");
    assert!(tmp.path().join("kubernetes/kustomization.yaml").exists());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep\n");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary directories left behind: {leftovers:?}"
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .args(["render", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in ["0  success", "1  render --check", "2  invalid input"] {
        assert!(text.contains(line), "--help lacks `{line}`:\n{text}");
    }
}

#[test]
fn check_mode_over_all_blueprints_accepts_the_committed_golden_tree() {
    if overwrite_targets().is_some() {
        return;
    }
    // The CI gate: several files render to DIR/<name>/<target>/, the layout of golden/.
    let mut args: Vec<String> = vec!["render".into()];
    args.extend(
        blueprints()
            .values()
            .map(|p| p.strip_prefix(root()).unwrap().display().to_string()),
    );
    args.extend(["--check".into(), "--out".into(), "golden".into()]);
    let out = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .current_dir(root())
        .args(&args)
        .output()
        .expect("blueprint runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The user docs generated from the tables validation reads are current.
#[test]
fn generated_docs_are_current() {
    let docs = [
        (
            "docs/adot-versions.md",
            blueprint::blueprint::adot_versions::markdown(),
        ),
        ("docs/regions.md", blueprint::aws::regions::markdown()),
    ];
    for (path, fresh) in docs {
        let path = root().join(path);
        if harness::bless() {
            std::fs::write(&path, &fresh).expect("doc written");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale; run XRB_BLESS=1 cargo nextest run -p blueprint -E 'test(/^golden::generated_docs/)'",
            path.display()
        );
    }
}
