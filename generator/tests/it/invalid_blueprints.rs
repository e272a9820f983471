//! The invalid-blueprint corpus: every file under `tests/invalid-blueprints/` must be rejected by
//! `blueprint render` and `blueprint validate` with exit code 2, diagnostics that name
//! `file:line:column` and the field's JSON pointer, and no output written (a previous output
//! survives untouched). A missing file exits 2 too, and one invalid file among valid ones blocks
//! every write.
//!
//! The exact diagnostic text of each file is an insta snapshot next to the corpus
//! (`tests/invalid-blueprints/snapshots/<name>.snap`). To accept changed text:
//! `XRB_BLESS=1 cargo nextest run -p blueprint -E 'test(/^invalid_blueprints::/)'` (or `cargo insta review`), then
//! review `git diff tests/invalid-blueprints/`. insta reads its own switches once, from the
//! environment, so under `XRB_BLESS=1` the test runs itself again in a child process with
//! `INSTA_UPDATE=always` and `INSTA_FORCE_PASS=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> Vec<PathBuf> {
    let dir = harness::project_root().join("tests/invalid-blueprints");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid-blueprints exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 25,
        "the corpus has only {} files",
        files.len()
    );
    files
}

fn run(args: &[&str], out: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blueprint"));
    cmd.current_dir(harness::project_root()).args(args);
    if let Some(out) = out {
        cmd.arg("--out").arg(out);
    }
    cmd.env("NO_COLOR", "1").output().expect("blueprint runs")
}

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

/// Whether a headline reads `<file>:<line>:<column> /<pointer>: <message>`.
fn is_located(line: &str, file: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("× ") else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    let mut parts = rest.splitn(3, [':', ' ']);
    let line_no = parts.next().unwrap_or("");
    let col_no = parts.next().unwrap_or("");
    let tail = parts.next().unwrap_or("");
    !line_no.is_empty()
        && line_no.chars().all(|c| c.is_ascii_digit())
        && line_no != "0"
        && col_no.chars().all(|c| c.is_ascii_digit())
        && !col_no.is_empty()
        && tail.starts_with('/')
        && tail.contains(": ")
}

/// Under `XRB_BLESS=1` (and not already inside the child this starts): runs the test `name` of
/// this binary again in a child process with insta's rewrite switches, fails if the child fails,
/// and returns true (the caller then returns).
fn blessed_through_insta(name: &str) -> bool {
    if !harness::bless() || std::env::var_os("INSTA_UPDATE").is_some() {
        return false;
    }
    // The name libtest knows: the module path without the crate, then the function.
    let test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{name}"),
        None => name.to_owned(),
    };
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test.as_str(), "--exact"])
        .env("INSTA_UPDATE", "always")
        .env("INSTA_FORCE_PASS", "1")
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} under INSTA_UPDATE=always ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn every_invalid_blueprint_exits_2_with_located_diagnostics_and_writes_nothing() {
    if blessed_through_insta(
        "every_invalid_blueprint_exits_2_with_located_diagnostics_and_writes_nothing",
    ) {
        return;
    }
    let mut failures = Vec::new();
    for path in corpus() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!("tests/invalid-blueprints/{name}.yaml");

        // A previous render must survive untouched.
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("kubernetes")).unwrap();
        std::fs::write(out.join("kubernetes/previous.yaml"), "previous: true\n").unwrap();
        let before = tree(&out);

        let render = run(&["render", &rel], Some(&out));
        let stderr = String::from_utf8(render.stderr.clone()).expect("UTF-8 diagnostics");
        if render.status.code() != Some(2) {
            failures.push(format!(
                "{name}: render exited {:?}\n{stderr}",
                render.status.code()
            ));
        }
        if !render.stdout.is_empty() {
            failures.push(format!("{name}: render printed to stdout"));
        }
        if tree(&out) != before {
            failures.push(format!("{name}: render changed the output directory"));
        }
        let headlines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with("× "))
            .collect();
        if headlines.is_empty() {
            failures.push(format!("{name}: no diagnostic\n{stderr}"));
        }
        for line in &headlines {
            if !is_located(line, &rel) {
                failures.push(format!(
                    "{name}: diagnostic without file:line:column and field: {line}"
                ));
            }
        }
        if !stderr.contains("nothing was written") {
            failures.push(format!("{name}: no summary line"));
        }

        // `validate` reports exactly the same problems.
        let validate = run(&["validate", &rel], None);
        if validate.status.code() != Some(2) {
            failures.push(format!(
                "{name}: validate exited {:?}",
                validate.status.code()
            ));
        }
        if validate.stderr != render.stderr {
            failures.push(format!(
                "{name}: validate and render report different problems"
            ));
        }

        insta::with_settings!({
            snapshot_path => harness::project_root().join("tests/invalid-blueprints/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("blueprint render {rel} --out DIR  (exit code {:?})", render.status.code()),
        }, {
            insta::assert_snapshot!(name.as_str(), stderr);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &["render", "tests/invalid-blueprints/does-not-exist.yaml"],
        Some(tmp.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does-not-exist.yaml: error: cannot read the file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn one_invalid_file_among_valid_ones_blocks_every_write() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "render",
            "blueprints/guide-existing-cluster.yaml",
            "tests/invalid-blueprints/sidecar-mode.yaml",
        ],
        Some(tmp.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn every_snapshot_has_its_blueprint() {
    let dir = harness::project_root().join("tests/invalid-blueprints");
    for entry in std::fs::read_dir(dir.join("snapshots")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            path.extension().is_some_and(|e| e == "snap")
                && dir.join(format!("{stem}.yaml")).is_file(),
            "{} has no tests/invalid-blueprints/{stem}.yaml; remove it",
            path.display()
        );
    }
}
