//! The image documents (config, manifest, index) and the two output formats: an OCI image layout
//! directory and a `docker-archive` tarball.
//!
//! JSON documents are compact, with keys in sorted order, so that their digests depend on their
//! content only. The docker-archive holds the same config and the uncompressed layer (the form
//! `docker save` writes), so `docker load` gives an image whose ID is the config digest of the OCI
//! layout.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use crate::layer::{gzip, sha256_digest, tar};
use crate::rootfs::Rootfs;
use crate::{BINARY_PATH, CA_BUNDLE_PATH, DEFAULT_CONFIG_PATH, EXPOSED_PORTS, USER_ID};

/// The OCI media types this packager writes.
pub mod media_type {
    /// An image index (`index.json`).
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// An image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// An image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// A gzip-compressed layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
}

/// What the image says about itself: OCI annotations, the tag and the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMeta {
    /// The repository the image is published to, for example `ghcr.io/xray-blueprints/xray-collector`.
    pub repository: String,
    /// The collector's version; also the tag.
    pub version: String,
    /// The git commit the image was built from (`-dirty` appended when the work tree had changes).
    pub revision: String,
    /// The source repository URL.
    pub source: String,
    /// The SPDX license expression of the collector.
    pub licenses: String,
    /// The image title.
    pub title: String,
    /// A one-line description.
    pub description: String,
    /// The creation time in seconds since the epoch (`SOURCE_DATE_EPOCH`, or the commit time).
    pub created_epoch: u64,
    /// The OCI architecture (`amd64`, `arm64`).
    pub architecture: String,
}

impl ImageMeta {
    /// `repository:version`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.version)
    }

    /// The `org.opencontainers.image.*` annotations (also the config's labels).
    pub fn annotations(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |key: &str, value: &str| {
            map.insert(
                format!("org.opencontainers.image.{key}"),
                Value::from(value),
            );
        };
        put("created", &rfc3339(self.created_epoch));
        put("description", &self.description);
        put("licenses", &self.licenses);
        put("revision", &self.revision);
        put("source", &self.source);
        put("title", &self.title);
        put("version", &self.version);
        map
    }
}

/// A built image: every blob, in memory.
#[derive(Debug, Clone)]
pub struct Image {
    /// The tag and annotations the image was built with.
    pub meta: ImageMeta,
    /// The image config (JSON).
    pub config: Vec<u8>,
    /// The uncompressed layer (its digest is the config's `diff_id`).
    pub layer_tar: Vec<u8>,
    /// The gzip-compressed layer (the blob the manifest names).
    pub layer_gzip: Vec<u8>,
    /// The image manifest (JSON).
    pub manifest: Vec<u8>,
    /// The layout's `index.json`.
    pub index: Vec<u8>,
}

impl Image {
    /// Builds the image of a tree.
    pub fn new(fs: &Rootfs, meta: ImageMeta) -> Result<Self> {
        let layer_tar = tar(fs, meta.created_epoch).context("writing the layer tarball")?;
        let layer_gzip = gzip(&layer_tar).context("compressing the layer")?;
        let created = rfc3339(meta.created_epoch);
        let ports: Map<String, Value> = EXPOSED_PORTS
            .iter()
            .map(|port| ((*port).to_owned(), json!({})))
            .collect();
        let config = json!({
            "architecture": meta.architecture,
            "config": {
                "Cmd": [format!("--config={DEFAULT_CONFIG_PATH}")],
                "Entrypoint": [BINARY_PATH],
                "Env": [
                    "PATH=/usr/local/bin:/usr/bin:/bin",
                    format!("SSL_CERT_FILE={CA_BUNDLE_PATH}"),
                ],
                "ExposedPorts": ports,
                "Labels": meta.annotations(),
                "User": format!("{USER_ID}:{USER_ID}"),
                "WorkingDir": "/",
            },
            "created": created,
            "history": [{
                "comment": "xray-collector with its glibc libraries, CA certificates and a non-root user",
                "created": created,
                "created_by": "xray-collector-image build",
            }],
            "os": "linux",
            "rootfs": {
                "diff_ids": [sha256_digest(&layer_tar)],
                "type": "layers",
            },
        });
        let config = to_json(&config)?;
        let manifest = json!({
            "annotations": meta.annotations(),
            "config": descriptor(media_type::CONFIG, &config),
            "layers": [descriptor(media_type::LAYER_GZIP, &layer_gzip)],
            "mediaType": media_type::MANIFEST,
            "schemaVersion": 2,
        });
        let manifest = to_json(&manifest)?;
        let mut entry = descriptor(media_type::MANIFEST, &manifest);
        entry["annotations"] = json!({
            "io.containerd.image.name": meta.reference(),
            "org.opencontainers.image.ref.name": meta.version,
        });
        entry["platform"] = json!({"architecture": meta.architecture, "os": "linux"});
        let index = json!({
            "manifests": [entry],
            "mediaType": media_type::INDEX,
            "schemaVersion": 2,
        });
        let index = to_json(&index)?;
        Ok(Self {
            meta,
            config,
            layer_tar,
            layer_gzip,
            manifest,
            index,
        })
    }

    /// The manifest digest: what a blueprint pins as `image.digest`.
    pub fn manifest_digest(&self) -> String {
        sha256_digest(&self.manifest)
    }

    /// The config digest (the image ID Docker shows after `docker load`).
    pub fn config_digest(&self) -> String {
        sha256_digest(&self.config)
    }

    /// The bytes a registry stores and a node pulls: manifest, config and compressed layer.
    pub fn compressed_size(&self) -> usize {
        self.manifest.len() + self.config.len() + self.layer_gzip.len()
    }

    /// The OCI layout as a tree: `oci-layout`, `index.json` and `blobs/sha256/*`.
    pub fn layout(&self) -> Result<Rootfs> {
        let mut fs = Rootfs::new();
        fs.add_file(
            "oci-layout",
            b"{\"imageLayoutVersion\":\"1.0.0\"}\n".to_vec(),
            false,
        )?;
        fs.add_file("index.json", self.index.clone(), false)?;
        for blob in [&self.manifest, &self.config, &self.layer_gzip] {
            fs.add_file(&blob_path(blob), blob.clone(), false)?;
        }
        Ok(fs)
    }

    /// Writes the OCI layout into `dir` (which must not exist yet).
    pub fn write_layout(&self, dir: &Path) -> Result<()> {
        write_tree(&self.layout()?, dir)
    }

    /// The `docker-archive` tarball: `manifest.json`, the config and the uncompressed layer, with
    /// the same fixed tar metadata as the layer.
    pub fn docker_archive(&self) -> Result<Vec<u8>> {
        let manifest = json!([{
            "Config": blob_path(&self.config),
            "Layers": [blob_path(&self.layer_tar)],
            "RepoTags": [self.meta.reference()],
        }]);
        let mut fs = Rootfs::new();
        fs.add_file("manifest.json", to_json(&manifest)?, false)?;
        fs.add_file(&blob_path(&self.config), self.config.clone(), false)?;
        fs.add_file(&blob_path(&self.layer_tar), self.layer_tar.clone(), false)?;
        tar(&fs, self.meta.created_epoch)
    }
}

/// `blobs/sha256/<hex>` of a blob.
fn blob_path(blob: &[u8]) -> String {
    format!("blobs/{}", sha256_digest(blob).replacen(':', "/", 1))
}

/// An OCI content descriptor of a blob.
fn descriptor(media_type: &str, blob: &[u8]) -> Value {
    json!({"digest": sha256_digest(blob), "mediaType": media_type, "size": blob.len()})
}

/// Compact JSON with object keys sorted (recursively), whatever serde_json's map ordering.
fn to_json(value: &Value) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&sorted(value))?)
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Writes a tree to `dir` (files, directories and symbolic links; modes as in the tree).
pub fn write_tree(fs: &Rootfs, dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;

    use crate::rootfs::Node;

    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (path, node) in fs.entries() {
        let target = dir.join(path);
        match node {
            Node::Dir { mode } => {
                std::fs::create_dir(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
            }
            Node::File { data, mode } => {
                std::fs::write(&target, data)
                    .with_context(|| format!("writing {}", target.display()))?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
            }
            Node::Symlink { target: link } => std::os::unix::fs::symlink(link, &target)
                .with_context(|| format!("linking {}", target.display()))?,
        }
    }
    Ok(())
}

/// An RFC 3339 UTC time stamp (`YYYY-MM-DDTHH:MM:SSZ`) of seconds since the epoch.
pub fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn meta() -> ImageMeta {
        ImageMeta {
            repository: "example.invalid/xray-collector".into(),
            version: "1.2.3".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            source: "https://example.invalid/src".into(),
            licenses: "Apache-2.0".into(),
            title: "xray-collector".into(),
            description: "test".into(),
            created_epoch: 1_764_000_000,
            architecture: "amd64".into(),
        }
    }

    fn tree() -> Rootfs {
        let mut fs = Rootfs::new();
        fs.add_file(BINARY_PATH, b"\x7fELF binary".to_vec(), true)
            .unwrap();
        fs.add_dir("/tmp", 0o1777).unwrap();
        fs
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_000_000), "2025-11-24T16:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn documents_reference_each_other_by_digest_and_size() {
        let image = Image::new(&tree(), meta()).unwrap();
        let index: Value = serde_json::from_slice(&image.index).unwrap();
        let entry = &index["manifests"][0];
        assert_eq!(entry["digest"], image.manifest_digest());
        assert_eq!(entry["size"], image.manifest.len());
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            "1.2.3"
        );
        let manifest: Value = serde_json::from_slice(&image.manifest).unwrap();
        assert_eq!(manifest["config"]["digest"], image.config_digest());
        assert_eq!(
            manifest["layers"][0]["digest"],
            sha256_digest(&image.layer_gzip)
        );
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.revision"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        let config: Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            sha256_digest(&image.layer_tar)
        );
        assert_eq!(config["config"]["User"], "10001:10001");
        assert_eq!(config["config"]["Entrypoint"], json!([BINARY_PATH]));
        assert_eq!(
            config["config"]["Cmd"],
            json!(["--config=/etc/xray-collector/config.yaml"])
        );
        assert_eq!(config["created"], "2025-11-24T16:00:00Z");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(image.layer_gzip.as_slice())
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, image.layer_tar);
    }

    #[test]
    fn json_keys_are_sorted() {
        let image = Image::new(&tree(), meta()).unwrap();
        let text = String::from_utf8(image.config.clone()).unwrap();
        let arch = text.find("\"architecture\"").unwrap();
        let os = text.find("\"os\"").unwrap();
        let rootfs = text.find("\"rootfs\"").unwrap();
        assert!(arch < os && os < rootfs, "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn every_input_that_matters_changes_the_digest_and_nothing_else_does() {
        let a = Image::new(&tree(), meta()).unwrap();
        let b = Image::new(&tree(), meta()).unwrap();
        assert_eq!(a.manifest_digest(), b.manifest_digest());
        assert_eq!(a.docker_archive().unwrap(), b.docker_archive().unwrap());
        let mut other_commit = meta();
        other_commit.revision = "fedcba9876543210fedcba9876543210fedcba98".into();
        let c = Image::new(&tree(), other_commit).unwrap();
        assert_ne!(a.manifest_digest(), c.manifest_digest());
        // The layer depends on the tree and time stamp only, not on the commit.
        assert_eq!(a.layer_gzip, c.layer_gzip);
        let mut fs = tree();
        fs.add_file("/etc/extra", b"x".to_vec(), false).unwrap();
        let d = Image::new(&fs, meta()).unwrap();
        assert_ne!(a.layer_gzip, d.layer_gzip);
    }

    #[test]
    fn docker_archive_names_the_config_and_the_uncompressed_layer() {
        let image = Image::new(&tree(), meta()).unwrap();
        let bytes = image.docker_archive().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut files = std::collections::BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(path, data);
        }
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config_path = manifest[0]["Config"].as_str().unwrap();
        let layer_path = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(files[config_path], image.config);
        assert_eq!(files[layer_path], image.layer_tar);
        assert_eq!(
            manifest[0]["RepoTags"],
            json!(["example.invalid/xray-collector:1.2.3"])
        );
    }
}
