//! Config loading: table tests of valid and invalid configs with their exact messages, the real
//! configs in `../shared/configs`, and the `validate` command.

use std::process::Command;

use serde_json::Value;
use xray_collector::config::{self, ExporterConfig, ProcessorConfig, ReceiverConfig};

fn env(name: &str) -> Option<String> {
    match name {
        "AWS_REGION" => Some("eu-west-1".to_owned()),
        "BATCH" => Some("25".to_owned()),
        _ => None,
    }
}

fn load(text: &str) -> Result<config::Loaded, Vec<String>> {
    config::load_str(text, "collector.yaml", &env)
        .map_err(|e| e.0.iter().map(|d| d.to_string()).collect())
}

const MINIMAL: &str = "\
receivers:
  awsxray:
exporters:
  awsxray:
service:
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [awsxray]
";

#[test]
fn minimal_config_uses_defaults() {
    let loaded = load(MINIMAL).unwrap();
    assert!(loaded.warnings.is_empty());
    let c = &loaded.config;
    let ReceiverConfig::AwsXray(r) = &c.receivers[&"awsxray".parse().unwrap()] else {
        panic!()
    };
    assert_eq!(r.endpoint, "0.0.0.0:2000");
    assert_eq!(r.transport, "udp");
    let ExporterConfig::AwsXray(e) = &c.exporters[&"awsxray".parse().unwrap()] else {
        panic!()
    };
    assert_eq!(e.sending_queue.queue_size, 1000);
    assert!(e.retry_on_failure.enabled);
    assert_eq!(
        c.service.telemetry.metrics.listen_address().as_deref(),
        Some("0.0.0.0:8888")
    );
}

#[test]
fn the_operator_example_with_env_and_both_telemetry_forms() {
    let base = "\
receivers:
  awsxray:
    endpoint: 0.0.0.0:2000
    transport: udp
processors:
  batch/traces:
    send_batch_size: ${env:BATCH}
    timeout: 1s
    send_batch_max_size: 50
exporters:
  awsxray:
    region: ${env:AWS_REGION}
    endpoint: http://127.0.0.1:5000
    indexed_attributes: [a, b]
    index_all_attributes: false
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch/traces]
      exporters: [awsxray]
";
    let address = format!("{base}  telemetry:\n    metrics:\n      address: 0.0.0.0:8888\n");
    let readers = format!(
        "{base}  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 0.0.0.0\n                port: 9999\n"
    );
    let a = load(&address).unwrap().config;
    assert_eq!(
        a.service.telemetry.metrics.listen_address().as_deref(),
        Some("0.0.0.0:8888")
    );
    let b = load(&readers).unwrap().config;
    assert_eq!(
        b.service.telemetry.metrics.listen_address().as_deref(),
        Some("0.0.0.0:9999")
    );
    let ExporterConfig::AwsXray(e) = &b.exporters[&"awsxray".parse().unwrap()] else {
        panic!()
    };
    assert_eq!(e.region, "eu-west-1");
    let ProcessorConfig::Batch(batch) = &b.processors[&"batch/traces".parse().unwrap()];
    assert_eq!(batch.send_batch_size, 25);
    assert_eq!(batch.timeout, std::time::Duration::from_secs(1));
    assert_eq!(b.service.extensions.len(), 1);
}

/// Invalid configs and the exact errors they produce.
#[test]
fn invalid_configs_table() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown key, located",
            "receivers:\n  awsxray:\nexporters:\n  awsxray:\n    regoin: us-east-1\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [awsxray]\n",
            &[
                "collector.yaml:5:5: exporters.awsxray.regoin: unknown field `regoin`, expected one of `region`, `endpoint`, `role_arn`, `indexed_attributes`, `index_all_attributes`, `aws_log_groups`, `num_workers`, `request_timeout_seconds`, `max_retries`, `proxy_address`, `no_verify_ssl`, `local_mode`, `resource_arn`, `telemetry`, `sending_queue`, `retry_on_failure`",
            ],
        ),
        (
            "unsupported components in a traces pipeline",
            "receivers:\n  zipkin:\nprocessors:\n  memory_limiter:\nexporters:\n  awsxray:\nservice:\n  pipelines:\n    traces/x:\n      receivers: [zipkin]\n      processors: [memory_limiter]\n      exporters: [awsxray]\n",
            &[
                "collector.yaml:2:3: receivers.zipkin: receiver type `zipkin` is not supported (used by pipeline `traces/x`); supported receivers: awsxray, otlp",
                "collector.yaml:4:3: processors.memory_limiter: processor type `memory_limiter` is not supported (used by pipeline `traces/x`); supported processors: batch",
            ],
        ),
        (
            "undefined component",
            "receivers:\n  awsxray:\nexporters:\n  awsxray:\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray, awsxray/two]\n      exporters: [awsxray]\n",
            &[
                "collector.yaml:8:28: service.pipelines.traces.receivers[1]: pipeline `traces` references receiver `awsxray/two`, which is not defined in `receivers`",
            ],
        ),
        (
            "wrong types and values",
            "receivers:\n  awsxray:\n    transport: tcp\nprocessors:\n  batch:\n    timeout: 5 seconds\nexporters:\n  awsxray:\n    sending_queue:\n      queue_size: 0\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      processors: [batch]\n      exporters: [awsxray]\n",
            &[
                "collector.yaml:3:5: receivers.awsxray.transport: transport `tcp` is not supported; only `udp` is",
                "collector.yaml:6:5: processors.batch.timeout: unknown unit ` seconds` in duration `5 seconds`",
                "collector.yaml:10:7: exporters.awsxray.sending_queue.queue_size: must be at least 1",
            ],
        ),
        (
            "batch bounds",
            "receivers:\n  awsxray:\nprocessors:\n  batch:\n    send_batch_size: 50\n    send_batch_max_size: 10\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      processors: [batch]\n      exporters: [debug]\n",
            &[
                "collector.yaml:6:5: processors.batch.send_batch_max_size: send_batch_max_size (10) must be 0 or at least send_batch_size (50)",
            ],
        ),
        (
            "no exporters, bad id, bad signal",
            "receivers:\n  awsxray:\n  9bad:\nexporters:\n  awsxray:\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n    spans:\n      receivers: [awsxray]\n",
            &[
                "collector.yaml:3:3: receivers.9bad: id `9bad` has an invalid type: a type starts with a letter and has only letters, digits and `_` (at most 63 characters)",
                "collector.yaml:10:5: service.pipelines.spans: pipeline `spans` has unknown signal `spans`; expected traces, metrics, logs or profiles",
            ],
        ),
        (
            "unsupported settings are refused, not ignored",
            "receivers:\n  awsxray:\nexporters:\n  awsxray:\n    no_verify_ssl: true\n    proxy_address: http://proxy:3128\n  file:\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [awsxray, file]\n",
            &[
                "collector.yaml:5:5: exporters.awsxray.no_verify_ssl: turning TLS verification off is not supported",
                "collector.yaml:6:5: exporters.awsxray.proxy_address: an HTTP proxy for the X-Ray API is not supported; remove `proxy_address`",
                "collector.yaml:7:3: exporters.file: `path` is required",
            ],
        ),
        (
            "env provider and YAML errors",
            "receivers:\n  awsxray:\n    endpoint: ${file:/etc/x}\n",
            &[
                "collector.yaml:3:15: receivers.awsxray.endpoint: config provider `file` in `${file:/etc/x}` is not supported; only `env` is",
            ],
        ),
        (
            "duplicate keys",
            "receivers:\n  awsxray:\n  awsxray:\n",
            &["collector.yaml:3:3: receivers.awsxray: duplicate key `awsxray`"],
        ),
        (
            "no service",
            "receivers:\n  awsxray:\n",
            &["collector.yaml: the config has no `service` section"],
        ),
        (
            "telemetry values",
            "receivers:\n  awsxray:\nexporters:\n  debug:\nservice:\n  telemetry:\n    logs:\n      level: loud\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n",
            &[
                "collector.yaml:8:7: service.telemetry.logs.level: unknown log level `loud`; expected debug, info, warn or error",
            ],
        ),
    ];
    for (name, text, want) in cases {
        let got = load(text)
            .err()
            .unwrap_or_else(|| panic!("{name}: expected errors"));
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn other_pipelines_and_their_components_are_warnings() {
    let text = "\
receivers:
  awsxray:
  statsd:
exporters:
  awsxray:
  awsemf:
extensions:
  pprof:
service:
  extensions: [pprof]
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [awsxray]
    metrics:
      receivers: [statsd]
      exporters: [awsemf]
";
    let loaded = load(text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        vec![
            "collector.yaml:3:3: receivers.statsd: receiver type `statsd` is not supported; it is used only by pipeline `metrics`, which is skipped",
            "collector.yaml:6:3: exporters.awsemf: exporter type `awsemf` is not supported; it is used only by pipeline `metrics`, which is skipped",
            "collector.yaml:8:3: extensions.pprof: extension type `pprof` is not supported; it is not started",
            "collector.yaml:15:5: service.pipelines.metrics: pipeline `metrics` is skipped: xray-collector runs `traces` pipelines only",
        ]
    );
    assert_eq!(loaded.config.service.pipelines.len(), 1);
    assert!(loaded.config.service.extensions.is_empty());
}

/// The collector YAML inside a shared config file: the file itself, or `spec.config` of its
/// OpenTelemetryCollector document.
fn collector_yaml(text: &str) -> String {
    let docs = config::yaml::parse_documents(text).expect("shared config is YAML");
    for doc in &docs {
        if doc["kind"] == "OpenTelemetryCollector" {
            return match &doc["spec"]["config"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
        }
    }
    text.to_owned()
}

/// Messages of parts whose config is read but which are not built yet (they disappear as the
/// OTLP receiver and the sampling proxy land).
fn not_built(message: &str) -> bool {
    message.contains("is not implemented yet")
}

#[test]
fn shared_configs_trace_pipelines_load() {
    let dir = harness::shared_dir().join("configs");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let load_shared = |name: &str| config::load_str(&collector_yaml(&read(name)), name, &env);

    // The guide's recipe: awsxray -> awsxray, next to a Prometheus metrics pipeline.
    let recipe =
        load_shared("recipe-otel-collector-xray-prometheus-complete.yaml").expect("recipe loads");
    assert_eq!(recipe.config.service.pipelines.len(), 1);
    let w: Vec<String> = recipe.warnings.iter().map(|d| d.message.clone()).collect();
    assert!(
        w.iter()
            .any(|m| m.contains("receiver type `prometheus` is not supported")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.contains("exporter type `prometheusremotewrite`")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|m| m.contains("extension type `sigv4auth`")),
        "{w:?}"
    );

    // Configs whose traces pipeline needs only parts that may not be built yet.
    for name in [
        "community-collector-config-xray.yaml",
        "aws-otel-collector-config.yaml",
        "aws-otel-collector-config-ecs-ecs-default-config.yaml",
    ] {
        match load_shared(name) {
            Ok(loaded) => assert_eq!(loaded.config.service.pipelines.len(), 1, "{name}"),
            Err(errors) => {
                for e in &errors.0 {
                    assert!(not_built(&e.message), "{name}: {e}");
                }
            }
        }
    }

    // contrib's test data uses components that exist only in its tests.
    let errors = load_shared("contrib-awsxrayreceiver-testdata-config.yaml").unwrap_err();
    let messages: Vec<String> = errors
        .0
        .iter()
        .filter(|e| !not_built(&e.message))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        messages,
        vec![
            "contrib-awsxrayreceiver-testdata-config.yaml:24:3: processors.nop: processor type `nop` is not supported (used by pipeline `traces`); supported processors: batch",
            "contrib-awsxrayreceiver-testdata-config.yaml:27:3: exporters.nop: exporter type `nop` is not supported (used by pipeline `traces`); supported exporters: awsxray, debug, file",
        ]
    );
    let errors =
        load_shared("contrib-awsxrayexporter-testdata-config.pipeline-form.yaml").unwrap_err();
    let messages: Vec<String> = errors.0.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        messages,
        vec![
            "receiver type `examplereceiver` is not supported (used by pipeline `traces`); supported receivers: awsxray, otlp",
            "processor type `exampleprocessor` is not supported (used by pipeline `traces`); supported processors: batch",
        ]
    );

    // contrib's exporter settings (a component-only file) type-check as our exporter's settings.
    let exporters: String = read("contrib-awsxrayexporter-testdata-config.yaml")
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let wrapped = format!(
        "receivers:\n  awsxray:\nexporters:\n{exporters}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [awsxray, awsxray/customname]\n"
    );
    let loaded =
        config::load_str(&wrapped, "wrapped.yaml", &env).expect("contrib exporter settings load");
    let ExporterConfig::AwsXray(c) =
        &loaded.config.exporters[&"awsxray/customname".parse().unwrap()]
    else {
        panic!()
    };
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(c.request_timeout_seconds, 120);
    assert_eq!(c.aws_log_groups, vec!["group1", "group2"]);
}

#[test]
fn validate_command_reports_located_errors_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("collector.yaml");
    std::fs::write(
        &bad,
        MINIMAL.replace("  awsxray:\nservice", "  awsxray:\n    regoin: x\nservice"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .args(["validate", &format!("--config={}", bad.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {}:5:5: exporters.awsxray.regoin: unknown field `regoin`",
            bad.display()
        )),
        "{stderr}"
    );

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, MINIMAL).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .args([
            "validate",
            "--config",
            &good.display().to_string(),
            "--feature-gates=-x",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("good.yaml: valid"));

    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
        .args(["validate", "--config=/nonexistent/collector.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("/nonexistent/collector.yaml: cannot read config")
    );
}

#[test]
fn the_image_default_config_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("default-config.yaml");
    let loaded = config::load_file(&path).expect("default config loads");
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.config.service.pipelines.len(), 1);
}

/// The Dockerfile keeps the contract the operator and `collector/image` rely on.
#[test]
fn dockerfile_entrypoint_user_and_ports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    let text = std::fs::read_to_string(path).unwrap();
    let last_stage = text.rsplit("\nFROM ").next().unwrap();
    assert!(last_stage.contains("\nUSER 10001:10001\n"));
    assert!(last_stage.contains("\nENTRYPOINT [\"/usr/local/bin/xray-collector\"]\n"));
    assert!(
        last_stage.contains("\nEXPOSE 2000/udp 2000/tcp 4317/tcp 4318/tcp 13133/tcp 8888/tcp\n")
    );
    assert!(text.contains("target/release/xray-collector /out/usr/local/bin/xray-collector"));
    // The user the image runs as has a name, the same one the engine-free image build writes.
    assert!(text.contains(
        "xray-collector:x:10001:10001:xray-collector:/nonexistent:/usr/sbin/nologin\\n' > /out/etc/passwd"
    ));
    assert!(text.contains("xray-collector:x:10001:\\n' > /out/etc/group"));
}
