//! The `blueprint` command. Parsing lives in `cli.rs` and running in `commands.rs`; this only maps the outcome to an
//! exit code (0 ok, 1 drift found by `render --check`, 2 invalid input, 3 output not written).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = blueprint::cli::Cli::parse();
    ExitCode::from(blueprint::commands::run(args))
}
