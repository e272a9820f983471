//! The exporter's credentials come from the default chain, as on EKS: IRSA web identity
//! (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged with STS, played by moto) and EKS Pod
//! Identity (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, served
//! by a named stand-in for the Pod Identity agent). No static keys are set in either case, so a
//! segment reaching X-Ray proves the chain produced credentials.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Collector;

fn config(udp: u16, endpoint: &str) -> String {
    format!(
        r#"
receivers:
  awsxray:
    endpoint: 127.0.0.1:{udp}
processors:
  batch:
    timeout: 50ms
exporters:
  awsxray:
    region: us-east-1
    endpoint: {endpoint}
    retry_on_failure:
      initial_interval: 100ms
extensions:
  health_check:
    endpoint: 127.0.0.1:HEALTH_PORT
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch]
      exporters: [awsxray]
  telemetry:
    metrics:
      address: 127.0.0.1:METRICS_PORT
"#
    )
}

/// Sends three segments and waits until they are exported; returns the exported count and log.
fn send_and_export(collector: Collector, udp: u16) -> (f64, String) {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 1..=3u64 {
        let datagram = format!(
            "{{\"format\":\"json\",\"version\":1}}\n{{\"id\":\"{n:016x}\",\"name\":\"svc\",\"start_time\":{epoch}.1,\"end_time\":{epoch}.2,\"trace_id\":\"1-{epoch:08x}-{:024x}\"}}",
            5
        );
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", udp))
            .unwrap();
    }
    let sent = collector.wait_metric(
        "xray_collector_exporter_sent_items_total",
        &[],
        3.0,
        Duration::from_secs(20),
    );
    collector.sigterm();
    let (status, log) = collector.wait(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    (sent, log)
}

#[test]
fn irsa_web_identity_credentials_through_sts() {
    let check = "collector credentials: IRSA web identity via moto STS";
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(
        &token,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dHJhY2luZzp4cmF5In0.c2ln",
    )
    .unwrap();
    let udp = common::free_udp_port();
    let token_path = token.display().to_string();
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_REGION", "us-east-1"),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/xray-collector",
        ),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let collector = Collector::start_with_env(&config(udp, &endpoint), &[], &env);
    let (sent, log) = send_and_export(collector, udp);
    assert_eq!(sent, 3.0, "{log}");
}

#[test]
fn eks_pod_identity_container_credentials() {
    let check = "collector credentials: EKS Pod Identity agent stand-in";
    let Some(python) = harness::python(check) else {
        return;
    };
    let Some(moto) = harness::MotoServer::start(check) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token = "pod-identity-token-abc";
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, token).unwrap();
    let log_file = dir.path().join("agent.jsonl");
    let mut agent = Command::new(&python)
        .arg(common::app("pod_identity_agent.py"))
        .args([token, &log_file.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the agent stand-in");
    let mut port = String::new();
    BufReader::new(agent.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let uri = format!("http://127.0.0.1:{}/v1/credentials", port.trim());
    let token_path = token_file.display().to_string();
    let udp = common::free_udp_port();
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_path.as_str(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let collector = Collector::start_with_env(&config(udp, &moto.endpoint()), &[], &env);
    let (sent, log) = send_and_export(collector, udp);
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(sent, 3.0, "{log}");
    let requests = std::fs::read_to_string(&log_file).unwrap_or_default();
    let first: serde_json::Value =
        serde_json::from_str(requests.lines().next().expect("the agent was asked")).unwrap();
    assert_eq!(first["path"], "/v1/credentials");
    assert_eq!(first["authorization"], token);
}
