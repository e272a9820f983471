//! `xray-collector-image`: builds the collector's container image without a container engine.
//!
//! `cargo run -p xray-collector-image --release -- build` compiles the release collector and writes
//! `target/image/oci` (an OCI image layout), `target/image/xray-collector.tar` (a docker-archive for
//! `docker load`) and `target/image/digest` (the manifest digest to pin in a blueprint). With
//! `--binary PATH` it packages an already-built collector and runs no cargo build (the image tests
//! package the release collector `tests/run` builds once).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xray_collector_image::build::{self, BuildOptions, DEFAULT_REPOSITORY};

/// Builds the xray-collector container image (OCI layout and docker-archive), reproducibly.
#[derive(Debug, Parser)]
#[command(name = "xray-collector-image", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Builds the release collector (`cargo build --release --locked -p xray-collector`) and
    /// packages it as an image; with `--binary`, packages that binary and builds nothing.
    Build {
        /// The output directory (replaced if it exists). Default: `<target dir>/image`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Package this already-built collector binary (e.g. `target/release/xray-collector`)
        /// instead of building the release collector: no cargo build runs.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// The repository the image is tagged with (the tag is the collector's version).
        #[arg(long, default_value = DEFAULT_REPOSITORY)]
        repository: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Build {
            out,
            binary,
            repository,
        } => {
            let options = BuildOptions {
                out,
                binary,
                repository,
            };
            match build::build(&options) {
                Ok(report) => {
                    let image = &report.image;
                    println!("image:           {}", image.meta.reference());
                    println!("revision:        {}", image.meta.revision);
                    println!("manifest digest: {}", image.manifest_digest());
                    println!("config digest:   {}", image.config_digest());
                    println!(
                        "size:            {} bytes compressed (manifest, config, gzip layer), {} bytes uncompressed layer",
                        image.compressed_size(),
                        image.layer_tar.len()
                    );
                    println!("host libraries:  {}", report.libraries.join(" "));
                    println!("oci layout:      {}", report.layout.display());
                    println!("docker-archive:  {}", report.archive.display());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
