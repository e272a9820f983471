//! Deterministic layer archives: tar with fixed metadata, gzip with a fixed header, sha256 digests.
//!
//! Every tar header is written from the tree alone: owner 0:0 with no user or group names, the
//! given modification time for every entry, normalised modes, and entries in sorted path order.
//! The gzip stream has no file name and a zero time stamp, and the compressor (flate2's
//! miniz_oxide backend, pinned by `Cargo.lock`) is deterministic for a given level.

use std::io::Write;

use anyhow::Result;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::rootfs::{Node, Rootfs};

/// The gzip header's "unknown" operating system byte (RFC 1952), so the host OS does not leak in.
const GZIP_OS_UNKNOWN: u8 = 255;

/// The uncompressed layer tarball of a tree, every entry stamped with `mtime` (seconds since the
/// epoch).
pub fn tar(fs: &Rootfs, mtime: u64) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, node) in fs.entries() {
        let mut header = Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match node {
            Node::Dir { mode } => {
                header.set_entry_type(EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
            }
            Node::File { data, mode } => {
                header.set_entry_type(EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data.as_slice())?;
            }
            Node::Symlink { target } => {
                header.set_entry_type(EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

/// Gzip-compresses `data` at the best compression level with a header that carries no time, no
/// name and no operating system.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// The OCI digest string (`sha256:<hex>`) of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// A small tree, built in one order or the other.
    fn sample(order_reversed: bool) -> Rootfs {
        type Step = fn(&mut Rootfs);
        let mut steps: Vec<Step> = vec![
            |fs| {
                fs.add_file("/usr/local/bin/app", b"\x7fELF".to_vec(), true)
                    .unwrap()
            },
            |fs| {
                fs.add_file("/etc/passwd", b"root\n".to_vec(), false)
                    .unwrap()
            },
            |fs| fs.add_dir("/tmp", 0o1777).unwrap(),
            |fs| fs.add_symlink("/lib64/ld.so", "../usr/lib/ld.so").unwrap(),
        ];
        if order_reversed {
            steps.reverse();
        }
        let mut fs = Rootfs::new();
        for step in steps {
            step(&mut fs);
        }
        fs
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes_whatever_the_insertion_order() {
        let a = tar(&sample(false), 1_700_000_000).unwrap();
        let b = tar(&sample(true), 1_700_000_000).unwrap();
        assert_eq!(sha256_digest(&a), sha256_digest(&b));
        assert_eq!(gzip(&a).unwrap(), gzip(&b).unwrap());
        // A different time stamp is a different layer: the time is an input, not the clock.
        let c = tar(&sample(false), 1_700_000_001).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn headers_carry_only_fixed_metadata_and_parents_come_first() {
        let bytes = tar(&sample(false), 1_234_567_890).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = entry.path().unwrap().display().to_string();
            assert_eq!(header.uid().unwrap(), 0, "{path}");
            assert_eq!(header.gid().unwrap(), 0, "{path}");
            assert_eq!(header.mtime().unwrap(), 1_234_567_890, "{path}");
            assert_eq!(header.username().unwrap(), Some(""), "{path}");
            let parent = path.trim_end_matches('/').rsplit_once('/').map(|(p, _)| p);
            if let Some(parent) = parent {
                assert!(
                    seen.iter()
                        .any(|s: &String| s.trim_end_matches('/') == parent),
                    "{path} before its parent"
                );
            }
            match path.as_str() {
                "tmp/" => assert_eq!(header.mode().unwrap(), 0o1777),
                "usr/local/bin/app" => {
                    assert_eq!(header.mode().unwrap(), 0o755);
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).unwrap();
                    assert_eq!(data, b"\x7fELF");
                }
                "lib64/ld.so" => {
                    assert_eq!(header.entry_type(), EntryType::Symlink);
                    assert_eq!(
                        header.link_name().unwrap().unwrap().display().to_string(),
                        "../usr/lib/ld.so"
                    );
                }
                _ => {}
            }
            seen.push(path);
        }
        assert_eq!(seen.len(), 9, "{seen:?}");
    }

    #[test]
    fn gzip_header_has_no_time_and_no_name_and_round_trips() {
        let data = b"layer bytes".repeat(100);
        let gz = gzip(&data).unwrap();
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(gz[3], 0, "no FNAME/FEXTRA/FCOMMENT flags");
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "mtime is zero");
        assert_eq!(gz[9], GZIP_OS_UNKNOWN);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn digest_is_the_sha256_of_the_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
