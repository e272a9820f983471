//! The `xray-collector` binary; everything is in the library (`cli::main`).

use std::process::ExitCode;

fn main() -> ExitCode {
    xray_collector::cli::main(std::env::args().skip(1))
}
