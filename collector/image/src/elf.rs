//! Finds the shared libraries and the dynamic loader a dynamically linked ELF binary needs.
//!
//! The release collector is linked against glibc, so the image carries the loader named by the
//! binary's `PT_INTERP` and every library reachable through `DT_NEEDED`, taken from the build host.
//! Libraries are looked up in the loader's own system search directories (which it prints with
//! `--help`), and are placed at the same path in the image, so the image's loader finds them
//! without an `ld.so.cache`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use goblin::elf::Elf;
use goblin::elf::header::{EM_AARCH64, EM_X86_64};

/// What a binary needs at run time, resolved against the build host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    /// The dynamic loader's path as the binary names it (`PT_INTERP`), for example
    /// `/lib64/ld-linux-x86-64.so.2`.
    pub interpreter: String,
    /// Each needed library: its path in the image, mapped to the host file that provides it.
    pub libraries: BTreeMap<String, PathBuf>,
}

/// The facts about a binary the image config needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The OCI architecture name (`amd64`, `arm64`).
    pub architecture: &'static str,
    /// The Debian multiarch triplet of the loader's library directories.
    pub multiarch: &'static str,
}

/// Reads the platform of an ELF binary.
pub fn platform(binary: &[u8]) -> Result<Platform> {
    let elf = Elf::parse(binary).context("not an ELF binary")?;
    match elf.header.e_machine {
        EM_X86_64 => Ok(Platform {
            architecture: "amd64",
            multiarch: "x86_64-linux-gnu",
        }),
        EM_AARCH64 => Ok(Platform {
            architecture: "arm64",
            multiarch: "aarch64-linux-gnu",
        }),
        other => bail!("unsupported ELF machine {other} (only x86-64 and aarch64 are packaged)"),
    }
}

/// The `DT_NEEDED` entries and `PT_INTERP` of one ELF file.
fn needed(bytes: &[u8]) -> Result<(Option<String>, Vec<String>)> {
    let elf = Elf::parse(bytes).context("not an ELF file")?;
    let interpreter = elf.interpreter.map(str::to_owned);
    let libraries = elf
        .libraries
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    Ok((interpreter, libraries))
}

/// The system search directories of a glibc loader, from `<loader> --help` (glibc 2.33 and newer),
/// or Debian's multiarch defaults when the loader does not print them.
pub fn loader_search_dirs(loader: &Path, platform: &Platform) -> Vec<PathBuf> {
    let printed = Command::new(loader)
        .arg("--help")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| parse_search_dirs(&String::from_utf8_lossy(&out.stdout)))
        .unwrap_or_default();
    if !printed.is_empty() {
        return printed;
    }
    let triplet = platform.multiarch;
    [
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib".to_owned(),
        "/usr/lib".to_owned(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

/// Picks the `<dir> (system search path)` lines out of `ld.so --help`.
fn parse_search_dirs(help: &str) -> Vec<PathBuf> {
    help.lines()
        .filter_map(|line| line.trim().strip_suffix("(system search path)"))
        .map(|dir| PathBuf::from(dir.trim()))
        .collect()
}

/// Resolves the loader and every library the binary needs, transitively, in `search_dirs` (host
/// directories searched in order; `root` is prepended to each, so tests can resolve against a fake
/// tree). A statically linked binary has no interpreter and is rejected: the image layout assumes
/// the glibc loader.
pub fn resolve(binary: &[u8], root: &Path, search_dirs: &[PathBuf]) -> Result<Dependencies> {
    let (interpreter, first) = needed(binary)?;
    let Some(interpreter) = interpreter else {
        bail!("the binary has no PT_INTERP (statically linked); this packager expects glibc");
    };
    let loader_name = Path::new(&interpreter)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut libraries = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = first;
    while let Some(name) = queue.pop() {
        // The loader is already mapped when libc names it: no search, and no second copy.
        if name == loader_name || !seen.insert(name.clone()) {
            continue;
        }
        let Some(dir) = search_dirs
            .iter()
            .find(|dir| host_path(root, dir).join(&name).is_file())
        else {
            bail!(
                "shared library {name} not found in {}",
                search_dirs
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let host = host_path(root, dir).join(&name);
        let bytes = std::fs::read(&host).with_context(|| format!("reading {}", host.display()))?;
        let (_, more) = needed(&bytes).with_context(|| format!("reading {}", host.display()))?;
        queue.extend(more);
        libraries.insert(dir.join(&name).display().to_string(), host);
    }
    Ok(Dependencies {
        interpreter,
        libraries,
    })
}

/// `path` (absolute) below `root`.
pub fn host_path(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_dirs_are_read_from_the_loader_help() {
        let help = "Shared library search path:\n  (libraries located via /etc/ld.so.cache)\n  /lib/x86_64-linux-gnu (system search path)\n  /usr/lib (system search path)\n\nSubdirectories of glibc-hwcaps directories, in priority order:\n  x86-64-v4 (supported, searched)\n";
        assert_eq!(
            parse_search_dirs(help),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu"),
                PathBuf::from("/usr/lib")
            ]
        );
    }

    #[test]
    fn this_test_binary_resolves_to_libc_and_its_loader() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let platform = platform(&exe).unwrap();
        let (interp, _) = needed(&exe).unwrap();
        let interp = interp.expect("test binaries are dynamically linked");
        let dirs = loader_search_dirs(Path::new(&interp), &platform);
        let deps = resolve(&exe, Path::new("/"), &dirs).unwrap();
        assert_eq!(deps.interpreter, interp);
        assert!(
            deps.libraries
                .keys()
                .any(|path| path.ends_with("/libc.so.6")),
            "{deps:?}"
        );
        // The loader is never copied as a library: libc names it, but it is the interpreter.
        assert!(
            !deps
                .libraries
                .keys()
                .any(|path| path.ends_with("/ld-linux-x86-64.so.2")),
            "{deps:?}"
        );
        for (image_path, host) in &deps.libraries {
            assert!(host.is_file(), "{image_path} -> {}", host.display());
        }
    }

    #[test]
    fn a_missing_library_is_named_in_the_error() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let err = resolve(&exe, empty.path(), &[PathBuf::from("/lib")]).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(".so") && text.contains("not found in /lib"),
            "{text}"
        );
    }

    #[test]
    fn a_file_that_is_not_elf_is_rejected() {
        let err = platform(b"#!/bin/sh\necho hi\n").unwrap_err();
        assert!(format!("{err:#}").contains("not an ELF binary"), "{err:#}");
    }
}
