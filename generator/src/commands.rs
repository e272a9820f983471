//! Carrying out one `blueprint` command: validate, render, compare, write; returns the exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::blueprint::load::Source;
use crate::blueprint::model::Blueprint;
use crate::blueprint::validate;
use crate::cli::{Cli, Command, EXIT_DRIFT, EXIT_FAILED, EXIT_INVALID, EXIT_OK, RenderArgs};
use crate::plan::Plan;
use crate::render::{self, Target};

/// Runs a command, printing results to stdout and problems to stderr; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Schema => {
            print!("{}", validate::schema_text());
            EXIT_OK
        }
        Command::Validate(args) => match load_all(&args.files) {
            Ok(blueprints) => {
                for (path, bp) in &blueprints {
                    println!("{}: ok ({})", path.display(), bp.metadata.name);
                }
                EXIT_OK
            }
            Err(code) => code,
        },
        Command::Render(args) => render_command(&args),
    }
}

/// Reads and validates every file, printing every problem of every file, and the warnings of the
/// valid ones (on stderr, `warning: <file>:<line>:<column> <field>: <message>`). Returns the
/// blueprints, or the exit code when any file is unreadable or invalid.
fn load_all(files: &[PathBuf]) -> Result<Vec<(PathBuf, Blueprint)>, u8> {
    let mut ok = Vec::new();
    let mut problems = 0usize;
    let mut bad_files = 0usize;
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    eprintln!("{name}: error: the file is not UTF-8 text");
                    problems += 1;
                    bad_files += 1;
                    continue;
                }
            },
            Err(err) => {
                eprintln!("{name}: error: cannot read the file: {err}");
                problems += 1;
                bad_files += 1;
                continue;
            }
        };
        let source = Source { name, text };
        match validate::validate(&source) {
            Ok(bp) => {
                for w in validate::warnings(&source, &bp) {
                    eprintln!("warning: {}", w.headline());
                    if let Some(hint) = &w.hint {
                        eprintln!("  help: {hint}");
                    }
                }
                ok.push((path.clone(), bp));
            }
            Err(diags) => {
                for d in &diags {
                    eprint!("{}", d.render(&source.text));
                    eprintln!();
                }
                problems += diags.len();
                bad_files += 1;
            }
        }
    }
    if bad_files > 0 {
        eprintln!(
            "error: {problems} problem{} in {bad_files} file{}; nothing was written",
            plural(problems),
            plural(bad_files)
        );
        return Err(EXIT_INVALID);
    }
    Ok(ok)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn render_command(args: &RenderArgs) -> u8 {
    let blueprints = match load_all(&args.files) {
        Ok(it) => it,
        Err(code) => return code,
    };
    let mut names = BTreeSet::new();
    for (path, bp) in &blueprints {
        if !names.insert(bp.metadata.name.clone()) {
            eprintln!(
                "{}: error: another file also names its blueprint `{}`; nothing was written",
                path.display(),
                bp.metadata.name
            );
            return EXIT_INVALID;
        }
    }
    let nested = blueprints.len() > 1;
    let mut drift = false;
    // Render everything before writing anything, so one failure leaves every output untouched.
    let mut rendered = Vec::new();
    for (_, bp) in &blueprints {
        let plan = Plan::new(bp);
        let targets: Vec<Target> = if args.targets.is_empty() {
            plan.targets.iter().map(|&t| Target::from(t)).collect()
        } else {
            let set: BTreeSet<Target> = args.targets.iter().map(|&t| Target::from(t)).collect();
            set.into_iter().collect()
        };
        let files = match render::render(&plan, &targets) {
            Ok(files) => files,
            Err(err) => {
                eprintln!("error: {}: {err}", bp.metadata.name);
                return EXIT_FAILED;
            }
        };
        let dir = if nested {
            args.out.join(&bp.metadata.name)
        } else {
            args.out.clone()
        };
        rendered.push((dir, targets, files));
    }
    if args.check {
        for (dir, targets, files) in &rendered {
            match check(dir, targets, files) {
                Ok(true) => {}
                Ok(false) => drift = true,
                Err(err) => {
                    eprintln!("error: cannot read {}: {err}", dir.display());
                    return EXIT_FAILED;
                }
            }
        }
    } else {
        // Every output is staged before any is swapped in: all are written, or none is.
        let outputs: Vec<render::Output<'_>> = rendered
            .iter()
            .map(|(dir, targets, files)| render::Output {
                dir,
                targets,
                files,
            })
            .collect();
        if let Err(err) = render::write_all(&outputs) {
            eprintln!("error: {err}");
            return EXIT_FAILED;
        }
        for (dir, _, files) in &rendered {
            println!("{}: {} files", dir.display(), files.len());
        }
    }
    if drift {
        eprintln!(
            "error: the committed output differs from a fresh render; run the same command without --check and commit the result"
        );
        EXIT_DRIFT
    } else {
        EXIT_OK
    }
}

/// Compares a fresh render with what is in `dir`; prints a summary of every difference.
/// Returns whether they are identical.
fn check(
    dir: &Path,
    targets: &[Target],
    fresh: &BTreeMap<PathBuf, String>,
) -> std::io::Result<bool> {
    let committed = render::read_tree(dir, targets)?;
    let mut same = true;
    let keys: BTreeSet<&PathBuf> = fresh.keys().chain(committed.keys()).collect();
    for key in keys {
        let shown = dir.join(key);
        match (committed.get(key), fresh.get(key)) {
            (Some(old), Some(new)) if old == new => {}
            (Some(old), Some(new)) => {
                same = false;
                let diff = similar::TextDiff::from_lines(old, new);
                let (mut added, mut removed) = (0, 0);
                for change in diff.iter_all_changes() {
                    match change.tag() {
                        similar::ChangeTag::Insert => added += 1,
                        similar::ChangeTag::Delete => removed += 1,
                        similar::ChangeTag::Equal => {}
                    }
                }
                eprintln!("changed: {} (+{added} -{removed})", shown.display());
                let text = diff
                    .unified_diff()
                    .context_radius(2)
                    .header("committed", "fresh render")
                    .to_string();
                for line in text.lines().take(40) {
                    eprintln!("    {line}");
                }
            }
            (None, Some(_)) => {
                same = false;
                eprintln!("missing: {} (a fresh render writes it)", shown.display());
            }
            (Some(_), None) => {
                same = false;
                eprintln!(
                    "unexpected: {} (a fresh render does not write it)",
                    shown.display()
                );
            }
            (None, None) => {}
        }
    }
    Ok(same)
}
