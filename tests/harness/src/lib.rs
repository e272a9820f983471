//! Test support shared by the generator's and the collector's test suites.
//!
//! External tools (cfn-lint, checkov, moto, terraform, the Python SDKs) are installed by
//! `tests/tools/setup.sh` into `.tools/`; `tests/run` puts them on `PATH` and sets
//! `XRB_REQUIRE_TOOLS=1`. Under that variable a missing required tool fails the test that needs it.
//! Without it (a bare `cargo test`), the test prints a loud `SKIPPED CHECK` line naming the tool and
//! records it in `target/skipped-checks.log`, which `tests/run` prints at the end. Optional tools
//! (terraform and its provider mirror, which not every machine has) are never required: their absence
//! is always recorded and printed the same way.
//!
//! Ports: [`free_port`] and [`free_udp_port`] never hand the same port out twice in one process.
//!
//! Modules: `fuzz_inputs` (the stable replay of the fuzz targets' inputs), `hostile_yaml` (inputs
//! that must fail cleanly) and, with the feature `k8s-api`,
//! `k8s_api` (the Kubernetes API stand-in the collector's tests and its benchmark share).

pub mod fuzz_inputs;
pub mod hostile_yaml;
#[cfg(feature = "k8s-api")]
pub mod k8s_api;

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The shared reference directory (`XRB_SHARED`, default `../shared` from the project root).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("XRB_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => project_root().join("../shared"),
    }
}

/// The directory of CRDs that custom resources are validated against (`XRB_CRD_DIR`, default
/// `<shared>/crds`).
pub fn crd_dir() -> PathBuf {
    match std::env::var_os("XRB_CRD_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => shared_dir().join("crds"),
    }
}

/// Where `tests/tools/setup.sh` installs the Python tools.
pub fn tools_bin() -> PathBuf {
    project_root().join(".tools/venv/bin")
}

/// Looks a tool up in `.tools/venv/bin`, `.tools/node/node_modules/.bin`, then `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let root = project_root();
    let local = [tools_bin(), root.join(".tools/node/node_modules/.bin")];
    let path = std::env::var_os("PATH").unwrap_or_default();
    local
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The text of a variant blueprint, `tests/variant-blueprints/<name>.yaml`: blueprints the tests
/// render to reach what the examples in `blueprints/` do not.
pub fn variant_blueprint(name: &str) -> String {
    let path = project_root()
        .join("tests/variant-blueprints")
        .join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether tests rewrite what they compare with (golden files, snapshots, the schema file, recorded
/// converter outputs) from the current output instead of comparing: `XRB_BLESS=1`. Review the
/// rewrite with `git diff`.
pub fn bless() -> bool {
    std::env::var("XRB_BLESS").is_ok_and(|v| v == "1")
}

/// Whether missing required tools fail tests (set by `tests/run`).
pub fn tools_required() -> bool {
    std::env::var("XRB_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Records a check that did not run, loudly, so that it is never mistaken for a pass.
pub fn record_skip(check: &str, missing: &str) {
    let line = format!("SKIPPED CHECK: {check}: {missing} is not available on this machine");
    eprintln!("\n*** {line} ***\n");
    let log = project_root().join("target/skipped-checks.log");
    if let Some(parent) = log.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(file, "{line}");
    }
}

/// A tool the check cannot run without. Returns `None` (after recording the skip) only when tools are
/// not required; under `XRB_REQUIRE_TOOLS=1` a missing tool fails the calling test.
pub fn require_tool(name: &str, check: &str) -> Option<PathBuf> {
    if let Some(path) = find_tool(name) {
        return Some(path);
    }
    if tools_required() {
        panic!(
            "{check}: required tool `{name}` not found; run `tests/tools/setup.sh` (tests/run does)"
        );
    }
    record_skip(check, name);
    None
}

/// The Python interpreter of the tools venv (has boto3, moto, the X-Ray and OpenTelemetry SDKs).
pub fn python(check: &str) -> Option<PathBuf> {
    let venv_python = tools_bin().join("python");
    if venv_python.is_file() {
        return Some(venv_python);
    }
    if tools_required() {
        panic!("{check}: the tools venv .tools/venv is missing; run `tests/tools/setup.sh`");
    }
    record_skip(check, ".tools/venv (python with boto3, moto and the SDKs)");
    None
}

/// Terraform plus the offline `hashicorp/aws` provider mirror, which not every machine has.
/// Returns the terraform binary and a CLI config file using `dev_overrides` on the mirror, or records
/// a loud skip naming what is missing.
pub struct Terraform {
    pub binary: PathBuf,
    pub cli_config: PathBuf,
}

pub fn terraform(check: &str) -> Option<Terraform> {
    let Some(binary) = find_tool("terraform") else {
        record_skip(check, "terraform");
        return None;
    };
    let mirror = std::env::var_os("XRB_TF_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    let provider_dir = std::fs::read_dir(&mirror).ok().and_then(|hosts| {
        hosts
            .flatten()
            .map(|host| host.path().join("hashicorp/aws/5.100.0/linux_amd64"))
            .find(|dir| dir.is_dir())
    });
    let Some(provider_dir) = provider_dir else {
        record_skip(
            check,
            &format!(
                "the hashicorp/aws 5.100.0 provider mirror under {}",
                mirror.display()
            ),
        );
        return None;
    };
    let cli_config = project_root().join("target/terraformrc-devoverride");
    std::fs::create_dir_all(cli_config.parent().unwrap()).expect("target dir");
    let text = format!(
        "disable_checkpoint = true\nprovider_installation {{\n  dev_overrides {{\n    \"hashicorp/aws\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
        provider_dir.display()
    );
    std::fs::write(&cli_config, text).expect("write terraform CLI config");
    Some(Terraform { binary, cli_config })
}

/// Ports [`free_port`] and [`free_udp_port`] have handed out in this process, by protocol (`true`
/// for UDP). A port is bound, read and released before the caller binds it again, so the kernel may
/// hand the same ephemeral port out twice in a row; a test that asks for several ports for one
/// config (receiver, metrics, health check) would then get a collision at its collector's start.
static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<(bool, u16)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// An ephemeral port from `bind`, never one this process was given before for the same protocol.
fn fresh_port(udp: bool, bind: impl Fn() -> std::io::Result<u16>) -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let port = bind().expect("bind an ephemeral port");
        if handed_out.insert((udp, port)) {
            return port;
        }
    }
    panic!("no ephemeral port that this process was not given before, after 100 tries");
}

/// A free TCP port on the loopback interface, distinct from every port this process got before.
pub fn free_port() -> u16 {
    fresh_port(false, || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
    })
}

/// A free UDP port on the loopback interface, distinct from every UDP port this process got before.
pub fn free_udp_port() -> u16 {
    fresh_port(true, || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
    })
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A moto server on a free loopback port, stopped when dropped.
pub struct MotoServer {
    child: Child,
    pub port: u16,
}

impl MotoServer {
    /// Starts `moto_server` from the tools venv with AWS managed policies loaded.
    pub fn start(check: &str) -> Option<MotoServer> {
        let moto = require_tool("moto_server", check)?;
        let port = free_port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let server = MotoServer { child, port };
        assert!(
            wait_for_port(port, Duration::from_secs(60)),
            "moto_server did not listen on port {port} within 60 s"
        );
        Some(server)
    }

    /// Like `start`, but moto plays the AWS account `account_id` (`MOTO_ACCOUNT_ID`), so that ARNs
    /// it returns name the same account as the code under test.
    pub fn start_in_account(check: &str, account_id: &str) -> Option<MotoServer> {
        let moto = require_tool("moto_server", check)?;
        let port = free_port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_ACCOUNT_ID", account_id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let server = MotoServer { child, port };
        assert!(
            wait_for_port(port, Duration::from_secs(60)),
            "moto_server did not listen on port {port} within 60 s"
        );
        Some(server)
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn ports_are_never_handed_out_twice() {
        let mut tcp: Vec<u16> = (0..200).map(|_| super::free_port()).collect();
        let mut udp: Vec<u16> = (0..200).map(|_| super::free_udp_port()).collect();
        for ports in [&mut tcp, &mut udp] {
            ports.sort_unstable();
            let all = ports.len();
            ports.dedup();
            assert_eq!(ports.len(), all);
        }
    }
}
