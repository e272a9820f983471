//! The `blueprint` command. Parsing and running live in `cli.rs`; this only maps the outcome to an
//! exit code (0 ok, 1 drift found by `render --check`, 2 invalid input or failure).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = blueprint::cli::Cli::parse();
    ExitCode::from(blueprint::cli::run(args))
}
