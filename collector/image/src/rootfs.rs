//! The image's root file system, as an ordered tree held in memory.
//!
//! The tree is a map from path (relative, no leading `/`) to node, so its iteration order is the
//! sorted path order no matter in which order files were added; parents sort before their children.
//! Modes are normalised (0755 for directories and executables, 0644 for other files) so that the
//! host's umask or file modes never reach the image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::elf::{self, Dependencies};
use crate::{BINARY_PATH, CA_BUNDLE_PATH, DEFAULT_CONFIG_PATH, USER_ID, USER_NAME};

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory with its permission bits.
    Dir { mode: u32 },
    /// A regular file with its contents and permission bits.
    File { data: Vec<u8>, mode: u32 },
    /// A symbolic link and its target.
    Symlink { target: String },
}

/// A root file system: relative path to node, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rootfs {
    nodes: BTreeMap<String, Node>,
}

impl Rootfs {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entries in archive order (sorted by path, parents first).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(path, node)| (path.as_str(), node))
    }

    /// The node at `path` (absolute or relative).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path.trim_start_matches('/'))
    }

    /// Adds a directory and its missing parents.
    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<()> {
        let path = normalise(path)?;
        self.add_parents(&path)?;
        match self.nodes.get(&path) {
            None | Some(Node::Dir { .. }) => {
                self.nodes.insert(path, Node::Dir { mode });
                Ok(())
            }
            Some(_) => bail!("{path} is already in the image as a file"),
        }
    }

    /// Adds a regular file (and its missing parent directories); a path can be added once.
    pub fn add_file(&mut self, path: &str, data: Vec<u8>, executable: bool) -> Result<()> {
        let mode = if executable { 0o755 } else { 0o644 };
        self.insert(path, Node::File { data, mode })
    }

    /// Adds a symbolic link (and its missing parent directories).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(
            path,
            Node::Symlink {
                target: target.to_owned(),
            },
        )
    }

    fn insert(&mut self, path: &str, node: Node) -> Result<()> {
        let path = normalise(path)?;
        self.add_parents(&path)?;
        if self.nodes.contains_key(&path) {
            bail!("{path} is added to the image twice");
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    fn add_parents(&mut self, path: &str) -> Result<()> {
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').collect();
        for component in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match self.nodes.get(&parent) {
                None => {
                    self.nodes.insert(parent.clone(), Node::Dir { mode: 0o755 });
                }
                Some(Node::Dir { .. }) => {}
                Some(_) => bail!("{parent} is a file in the image, not a directory"),
            }
        }
        Ok(())
    }
}

/// Strips the leading `/` and rejects empty, `.` and `..` components.
fn normalise(path: &str) -> Result<String> {
    let rel = path.trim_start_matches('/').trim_end_matches('/');
    if rel.is_empty()
        || rel
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        bail!("invalid image path {path:?}");
    }
    Ok(rel.to_owned())
}

/// The host files that go into the image.
#[derive(Debug, Clone)]
pub struct HostInputs {
    /// The collector binary.
    pub binary: PathBuf,
    /// The host root the libraries and CA bundle are read from (`/` outside tests).
    pub host_root: PathBuf,
    /// The directories the loader searches, in order.
    pub search_dirs: Vec<PathBuf>,
    /// The collector's default configuration (`collector/default-config.yaml`), installed at
    /// [`DEFAULT_CONFIG_PATH`].
    pub default_config: PathBuf,
}

/// The `/etc/passwd` of the image: root (for tools that expect it) and the collector's user.
pub fn passwd() -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n{USER_NAME}:x:{USER_ID}:{USER_ID}:{USER_NAME}:/nonexistent:/usr/sbin/nologin\n"
    )
}

/// The `/etc/group` of the image.
pub fn group() -> String {
    format!("root:x:0:\n{USER_NAME}:x:{USER_ID}:\n")
}

/// Name-service lookups from files, and host names from DNS (`/etc/resolv.conf` is mounted by
/// the container runtime).
pub const NSSWITCH: &str = "passwd: files\ngroup: files\nhosts: files dns\n";

/// Assembles the image's tree: the binary at [`BINARY_PATH`], its loader and libraries, the CA
/// bundle, the default configuration, `/etc/passwd`, `/etc/group`, `/etc/nsswitch.conf` and a world-writable `/tmp`.
pub fn assemble(inputs: &HostInputs) -> Result<(Rootfs, Dependencies)> {
    let binary = std::fs::read(&inputs.binary)
        .with_context(|| format!("reading the collector binary {}", inputs.binary.display()))?;
    elf::platform(&binary).with_context(|| inputs.binary.display().to_string())?;
    let deps = elf::resolve(&binary, &inputs.host_root, &inputs.search_dirs)
        .with_context(|| format!("resolving the libraries of {}", inputs.binary.display()))?;

    let mut fs = Rootfs::new();
    fs.add_file(BINARY_PATH, binary, true)?;

    let loader_host = elf::host_path(&inputs.host_root, Path::new(&deps.interpreter));
    let loader = std::fs::read(&loader_host)
        .with_context(|| format!("reading the dynamic loader {}", loader_host.display()))?;
    fs.add_file(&deps.interpreter, loader, true)?;
    for (image_path, host) in &deps.libraries {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        fs.add_file(image_path, data, true)?;
    }

    let ca_host = elf::host_path(&inputs.host_root, Path::new(CA_BUNDLE_PATH));
    let ca = std::fs::read(&ca_host).with_context(|| {
        format!(
            "reading the CA bundle {} (install the Debian package ca-certificates)",
            ca_host.display()
        )
    })?;
    fs.add_file(CA_BUNDLE_PATH, ca, false)?;
    let config = std::fs::read(&inputs.default_config).with_context(|| {
        format!(
            "reading the default configuration {}",
            inputs.default_config.display()
        )
    })?;
    fs.add_file(DEFAULT_CONFIG_PATH, config, false)?;
    fs.add_file("/etc/passwd", passwd().into_bytes(), false)?;
    fs.add_file("/etc/group", group().into_bytes(), false)?;
    fs.add_file("/etc/nsswitch.conf", NSSWITCH.as_bytes().to_vec(), false)?;
    fs.add_dir("/tmp", 0o1777)?;
    Ok((fs, deps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_insertion_does_not_change_the_tree() {
        let mut a = Rootfs::new();
        a.add_file("/etc/passwd", b"p".to_vec(), false).unwrap();
        a.add_file("/usr/local/bin/x", b"x".to_vec(), true).unwrap();
        a.add_dir("/tmp", 0o1777).unwrap();
        let mut b = Rootfs::new();
        b.add_dir("/tmp", 0o1777).unwrap();
        b.add_file("/usr/local/bin/x", b"x".to_vec(), true).unwrap();
        b.add_file("/etc/passwd", b"p".to_vec(), false).unwrap();
        assert_eq!(a, b);
        let paths: Vec<&str> = a.entries().map(|(path, _)| path).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/passwd",
                "tmp",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/x"
            ]
        );
    }

    #[test]
    fn bad_paths_and_duplicates_are_rejected() {
        let mut fs = Rootfs::new();
        assert!(fs.add_file("/etc/../passwd", vec![], false).is_err());
        assert!(fs.add_file("/", vec![], false).is_err());
        fs.add_file("/etc/passwd", vec![], false).unwrap();
        let err = fs.add_file("/etc/passwd", vec![], false).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let err = fs.add_file("/etc/passwd/x", vec![], false).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn passwd_has_a_non_root_user_with_the_image_uid() {
        let line = passwd()
            .lines()
            .find(|line| line.starts_with(USER_NAME))
            .map(str::to_owned)
            .unwrap();
        let fields: Vec<&str> = line.split(':').collect();
        assert_eq!(fields[2], USER_ID.to_string());
        assert_eq!(fields[3], USER_ID.to_string());
        assert_ne!(USER_ID, 0);
    }

    #[test]
    fn assemble_reports_a_missing_ca_bundle_with_the_package_to_install() {
        // A host root with the loader and libraries (links to the real ones) but no CA bundle.
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        let platform = elf::platform(&bytes).unwrap();
        let deps_real = {
            let interp = goblin::elf::Elf::parse(&bytes)
                .unwrap()
                .interpreter
                .unwrap()
                .to_owned();
            let dirs = elf::loader_search_dirs(Path::new(&interp), &platform);
            (elf::resolve(&bytes, Path::new("/"), &dirs).unwrap(), dirs)
        };
        let (deps, dirs) = deps_real;
        let root = tempfile::tempdir().unwrap();
        let mut links = vec![(deps.interpreter.clone(), PathBuf::from(&deps.interpreter))];
        links.extend(
            deps.libraries
                .iter()
                .map(|(image, host)| (image.clone(), host.clone())),
        );
        for (image, host) in links {
            let fake = elf::host_path(root.path(), Path::new(&image));
            std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
            std::fs::copy(host, fake).unwrap();
        }
        let inputs = HostInputs {
            binary: exe,
            host_root: root.path().to_owned(),
            search_dirs: dirs,
            default_config: root.path().join("default-config.yaml"),
        };
        std::fs::write(&inputs.default_config, "receivers: {}\n").unwrap();
        let err = assemble(&inputs).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("ca-certificates.crt") && text.contains("install the Debian package"),
            "{text}"
        );

        // With the bundle in place, the tree has everything the entrypoint needs.
        let ca = elf::host_path(root.path(), Path::new(CA_BUNDLE_PATH));
        std::fs::create_dir_all(ca.parent().unwrap()).unwrap();
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let (fs, deps) = assemble(&inputs).unwrap();
        assert!(matches!(
            fs.get(BINARY_PATH),
            Some(Node::File { mode: 0o755, .. })
        ));
        assert!(matches!(fs.get(&deps.interpreter), Some(Node::File { .. })));
        assert!(matches!(fs.get("/tmp"), Some(Node::Dir { mode: 0o1777 })));
        assert!(matches!(
            fs.get(DEFAULT_CONFIG_PATH),
            Some(Node::File { data, .. }) if data == b"receivers: {}\n"
        ));
        assert!(matches!(
            fs.get("/etc/passwd"),
            Some(Node::File { mode: 0o644, .. })
        ));
    }
}
