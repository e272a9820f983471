//! Start-up failures are clear and non-zero: an address already in use is named; a missing AWS
//! region says where a region can come from. Unknown operator arguments are tolerated and logged.
//! `encoding: json` gives one JSON object per log line.

use crate::common;

use std::net::UdpSocket;
use std::process::Command;

fn run_with(config: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collector.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .arg(format!("--config={}", path.display()))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(udp: u16, exporter: &str) -> String {
    format!(
        "receivers:\n  awsxray:\n    endpoint: 127.0.0.1:{udp}\nexporters:\n  {exporter}\nservice:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [{}]\n",
        exporter.split(':').next().unwrap()
    )
}

#[test]
fn address_in_use_is_named() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stderr) = run_with(&config(port, "debug: {}"), &["--feature-gates=+x"], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "receivers.awsxray: cannot listen on UDP 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("Ignoring unknown command-line argument"),
        "{stderr}"
    );
    assert!(stderr.contains("--feature-gates=+x"), "{stderr}");
}

#[test]
fn missing_region_is_explained() {
    let port = common::free_udp_port();
    let (code, stderr) = run_with(
        &config(port, "awsxray:\n    local_mode: true"),
        &[],
        &[
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("exporters.awsxray: no AWS region: set `region`, or AWS_REGION, or run where instance metadata answers"),
        "{stderr}"
    );
}

#[test]
fn json_log_encoding_gives_one_json_object_per_line() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = config(port, "debug: {}").replace(
        "  telemetry:\n",
        "  telemetry:\n    logs:\n      encoding: json\n      level: info\n",
    );
    let (code, stderr) = run_with(&config, &[], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let records: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failure = records
        .iter()
        .find(|r| r["message"] == "Collector failed.")
        .unwrap_or_else(|| panic!("no failure record: {stderr}"));
    assert_eq!(failure["level"], "ERROR");
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .contains("cannot listen on UDP")
    );
}
