//! The `build` command: compiles the release collector, gathers the image metadata from cargo and
//! git, and writes the OCI layout and the docker-archive into an output directory.
//!
//! Output is written to a temporary sibling directory first and renamed into place, so a failed
//! build never leaves a partial image behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::elf;
use crate::oci::{Image, ImageMeta};
use crate::rootfs::{self, HostInputs};

/// The package whose binary is packaged.
pub const PACKAGE: &str = "xray-collector";

/// The repository the image is tagged with when none is given (the generator's default image).
pub const DEFAULT_REPOSITORY: &str = "ghcr.io/xray-blueprints/xray-collector";

/// The collector's default configuration, relative to the workspace root (the Dockerfile copies the
/// same file).
pub const DEFAULT_CONFIG_SOURCE: &str = "collector/default-config.yaml";

/// The file name of the docker-archive inside the output directory.
pub const ARCHIVE_FILE: &str = "xray-collector.tar";

/// The directory name of the OCI layout inside the output directory.
pub const LAYOUT_DIR: &str = "oci";

/// The file holding the manifest digest inside the output directory.
pub const DIGEST_FILE: &str = "digest";

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The output directory (replaced when it exists); default `<target dir>/image`.
    pub out: Option<PathBuf>,
    /// A prebuilt collector binary; when absent, `cargo build --release --locked -p xray-collector`
    /// builds it.
    pub binary: Option<PathBuf>,
    /// The repository the image is tagged with.
    pub repository: String,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The image, all blobs in memory.
    pub image: Image,
    /// The OCI layout directory.
    pub layout: PathBuf,
    /// The docker-archive tarball.
    pub archive: PathBuf,
    /// The image paths of the shared libraries and loader copied from the host.
    pub libraries: Vec<String>,
}

/// Runs the whole build.
pub fn build(options: &BuildOptions) -> Result<BuildReport> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = cargo_metadata(Path::new(&cargo))?;
    let root = PathBuf::from(str_field(&metadata, "workspace_root")?);
    let target_dir = PathBuf::from(str_field(&metadata, "target_directory")?);
    let package = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == PACKAGE))
        .with_context(|| format!("package {PACKAGE} is not in the workspace"))?;

    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            let status = Command::new(&cargo)
                .args(["build", "--release", "--locked", "-p", PACKAGE])
                .current_dir(&root)
                .status()
                .context("running cargo build")?;
            if !status.success() {
                bail!("cargo build --release -p {PACKAGE} failed ({status})");
            }
            target_dir.join("release").join(PACKAGE)
        }
    };

    let bytes = std::fs::read(&binary)
        .with_context(|| format!("reading the collector binary {}", binary.display()))?;
    let platform = elf::platform(&bytes).with_context(|| binary.display().to_string())?;
    let interpreter = goblin::elf::Elf::parse(&bytes)
        .ok()
        .and_then(|elf| elf.interpreter.map(PathBuf::from))
        .with_context(|| format!("{} is not dynamically linked", binary.display()))?;
    let inputs = HostInputs {
        binary: binary.clone(),
        host_root: PathBuf::from("/"),
        search_dirs: elf::loader_search_dirs(&interpreter, &platform),
        default_config: root.join(DEFAULT_CONFIG_SOURCE),
    };
    let (fs, deps) = rootfs::assemble(&inputs)?;

    let (revision, commit_time) = git_revision(&root)?;
    let created_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds"))?,
        Err(_) => commit_time,
    };
    let field = |name: &str| package[name].as_str().unwrap_or_default().to_owned();
    let meta = ImageMeta {
        repository: options.repository.clone(),
        version: field("version"),
        revision,
        source: field("repository"),
        licenses: field("license"),
        title: PACKAGE.to_owned(),
        description: field("description"),
        created_epoch,
        architecture: platform.architecture.to_owned(),
    };
    let image = Image::new(&fs, meta)?;

    let out = options
        .out
        .clone()
        .unwrap_or_else(|| target_dir.join("image"));
    write_output(&image, &out)?;
    let mut libraries: Vec<String> = deps.libraries.into_keys().collect();
    libraries.push(deps.interpreter);
    Ok(BuildReport {
        layout: out.join(LAYOUT_DIR),
        archive: out.join(ARCHIVE_FILE),
        image,
        libraries,
    })
}

/// Writes the layout, the archive and the digest file into a temporary sibling of `out`, then
/// moves it into place.
fn write_output(image: &Image, out: &Path) -> Result<()> {
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = out
        .file_name()
        .with_context(|| format!("{} has no file name", out.display()))?;
    let staging = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> Result<()> {
        std::fs::create_dir(&staging).with_context(|| format!("creating {}", staging.display()))?;
        image.write_layout(&staging.join(LAYOUT_DIR))?;
        std::fs::write(staging.join(ARCHIVE_FILE), image.docker_archive()?)
            .context("writing the docker-archive")?;
        std::fs::write(
            staging.join(DIGEST_FILE),
            format!("{}\n", image.manifest_digest()),
        )?;
        if out.exists() {
            std::fs::remove_dir_all(out)
                .with_context(|| format!("removing the previous {}", out.display()))?;
        }
        std::fs::rename(&staging, out)
            .with_context(|| format!("moving the image into {}", out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// `cargo metadata` of the workspace the command runs in.
fn cargo_metadata(cargo: &Path) -> Result<Value> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

fn str_field<'a>(value: &'a Value, name: &str) -> Result<&'a str> {
    value[name]
        .as_str()
        .with_context(|| format!("cargo metadata has no {name}"))
}

/// The commit the work tree is at (with `-dirty` when tracked files differ from it) and the
/// commit's time in seconds since the epoch.
fn git_revision(root: &Path) -> Result<(String, u64)> {
    let git = |args: &[&str]| -> Result<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .context("running git (the image records the commit it was built from)")?;
        if !out.status.success() {
            bail!(
                "git {} failed in {}: {}",
                args.join(" "),
                root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let time = git(&["log", "-1", "--format=%ct", "HEAD"])?;
    let time = time
        .parse()
        .with_context(|| format!("git commit time {time:?}"))?;
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    let revision = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    Ok((revision, time))
}
