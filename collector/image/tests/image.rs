//! End-to-end checks of the collector image, built by the documented command.
//!
//! Each test runs `xray-collector-image build --binary target/release/xray-collector`, which
//! packages the release collector that `tests/run` built once before the tests (no test runs a
//! cargo build: a build inside a test is slow and, with the test's environment, rebuilds
//! dependencies) into the test's own output directory under `target/image-tests/`. The image is
//! then read back with Debian's `skopeo` and `umoci`, unpacked, and its entrypoint is run inside
//! the unpacked root file system the way the OpenTelemetry Operator starts the container.
//!
//! * `skopeo inspect` reads the layout (digest, non-root numeric user, entrypoint, ports,
//!   annotations with the `HEAD` revision), and the docker-archive gives the same config.
//! * `umoci unpack` unpacks the layout; the runtime spec it derives has the uid and args. Then
//!   `xray-collector validate` on the `CMD`'s default configuration must pass inside the root file
//!   system, and the entrypoint runs there with `chroot --userspec=10001:10001` as the operator
//!   starts it (`--config=/conf/collector.yaml --feature-gates=...`): 200 on the health check,
//!   then SIGTERM and exit 0. Inside the chroot only the image's own loader and libraries exist,
//!   so this proves the root file system is self-contained. Without root, chroot is not allowed:
//!   the test falls back to the image's loader with `--library-path` and records a loud
//!   `SKIPPED CHECK`.
//! * Building twice (touching the binary in between) gives the same digest and the same bytes;
//!   another `SOURCE_DATE_EPOCH` gives another digest and a `created` that follows it.
//!
//! No container engine runs the image (the tests need none); the unit tests in `src/` cover
//! tar and gzip determinism, header fields, ELF dependency resolution and error messages.
//!
//! Without the release binary the tests fail under `XRB_REQUIRE_TOOLS=1` (set by `tests/run`) and
//! are recorded as skipped otherwise; `cargo build --release --locked -p xray-collector` makes it.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// The image's entrypoint and user, as the operator contract requires (see ARCHITECTURE.md).
const ENTRYPOINT: &str = "/usr/local/bin/xray-collector";
/// The image's `CMD`: its default configuration, replaced by the operator's arguments.
const DEFAULT_CMD: &str = "--config=/etc/xray-collector/config.yaml";
const EXPOSED: [&str; 6] = [
    "2000/udp",
    "2000/tcp",
    "4317/tcp",
    "4318/tcp",
    "13133/tcp",
    "8888/tcp",
];

/// One build's output directory and what the build printed.
struct Built {
    out: PathBuf,
    digest: String,
}

impl Built {
    fn layout(&self) -> PathBuf {
        self.out.join("oci")
    }

    fn archive(&self) -> PathBuf {
        self.out.join("xray-collector.tar")
    }

    /// `oci:<layout>:<tag>`, the reference skopeo and umoci take.
    fn oci_ref(&self) -> String {
        format!(
            "oci:{}:{}",
            self.layout().display(),
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// The release collector `tests/run` builds before the tests.
fn release_binary_path() -> PathBuf {
    harness::project_root().join("target/release/xray-collector")
}

/// The release collector, if it was built: `None` (after recording the skip) only when tools are
/// not required; under `XRB_REQUIRE_TOOLS=1` a missing binary fails the calling test.
fn release_binary(check: &str) -> Option<PathBuf> {
    let binary = release_binary_path();
    if binary.is_file() {
        return Some(binary);
    }
    if harness::tools_required() {
        panic!(
            "{check}: the release collector {} is missing; build it with \
             `cargo build --release --locked -p xray-collector` (tests/run does, before the tests)",
            binary.display()
        );
    }
    harness::record_skip(
        check,
        "the release collector (cargo build --release --locked -p xray-collector)",
    );
    None
}

/// Runs the documented build command on the prebuilt `binary` into `target/image-tests/<name>`.
fn build(name: &str, binary: &Path, envs: &[(&str, &str)]) -> Built {
    let out = harness::project_root()
        .join("target/image-tests")
        .join(name);
    let mut command = Command::new(env!("CARGO_BIN_EXE_xray-collector-image"));
    command
        .args(["build", "--out"])
        .arg(&out)
        .arg("--binary")
        .arg(binary)
        .current_dir(harness::project_root());
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().expect("run xray-collector-image");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "xray-collector-image build failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digest = std::fs::read_to_string(out.join("digest"))
        .expect("digest file")
        .trim()
        .to_owned();
    assert!(
        stdout.contains(&format!("manifest digest: {digest}")),
        "{stdout}"
    );
    Built { out, digest }
}

/// `skopeo <args>` as JSON.
fn skopeo(skopeo: &Path, args: &[&str]) -> Value {
    let output = Command::new(skopeo)
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("skopeo prints JSON")
}

fn git_head() -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(harness::project_root())
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git rev-parse");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn skopeo_reads_the_layout_and_the_archive_and_the_config_is_what_the_operator_needs() {
    let Some(skopeo_bin) = harness::require_tool("skopeo", "collector image: skopeo inspect")
    else {
        return;
    };
    let Some(binary) = release_binary("collector image: skopeo inspect") else {
        return;
    };
    let built = build("skopeo", &binary, &[]);
    let oci = built.oci_ref();

    let inspect = skopeo(&skopeo_bin, &["inspect", &oci]);
    assert_eq!(inspect["Digest"], built.digest.as_str());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");

    let config = skopeo(&skopeo_bin, &["inspect", "--config", &oci]);
    let user = config["config"]["User"].as_str().expect("User is set");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|uid| uid != 0),
        "the image must run as a numeric non-root user (runAsNonRoot), got {user:?}"
    );
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!([ENTRYPOINT])
    );
    assert_eq!(config["config"]["Cmd"], serde_json::json!([DEFAULT_CMD]));
    let ports: BTreeSet<&str> = config["config"]["ExposedPorts"]
        .as_object()
        .expect("ExposedPorts")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ports, EXPOSED.into_iter().collect());

    let manifest = skopeo(&skopeo_bin, &["inspect", "--raw", &oci]);
    let annotations = &manifest["annotations"];
    let revision = annotations["org.opencontainers.image.revision"]
        .as_str()
        .unwrap();
    assert_eq!(revision.trim_end_matches("-dirty"), git_head());
    assert_eq!(
        annotations["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        annotations["org.opencontainers.image.licenses"],
        "Apache-2.0"
    );
    assert_eq!(
        annotations["org.opencontainers.image.title"],
        "xray-collector"
    );
    assert!(
        annotations["org.opencontainers.image.source"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{annotations}"
    );

    // The docker-archive carries the same image config, under the repository tag.
    let archive = format!("docker-archive:{}", built.archive().display());
    let archive_config = skopeo(&skopeo_bin, &["inspect", "--config", &archive]);
    assert_eq!(archive_config, config);
    let mut tar = tar::Archive::new(std::fs::File::open(built.archive()).unwrap());
    let docker_manifest: Value = tar
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|entry| entry.path().unwrap() == Path::new("manifest.json"))
        .map(|entry| serde_json::from_reader(entry).unwrap())
        .expect("manifest.json in the docker-archive");
    assert_eq!(
        docker_manifest[0]["RepoTags"],
        serde_json::json!([format!(
            "ghcr.io/xray-blueprints/xray-collector:{}",
            env!("CARGO_PKG_VERSION")
        )])
    );
}

#[test]
fn building_twice_gives_the_same_digest_and_bytes() {
    let Some(binary) = release_binary("collector image: reproducible build") else {
        return;
    };
    let first = build("twice-a", &binary, &[]);
    // The binary's file time changes between the builds: it must not reach the image.
    std::fs::File::options()
        .write(true)
        .open(&binary)
        .and_then(|file| file.set_modified(SystemTime::now()))
        .expect("touch the release binary");
    let second = build("twice-b", &binary, &[]);
    assert_eq!(first.digest, second.digest);
    assert_eq!(files_of(&first.out), files_of(&second.out));

    // The creation time comes from SOURCE_DATE_EPOCH (or the commit), never from the clock.
    let dated = build(
        "twice-dated",
        &binary,
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_ne!(dated.digest, first.digest);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dated.layout().join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(manifest_digest, dated.digest);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            dated
                .layout()
                .join("blobs")
                .join(manifest_digest.replace(':', "/")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
}

/// Every file below `dir` (relative path and bytes), sorted.
fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path.strip_prefix(dir).unwrap().to_owned(), bytes));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 6, "{:?}", files.len());
    files
}

/// The collector configuration mounted at `/conf/collector.yaml`, on free loopback ports.
fn collector_config(health: u16, metrics: u16, xray: u16, otlp: u16) -> String {
    format!(
        "receivers:
  awsxray:
    endpoint: 127.0.0.1:{xray}
    transport: udp
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch: {{}}
exporters:
  debug: {{}}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [awsxray, otlp]
      processors: [batch]
      exporters: [debug]
"
    )
}

/// A free UDP port on the loopback interface.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status code of `GET /` on a loopback port, if it answers.
fn http_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_whitespace().nth(1)?.parse().ok()
}

/// Kills the collector when a check fails, so that no process outlives the test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn unpacked_image_runs_its_entrypoint_as_the_operator_starts_it() {
    let Some(umoci) = harness::require_tool("umoci", "collector image: umoci unpack") else {
        return;
    };
    let Some(binary) = release_binary("collector image: run the entrypoint") else {
        return;
    };
    let built = build("run", &binary, &[]);
    let bundle = built.out.join("bundle");
    let mut unpack = Command::new(&umoci);
    unpack.arg("unpack");
    let as_root = is_root();
    if !as_root {
        unpack.arg("--rootless");
    }
    let image_arg = format!("{}:{}", built.layout().display(), env!("CARGO_PKG_VERSION"));
    let output = unpack
        .args(["--image", &image_arg])
        .arg(&bundle)
        .output()
        .expect("run umoci");
    assert!(
        output.status.success(),
        "umoci unpack failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // umoci turns the image config into the runtime config a container runtime would use.
    let spec: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let process = &spec["process"];
    let uid = process["user"]["uid"].as_u64().unwrap();
    let gid = process["user"]["gid"].as_u64().unwrap();
    assert_ne!(uid, 0, "the image runs as a non-root user");
    let args: Vec<String> = process["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(args, [ENTRYPOINT, DEFAULT_CMD]);
    // The operator sets only the container's args, so the ENTRYPOINT stays and the CMD goes.
    let entrypoint = &args[..1];

    let rootfs = bundle.join("rootfs");
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|line| line.split(':').nth(2) == Some(&uid.to_string())),
        "{passwd}"
    );
    assert!(rootfs.join("etc/ssl/certs/ca-certificates.crt").is_file());
    let tmp_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(rootfs.join("tmp")).unwrap().permissions(),
    );
    assert_eq!(tmp_mode & 0o7777, 0o1777);

    // The operator mounts the config at /conf and passes it first, then spec.args sorted by key.
    let (health, metrics) = (harness::free_port(), harness::free_port());
    let (xray, otlp) = (free_udp_port(), harness::free_port());
    std::fs::create_dir_all(rootfs.join("conf")).unwrap();
    std::fs::write(
        rootfs.join("conf/collector.yaml"),
        collector_config(health, metrics, xray, otlp),
    )
    .unwrap();
    let operator_args = [
        "--config=/conf/collector.yaml",
        "--feature-gates=+exporter.xray.allowDot",
    ];
    let log = built.out.join("collector.log");
    let log_file = std::fs::File::create(&log).unwrap();

    // The full path: the commands below run with an empty environment, so no PATH lookup.
    let chroot = harness::find_tool("chroot").filter(|_| as_root);
    if let Some(chroot) = &chroot {
        // The default configuration the image's CMD names is in the image and loads.
        let validate = Command::new(chroot)
            .arg(format!("--userspec={uid}:{gid}"))
            .arg(&rootfs)
            .args(entrypoint)
            .args(["validate", DEFAULT_CMD])
            .env_clear()
            .output()
            .expect("run validate in the chroot");
        assert!(
            validate.status.success(),
            "the image's default configuration does not validate: {}{}",
            String::from_utf8_lossy(&validate.stdout),
            String::from_utf8_lossy(&validate.stderr)
        );
    }
    let mut command = if let Some(chroot) = &chroot {
        // chroot runs the image's own loader and libraries only: this proves the root file system
        // is self-contained, as a container runtime would see it, under the image's user.
        let mut command = Command::new(chroot);
        command
            .arg(format!("--userspec={uid}:{gid}"))
            .arg(&rootfs)
            .args(entrypoint)
            .args(operator_args);
        command
    } else {
        harness::record_skip(
            "collector image: running the entrypoint inside a chroot (falling back to the image's loader with --library-path)",
            "root privileges for chroot",
        );
        let loader = rootfs.join("lib64/ld-linux-x86-64.so.2");
        let lib_path = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib"]
            .map(|dir| rootfs.join(dir).display().to_string())
            .join(":");
        let mut command = Command::new(loader);
        command
            .arg("--library-path")
            .arg(lib_path)
            .arg(rootfs.join(entrypoint[0].trim_start_matches('/')))
            .arg(format!(
                "--config={}",
                rootfs.join("conf/collector.yaml").display()
            ))
            .arg(operator_args[1]);
        command
    };
    let child = command
        .env_clear()
        .env("POD_NAME", "xray-collector-0")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("start the entrypoint");
    let mut running = Running(child);

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = None;
    while Instant::now() < deadline {
        if let Some(exit) = running.0.try_wait().unwrap() {
            panic!(
                "the collector exited ({exit}) before answering the health check:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        status = http_status(health);
        if status == Some(200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        status,
        Some(200),
        "health check on :{health} did not answer 200 within 30 s:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Kubernetes stops a container with SIGTERM; the collector drains and exits 0.
    let pid = running.0.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = running.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not exit within 20 s of SIGTERM:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        exit.success(),
        "the collector exited with {exit} after SIGTERM:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// Whether the tests run as root (then chroot is permitted and umoci keeps owners).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
