//! `xray-collector prepare-dir --dir=PATH --owner=UID:GID`: creates a directory (and its parents)
//! and gives it to `UID:GID` with mode 0700. A daemonset's persistent queue lives in a node
//! directory (`hostPath`) that the kubelet creates owned by root; the blueprint's init container
//! runs this as root with only `CAP_CHOWN`, so the non-root collector can write its queue there,
//! with no other image and no shell.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What to prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareDir {
    /// The directory.
    pub dir: PathBuf,
    /// Its new owner.
    pub uid: u32,
    /// Its new group.
    pub gid: u32,
}

/// Why a directory could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("creating {0}")]
    Create(PathBuf, #[source] std::io::Error),
    #[error("changing the owner of {0} to {1}:{2}")]
    Chown(PathBuf, u32, u32, #[source] std::io::Error),
    #[error("setting the mode of {0} to 0700")]
    Mode(PathBuf, #[source] std::io::Error),
}

/// Parses `UID:GID`.
pub fn parse_owner(value: &str) -> Option<(u32, u32)> {
    let (uid, gid) = value.split_once(':')?;
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

impl PrepareDir {
    /// Creates the directory, then sets its owner and mode; idempotent.
    pub fn run(&self) -> Result<(), PrepareError> {
        let dir: &Path = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| PrepareError::Create(dir.to_owned(), e))?;
        std::os::unix::fs::chown(dir, Some(self.uid), Some(self.gid))
            .map_err(|e| PrepareError::Chown(dir.to_owned(), self.uid, self.gid, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| PrepareError::Mode(dir.to_owned(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn owners_parse() {
        assert_eq!(parse_owner("10001:10001"), Some((10001, 10001)));
        assert_eq!(parse_owner("10001"), None);
        assert_eq!(parse_owner("a:1"), None);
    }

    #[test]
    fn creates_the_directory_with_its_owner_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let meta = std::fs::metadata(tmp.path()).unwrap();
        // Giving a directory to its own owner needs no privilege, so this runs unprivileged.
        let prepare = PrepareDir {
            dir: dir.clone(),
            uid: meta.uid(),
            gid: meta.gid(),
        };
        prepare.run().unwrap();
        prepare.run().unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o700);
    }
}
