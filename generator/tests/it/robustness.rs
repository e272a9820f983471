//! Properties of the loader and the validator over mutated inputs.
//!
//! * Every prefix of every example blueprint (cut at each line and inside lines) either validates or
//!   yields located diagnostics; nothing panics, and every diagnostic points inside the file.
//! * `Blueprint → YAML → Blueprint` round-trips: the typed blueprint, written back out through the
//!   generator's YAML emitter, loads and validates to an equal blueprint and an equal plan.

use std::path::PathBuf;

use blueprint::blueprint::load::Source;
use blueprint::blueprint::validate::validate;
use blueprint::plan::Plan;

fn examples() -> Vec<(String, String)> {
    let dir = harness::project_root().join("blueprints");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_prefix_validates_or_reports_located_problems() {
    let mut n_checked = 0;
    for (name, text) in examples() {
        let mut cuts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
        cuts.extend(
            (0..text.len())
                .step_by(7)
                .filter(|i| text.is_char_boundary(*i)),
        );
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            let prefix = &text[..cut];
            let source = Source {
                name: name.clone(),
                text: prefix.to_owned(),
            };
            match validate(&source) {
                Ok(_) => {}
                Err(diags) => {
                    assert!(
                        !diags.is_empty(),
                        "{name}[..{cut}]: Err without diagnostics"
                    );
                    for d in &diags {
                        assert!(
                            d.span.line >= 1 && d.span.column >= 1,
                            "{name}[..{cut}]: {d:?}"
                        );
                        assert!(
                            d.span.offset + d.span.len <= prefix.len(),
                            "{name}[..{cut}]: {d:?}"
                        );
                        assert!(
                            d.render(prefix)
                                .contains(&format!("{name}:{}:", d.span.line))
                        );
                    }
                }
            }
            n_checked += 1;
        }
    }
    assert!(n_checked > 400, "only {n_checked} prefixes checked");
}

#[test]
fn blueprints_round_trip_through_yaml() {
    for (name, text) in examples() {
        let source = Source {
            name: name.clone(),
            text,
        };
        let bp = validate(&source).expect("example is valid");
        let value = serde_json::to_value(&bp).unwrap();
        let written = blueprint::yaml::to_yaml(&value);
        let again = validate(&Source {
            name: name.clone(),
            text: written.clone(),
        })
        .unwrap_or_else(|diags| {
            let text: String = diags.iter().map(|d| d.render(&written)).collect();
            panic!("{name}: the written blueprint is invalid:\n{text}\n{written}")
        });
        assert_eq!(again, bp, "{name}");
        assert_eq!(Plan::new(&again), Plan::new(&bp), "{name}");
    }
}

/// Hostile YAML against the real binary, under a 100 MB data limit (see `harness::hostile_yaml`):
/// `validate` and `render` exit 2 with a located error, `render` writes nothing, and each run
/// stays within a generous time bound. The measured time and peak resident set are printed.
#[test]
fn hostile_yaml_is_a_located_error_in_bounded_memory_and_time() {
    use harness::hostile_yaml::{TIME_LIMIT, has_located_error, hostile_cases, run_bounded};

    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_blueprint"));
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in hostile_cases().into_iter().enumerate() {
        let file = dir.path().join(format!("hostile-{i}.yaml"));
        std::fs::write(&file, &case.text).unwrap();
        let file = file.to_str().unwrap().to_owned();
        let out_dir = dir.path().join(format!("out-{i}"));
        let out_arg = out_dir.to_str().unwrap().to_owned();
        for args in [
            vec!["validate", file.as_str()],
            vec!["render", file.as_str(), "--out", out_arg.as_str()],
        ] {
            let run = run_bounded(bin, &args, dir.path());
            println!(
                "blueprint {} on {}: exit {:?}, {:.2?}, peak RSS {} KiB",
                args[0],
                case.name,
                run.code,
                run.elapsed,
                run.peak_kib
                    .map_or("unmeasured".to_owned(), |k| k.to_string())
            );
            let output = format!("{}{}", run.stdout, run.stderr);
            assert_eq!(run.code, Some(2), "{} {}: {output}", args[0], case.name);
            assert!(
                has_located_error(&output, &file),
                "{} {}: no located error in {output}",
                args[0],
                case.name
            );
            assert!(
                run.elapsed < TIME_LIMIT,
                "{} {} took {:?}",
                args[0],
                case.name,
                run.elapsed
            );
            assert!(!out_dir.exists(), "{} {} wrote output", args[0], case.name);
        }
    }
}

/// Every file under `dir` (relative path → bytes), and every directory name, for byte comparison.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut entries = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if path.is_dir() {
                entries.insert(rel, None);
                stack.push(path);
            } else {
                entries.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    entries
}

/// `render` of two blueprints where the second's output directory is blocked (a file stands where
/// the directory must go): exit 3, the first blueprint's previous output is byte-for-byte what it
/// was (a hand-edited file in it stays edited, so a rewrite would show), no temporary directory is
/// left anywhere, and the message says that nothing was written.
#[test]
fn a_blocked_second_output_leaves_the_first_untouched() {
    let bin = env!("CARGO_BIN_EXE_blueprint");
    let root = harness::project_root().join("blueprints");
    let (first, second) = (
        root.join("guide-existing-cluster.yaml"),
        root.join("pod-identity.yaml"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let render = || {
        std::process::Command::new(bin)
            .arg("render")
            .arg(&first)
            .arg(&second)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let ok = render();
    assert!(ok.status.success(), "{ok:?}");
    let first_out = out.join("guide-existing-cluster");
    let second_out = out.join("pod-identity");
    assert!(first_out.join("kubernetes").is_dir() && second_out.is_dir());

    // Mark the first's output, and block the second's.
    let edited = first_out.join("kubernetes/namespace.yaml");
    let mut text = std::fs::read(&edited).unwrap();
    text.extend_from_slice(b"# hand edit\n");
    std::fs::write(&edited, &text).unwrap();
    std::fs::remove_dir_all(&second_out).unwrap();
    std::fs::write(&second_out, "not a directory\n").unwrap();
    let before = snapshot(tmp.path());

    let failed = render();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("pod-identity") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(failed.stdout.is_empty(), "{failed:?}");
    assert_eq!(snapshot(tmp.path()), before, "the output tree changed");
    assert!(
        !before
            .keys()
            .any(|p| p.to_string_lossy().contains(".blueprint-")),
        "temporaries left behind"
    );

    // The same with a fresh first output directory: it is not left behind half-created.
    std::fs::remove_dir_all(&first_out).unwrap();
    let before = snapshot(tmp.path());
    let failed = render();
    assert_eq!(failed.status.code(), Some(3), "{failed:?}");
    assert_eq!(snapshot(tmp.path()), before, "the output tree changed");
}
