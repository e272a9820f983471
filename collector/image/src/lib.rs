//! Packages the release `xray-collector` binary as a container image without a container engine.
//!
//! The image is written twice, from the same blobs: as an OCI image layout (a directory that
//! `skopeo`, `umoci`, `crane` and registries read) and as a `docker-archive` tarball that
//! `docker load` accepts. Everything that goes into it is a function of the inputs (the binary, the
//! host's shared libraries and CA certificates, the package metadata and the git commit): file
//! times, owners and ordering in the layer are fixed, the gzip header carries no time and no name,
//! and JSON documents are serialized with sorted keys. Building twice from the same commit on the
//! same host therefore gives the same manifest digest.
//!
//! The pipeline is `rootfs` (the file tree: binary, its shared libraries and loader, CA
//! certificates, `/etc/passwd`), `layer` (deterministic tar and gzip), `oci` (config, manifest,
//! index, layout and archive) and `build` (runs cargo and git, writes the output atomically).

pub mod build;
pub mod elf;
pub mod layer;
pub mod oci;
pub mod rootfs;

/// Where the collector binary lives in the image; the image's `ENTRYPOINT`.
pub const BINARY_PATH: &str = "/usr/local/bin/xray-collector";

/// Where the image's default configuration lives; the image's `CMD` is `--config=` this path, which
/// the operator's arguments replace.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/xray-collector/config.yaml";

/// The non-root user the image runs as (numeric, so Kubernetes can enforce `runAsNonRoot`).
pub const USER_ID: u32 = 10001;

/// The name of [`USER_ID`] in the image's `/etc/passwd` and of its group in `/etc/group`.
pub const USER_NAME: &str = "xray-collector";

/// The CA bundle path in the image (Debian's `ca-certificates` location, read by rustls-native-certs
/// and OpenSSL alike).
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The ports the collector listens on, as the image's `ExposedPorts`: the X-Ray daemon protocol
/// (UDP segments, TCP sampling proxy), OTLP gRPC and HTTP, the health check and the metrics.
pub const EXPOSED_PORTS: [&str; 6] = [
    "2000/udp",
    "2000/tcp",
    "4317/tcp",
    "4318/tcp",
    "13133/tcp",
    "8888/tcp",
];
