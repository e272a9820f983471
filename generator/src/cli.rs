//! The command line: clap types, and `run`, which carries out one command and returns its exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::blueprint::load::Source;
use crate::blueprint::model::Blueprint;
use crate::blueprint::validate;
use crate::plan::Plan;
use crate::render::{self, Target};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: `render --check` found committed output that differs from a fresh render.
pub const EXIT_DRIFT: u8 = 1;
/// Exit code: a blueprint is invalid (or unreadable); nothing was written.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: the output could not be rendered or written; the previous output is unchanged.
pub const EXIT_FAILED: u8 = 3;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  render --check: the committed output differs from a fresh render
  2  invalid input: a blueprint could not be read or is invalid; nothing was written
  3  the output could not be rendered or written; the previous output is unchanged";

/// Renders X-Ray-on-EKS blueprints into Terraform, an AWS CDK cloud assembly and Kubernetes
/// manifests, deterministically.
#[derive(Debug, Parser)]
#[command(name = "blueprint", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate blueprints and write their output (or, with --check, compare it).
    #[command(after_help = EXIT_CODES)]
    Render(RenderArgs),
    /// Validate blueprints and report every problem, with file, line, column and field.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Print the blueprint JSON schema (the content of schemas/blueprint.schema.json).
    Schema,
}

/// Arguments of `blueprint render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Blueprint files. With one file the output goes to DIR/<target>/; with several, to
    /// DIR/<blueprint name>/<target>/ (the layout of golden/).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Render only these targets (repeatable); default: the blueprint's `spec.targets`.
    #[arg(long = "target", value_enum, value_name = "TARGET")]
    pub targets: Vec<TargetArg>,
    /// Write nothing; exit 1 and show a diff summary when DIR differs from a fresh render.
    #[arg(long)]
    pub check: bool,
}

/// Arguments of `blueprint validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Blueprint files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// A target on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Terraform, in terraform/.
    Terraform,
    /// The AWS CDK cloud assembly, in cdk/.
    Cdk,
    /// Kubernetes manifests, in kubernetes/.
    Kubernetes,
}

impl From<TargetArg> for Target {
    fn from(arg: TargetArg) -> Self {
        match arg {
            TargetArg::Terraform => Target::Terraform,
            TargetArg::Cdk => Target::Cdk,
            TargetArg::Kubernetes => Target::Kubernetes,
        }
    }
}

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

/// Reads and validates every file, printing every problem of every file. Returns the blueprints,
/// or the exit code when any file is unreadable or invalid.
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
            Ok(bp) => ok.push((path.clone(), bp)),
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
    for (dir, targets, files) in &rendered {
        if args.check {
            match check(dir, targets, files) {
                Ok(true) => {}
                Ok(false) => drift = true,
                Err(err) => {
                    eprintln!("error: cannot read {}: {err}", dir.display());
                    return EXIT_FAILED;
                }
            }
        } else if let Err(err) = render::write_atomically(dir, targets, files) {
            eprintln!(
                "error: cannot write {}: {err}; the previous output is unchanged",
                dir.display()
            );
            return EXIT_FAILED;
        } else {
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
