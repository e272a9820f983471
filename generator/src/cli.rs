//! The command line: clap types only. `commands.rs` carries them out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::Target;

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
