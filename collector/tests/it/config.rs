//! Config loading: table tests of valid and invalid configs with their exact messages, the real
//! configs in `../shared/configs`, and the `validate` command. Also: the image's default config
//! loads and `collector/Dockerfile` keeps the image contract (entrypoint, user, ports); the
//! `otlphttp` + `sigv4auth` contract and its located errors; hostile YAML (alias bombs, deep
//! nesting) is a located error within bounded memory and time, checked on the real binary.

use std::process::Command;

use serde_json::Value;
use xray_collector::config;
use xray_collector::exporters::awsxray::config::AwsXrayExporterConfig;
use xray_collector::exporters::otlphttp::config::OtlpHttpExporterConfig;
use xray_collector::exporters::queue::Sizer;
use xray_collector::extensions::sigv4auth::config::SigV4AuthConfig;
use xray_collector::processors::batch::config::BatchConfig;
use xray_collector::receivers::awsxray::config::AwsXrayReceiverConfig;

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
    let Some(r) = c.receiver::<AwsXrayReceiverConfig>("awsxray") else {
        panic!()
    };
    assert_eq!(r.endpoint, "0.0.0.0:2000");
    assert_eq!(r.transport, "udp");
    let Some(e) = c.exporter::<AwsXrayExporterConfig>("awsxray") else {
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
    let Some(e) = b.exporter::<AwsXrayExporterConfig>("awsxray") else {
        panic!()
    };
    assert_eq!(e.region, "eu-west-1");
    let Some(batch) = b.processor::<BatchConfig>("batch/traces") else {
        panic!()
    };
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
            "receivers:\n  zipkin:\nprocessors:\n  tail_sampling:\nexporters:\n  awsxray:\nservice:\n  pipelines:\n    traces/x:\n      receivers: [zipkin]\n      processors: [tail_sampling]\n      exporters: [awsxray]\n",
            &[
                "collector.yaml:2:3: receivers.zipkin: receiver type `zipkin` is not supported (used by pipeline `traces/x`); supported receivers: awsxray, otlp",
                "collector.yaml:4:3: processors.tail_sampling: processor type `tail_sampling` is not supported (used by pipeline `traces/x`); supported processors: attributes, batch, filter, k8sattributes, memory_limiter, probabilistic_sampler, resource, resourcedetection",
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
            "otlp memory limit",
            "receivers:\n  otlp:\n    memory_limit_mib: 7\n    protocols:\n      grpc:\n        max_recv_msg_size_mib: 4\n  otlp/zero:\n    memory_limit_mib: 0\n    protocols:\n      http:\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, otlp/zero]\n      exporters: [debug]\n",
            &[
                "collector.yaml:3:5: receivers.otlp.memory_limit_mib: must be at least twice protocols.grpc.max_recv_msg_size_mib (4), or no compressed gRPC request fits",
                "collector.yaml:8:5: receivers.otlp/zero.memory_limit_mib: must be at least 1",
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

/// Without the opt-in, every pipeline this collector cannot run and every component it does not
/// have is an error naming it and what to do instead; with `--skip-unsupported-pipelines` the same
/// config loads, and each is a warning, the skipped pipelines listed.
#[test]
fn other_pipelines_are_errors_unless_skipped_on_the_opt_in() {
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
    assert_eq!(
        load(text).unwrap_err(),
        vec![
            "collector.yaml:3:3: receivers.statsd: receiver type `statsd` is not supported; it is used by pipeline `metrics`, which cannot run",
            "collector.yaml:6:3: exporters.awsemf: exporter type `awsemf` is not supported; it is used by pipeline `metrics`, which cannot run",
            "collector.yaml:8:3: extensions.pprof: extension type `pprof` is not supported; it cannot be started; remove it from `service.extensions` and `extensions`",
            "collector.yaml:15:5: service.pipelines.metrics: pipeline `metrics` cannot run: xray-collector runs `traces` pipelines only; for metrics use the blueprint's `spec.metrics` option (Amazon Managed Service for Prometheus managed scraper); or remove the pipeline, or start with --skip-unsupported-pipelines to skip it (logged at every start, listed on /metrics as xray_collector_skipped_pipelines)",
        ]
    );
    let loaded = load_skipping(text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        vec![
            "collector.yaml:3:3: receivers.statsd: receiver type `statsd` is not supported; it is used only by pipeline `metrics`, which is skipped",
            "collector.yaml:6:3: exporters.awsemf: exporter type `awsemf` is not supported; it is used only by pipeline `metrics`, which is skipped",
            "collector.yaml:8:3: extensions.pprof: extension type `pprof` is not supported; it is not started",
            "collector.yaml:15:5: service.pipelines.metrics: pipeline `metrics` is skipped (--skip-unsupported-pipelines): xray-collector runs `traces` pipelines only; for metrics use the blueprint's `spec.metrics` option (Amazon Managed Service for Prometheus managed scraper)",
        ]
    );
    assert_eq!(loaded.skipped_pipelines, vec!["metrics".to_owned()]);
    assert_eq!(loaded.config.service.pipelines.len(), 1);
    assert!(loaded.config.service.extensions.is_empty());

    // A logs pipeline, an undefined reference in it and an unused unsupported component.
    let logs = "\
receivers:
  awsxray:
  filelog:
exporters:
  awsxray:
service:
  pipelines:
    traces:
      receivers: [awsxray]
      exporters: [awsxray]
    logs/app:
      receivers: [nowhere]
      exporters: [awsxray]
";
    assert_eq!(
        load(logs).unwrap_err(),
        vec![
            "collector.yaml:3:3: receivers.filelog: receiver type `filelog` is not supported; it is not used by any pipeline; remove it",
            "collector.yaml:11:5: service.pipelines.logs/app: pipeline `logs/app` cannot run: xray-collector runs `traces` pipelines only; ship logs with a log agent (for example Fluent Bit or the CloudWatch agent); or remove the pipeline, or start with --skip-unsupported-pipelines to skip it (logged at every start, listed on /metrics as xray_collector_skipped_pipelines)",
            "collector.yaml:12:19: service.pipelines.logs/app.receivers[0]: pipeline `logs/app` references receiver `nowhere`, which is not defined in `receivers`",
        ]
    );
    let loaded = load_skipping(logs).unwrap();
    assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
    assert_eq!(loaded.skipped_pipelines, vec!["logs/app".to_owned()]);
}

fn load_skipping(text: &str) -> Result<config::Loaded, Vec<String>> {
    let options = config::LoadOptions {
        skip_unsupported_pipelines: true,
    };
    config::load_str_with(text, "collector.yaml", &env, options)
        .map_err(|e| e.0.iter().map(|d| d.to_string()).collect())
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
    let skipping = config::LoadOptions {
        skip_unsupported_pipelines: true,
    };
    let load_skipping =
        |name: &str| config::load_str_with(&collector_yaml(&read(name)), name, &env, skipping);

    // The guide's recipe: awsxray -> awsxray, next to a Prometheus metrics pipeline, which is
    // an error naming what to use instead...
    let recipe_name = "recipe-otel-collector-xray-prometheus-complete.yaml";
    let errors = load_shared(recipe_name).unwrap_err();
    let messages: Vec<String> = errors.0.iter().map(|d| d.to_string()).collect();
    assert!(
        messages.iter().any(|m| m.contains("service.pipelines.metrics: pipeline `metrics` cannot run: xray-collector runs `traces` pipelines only; for metrics use the blueprint's `spec.metrics` option (Amazon Managed Service for Prometheus managed scraper)")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("receivers.prometheus: receiver type `prometheus` is not supported; it is used by pipeline `metrics`, which cannot run")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("exporters.prometheusremotewrite: exporter type `prometheusremotewrite` is not supported; it is used by pipeline `metrics`, which cannot run")),
        "{messages:#?}"
    );
    // ... unless the opt-in skips it.
    let recipe = load_skipping(recipe_name).expect("recipe loads on the opt-in");
    assert_eq!(recipe.skipped_pipelines, vec!["metrics".to_owned()]);
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
    // Its `sigv4auth` (for Amazon Managed Prometheus) is now a supported extension: typed, and
    // started, though only the skipped metrics pipeline's exporter uses it.
    assert!(
        !w.iter().any(|m| m.contains("extension type `sigv4auth`")),
        "{w:?}"
    );
    let Some(aps) = recipe.config.extension::<SigV4AuthConfig>("sigv4auth") else {
        panic!("the recipe's sigv4auth is typed")
    };
    assert_eq!(
        (aps.region.as_str(), aps.service.as_str()),
        ("REGION", "aps")
    );

    // Configs whose traces pipeline needs only parts that may not be built yet; the two ADOT
    // configs with a metrics pipeline load on the opt-in only.
    let community = load_shared("community-collector-config-xray.yaml").expect("loads");
    assert_eq!(community.config.service.pipelines.len(), 1);
    assert!(community.skipped_pipelines.is_empty());
    for name in [
        "aws-otel-collector-config.yaml",
        "aws-otel-collector-config-ecs-ecs-default-config.yaml",
    ] {
        let errors = load_shared(name).unwrap_err();
        assert!(
            errors
                .0
                .iter()
                .any(|e| e.message.starts_with("pipeline `metrics` cannot run")),
            "{name}: {errors}"
        );
        let loaded = load_skipping(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.config.service.pipelines.len(), 1, "{name}");
        assert_eq!(
            loaded.skipped_pipelines,
            vec!["metrics".to_owned()],
            "{name}"
        );
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
            "contrib-awsxrayreceiver-testdata-config.yaml:24:3: processors.nop: processor type `nop` is not supported (used by pipeline `traces`); supported processors: attributes, batch, filter, k8sattributes, memory_limiter, probabilistic_sampler, resource, resourcedetection",
            "contrib-awsxrayreceiver-testdata-config.yaml:27:3: exporters.nop: exporter type `nop` is not supported (used by pipeline `traces`); supported exporters: awsxray, debug, file, otlphttp",
        ]
    );
    let errors =
        load_shared("contrib-awsxrayexporter-testdata-config.pipeline-form.yaml").unwrap_err();
    let messages: Vec<String> = errors.0.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        messages,
        vec![
            "receiver type `examplereceiver` is not supported (used by pipeline `traces`); supported receivers: awsxray, otlp",
            "processor type `exampleprocessor` is not supported (used by pipeline `traces`); supported processors: attributes, batch, filter, k8sattributes, memory_limiter, probabilistic_sampler, resource, resourcedetection",
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
    let Some(c) = loaded
        .config
        .exporter::<AwsXrayExporterConfig>("awsxray/customname")
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

/// The collector config the generator renders for the X-Ray OTLP endpoint (issue 7's contract).
const OTLPHTTP_CONTRACT: &str = "\
receivers:
  awsxray:
    endpoint: 0.0.0.0:2000
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  batch:
extensions:
  health_check: {endpoint: 0.0.0.0:13133}
  sigv4auth:
    region: us-west-2
    service: xray
    assume_role: {arn: arn:aws:iam::123456789012:role/otlp, sts_region: us-east-1, session_name: migration}
exporters:
  otlphttp:
    traces_endpoint: https://xray.us-west-2.amazonaws.com/v1/traces
    auth:
      authenticator: sigv4auth
    compression: gzip
    encoding: proto
    timeout: 30s
    headers: {}
    sending_queue:
      num_consumers: 4
      queue_size: 500
      sizer: items
    retry_on_failure:
      initial_interval: 1s
      max_interval: 10s
      max_elapsed_time: 120s
  otlphttp/json:
    endpoint: http://127.0.0.1:4318/
    compression: none
    encoding: json
    headers: {x-tenant: blue}
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [awsxray, otlp]
      processors: [batch]
      exporters: [otlphttp, otlphttp/json]
";

#[test]
fn the_otlphttp_contract_loads_with_sigv4auth() {
    let loaded = load(OTLPHTTP_CONTRACT).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    let Some(e) = c.exporter::<OtlpHttpExporterConfig>("otlphttp") else {
        panic!()
    };
    assert_eq!(
        e.traces_url(),
        "https://xray.us-west-2.amazonaws.com/v1/traces"
    );
    assert_eq!(e.auth.as_ref().unwrap().authenticator.name(), "sigv4auth");
    assert_eq!(
        (e.compression.as_str(), e.encoding.as_str()),
        ("gzip", "proto")
    );
    assert_eq!(e.timeout, std::time::Duration::from_secs(30));
    assert_eq!(e.sending_queue.num_consumers, Some(4));
    assert_eq!(e.sending_queue.sizer, Sizer::Items);
    assert_eq!(
        e.retry_on_failure.max_elapsed_time,
        std::time::Duration::from_secs(120)
    );
    let Some(j) = c.exporter::<OtlpHttpExporterConfig>("otlphttp/json") else {
        panic!()
    };
    assert_eq!(j.traces_url(), "http://127.0.0.1:4318/v1/traces");
    assert_eq!(
        (j.compression.as_str(), j.encoding.as_str()),
        ("none", "json")
    );
    assert_eq!(j.headers["x-tenant"], "blue");
    assert!(j.auth.is_none());
    let Some(s) = c.extension::<SigV4AuthConfig>("sigv4auth") else {
        panic!()
    };
    assert_eq!(
        (s.region.as_str(), s.service.as_str()),
        ("us-west-2", "xray")
    );
    assert_eq!(s.assume_role.arn, "arn:aws:iam::123456789012:role/otlp");
    assert_eq!(s.assume_role.sts_region, "us-east-1");
    assert_eq!(s.assume_role.session_name, "migration");
    assert_eq!(
        c.service.extensions,
        vec![
            "health_check".parse().unwrap(),
            "sigv4auth".parse().unwrap()
        ]
    );

    // Defaults: gzip, protobuf, 30 s, the awsxray exporter's queue and retry defaults.
    let minimal = "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    endpoint: https://collector.example.com\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n";
    let loaded = load(minimal).unwrap();
    let Some(d) = loaded.config.exporter::<OtlpHttpExporterConfig>("otlphttp") else {
        panic!()
    };
    assert_eq!(
        (d.compression.as_str(), d.encoding.as_str()),
        ("gzip", "proto")
    );
    assert_eq!(d.timeout, std::time::Duration::from_secs(30));
    assert_eq!(
        d.sending_queue,
        xray_collector::exporters::queue::QueueConfig::default()
    );
    assert_eq!(
        d.retry_on_failure,
        xray_collector::exporters::retry::RetryConfig::default()
    );
}

#[test]
fn sigv4auth_infers_the_service_from_the_endpoint_or_says_where_it_is_missing() {
    // No `service` and no `region`: the X-Ray host gives both, as contrib infers them.
    let inferred = "receivers:\n  otlp:\n    protocols:\n      http:\nextensions:\n  sigv4auth:\nexporters:\n  otlphttp:\n    endpoint: https://xray.eu-central-1.amazonaws.com\n    auth:\n      authenticator: sigv4auth\nservice:\n  extensions: [sigv4auth]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n";
    load(inferred).expect("service inferred from the host");
    assert_eq!(
        xray_collector::extensions::sigv4auth::config::infer_service_and_region(
            "xray.eu-central-1.amazonaws.com"
        ),
        (Some("xray"), Some("eu-central-1"))
    );
    // A local endpoint gives neither: the service must be configured.
    let local = inferred.replace(
        "https://xray.eu-central-1.amazonaws.com",
        "http://127.0.0.1:4318",
    );
    assert_eq!(
        load(&local).unwrap_err(),
        vec![
            "collector.yaml:11:7: exporters.otlphttp.auth.authenticator: cannot infer the SigV4 service from the endpoint host `127.0.0.1`: set `service` in extensions.sigv4auth"
        ]
    );
    let configured = local.replace("  sigv4auth:\n", "  sigv4auth:\n    service: xray\n");
    load(&configured).expect("a configured service needs no inference");
}

#[test]
fn invalid_otlphttp_configs_are_located() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown key",
            "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:4318\n    compresion: gzip\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n",
            &[
                "collector.yaml:8:5: exporters.otlphttp.compresion: unknown field `compresion`, expected one of `endpoint`, `traces_endpoint`, `auth`, `compression`, `encoding`, `timeout`, `headers`, `tls`, `proxy_url`, `sending_queue`, `retry_on_failure`",
            ],
        ),
        (
            "authenticator missing, not sigv4auth, or not started",
            "receivers:\n  otlp:\n    protocols:\n      http:\nextensions:\n  health_check:\n  sigv4auth/off:\n    service: xray\nexporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:4318\n    auth:\n      authenticator: sigv4auth\n  otlphttp/hc:\n    endpoint: http://127.0.0.1:4318\n    auth:\n      authenticator: health_check\n  otlphttp/off:\n    endpoint: http://127.0.0.1:4318\n    auth:\n      authenticator: sigv4auth/off\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp, otlphttp/hc, otlphttp/off]\n",
            &[
                "collector.yaml:13:7: exporters.otlphttp.auth.authenticator: `sigv4auth` is not a `sigv4auth` extension defined in `extensions`",
                "collector.yaml:17:7: exporters.otlphttp/hc.auth.authenticator: `health_check` is not a `sigv4auth` extension defined in `extensions`",
                "collector.yaml:21:7: exporters.otlphttp/off.auth.authenticator: extension `sigv4auth/off` is not listed in `service.extensions`",
            ],
        ),
        (
            "values",
            "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  otlphttp:\n    traces_endpoint: xray.us-east-1.amazonaws.com/v1/traces\n    compression: zstd\n    encoding: xml\n    timeout: 0\n    headers:\n      bad header: x\n    tls:\n      cert_file: /c.pem\n    sending_queue:\n      queue_size: 0\n      storage: file_storage\n    retry_on_failure:\n      multiplier: 0.5\n  otlphttp/none:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp, otlphttp/none]\n",
            &[
                "collector.yaml:7:5: exporters.otlphttp.traces_endpoint: `xray.us-east-1.amazonaws.com/v1/traces` is not an http:// or https:// URL with a host",
                "collector.yaml:8:5: exporters.otlphttp.compression: compression `zstd` is not supported; use `gzip` or `none`",
                "collector.yaml:9:5: exporters.otlphttp.encoding: encoding `xml` is not supported; use `proto` or `json`",
                "collector.yaml:10:5: exporters.otlphttp.timeout: must be positive",
                "collector.yaml:12:7: exporters.otlphttp.headers.bad header: `bad header` is not a valid HTTP header name",
                "collector.yaml:14:7: exporters.otlphttp.tls.cert_file: client certificates (mutual TLS) are not supported",
                "collector.yaml:16:7: exporters.otlphttp.sending_queue.queue_size: must be at least 1",
                "collector.yaml:17:7: exporters.otlphttp.sending_queue.storage: `file_storage` is not a `file_storage` extension defined in `extensions`",
                "collector.yaml:19:7: exporters.otlphttp.retry_on_failure.multiplier: must be at least 1",
                "collector.yaml:20:3: exporters.otlphttp/none: `endpoint` or `traces_endpoint` is required",
            ],
        ),
        (
            "sigv4auth keys",
            "receivers:\n  otlp:\n    protocols:\n      http:\nextensions:\n  sigv4auth:\n    assume_role:\n      arn: my-role\n      role_arn: x\nexporters:\n  debug:\nservice:\n  extensions: [sigv4auth]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
            &[
                "collector.yaml:9:7: extensions.sigv4auth.assume_role.role_arn: unknown field `role_arn`, expected one of `arn`, `sts_region`, `session_name`",
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

/// Hostile YAML against the real binary, under a 100 MB data limit (see `harness::hostile_yaml`):
/// `validate` exits 1 with a located error within a generous time bound. The measured time and
/// peak resident set are printed.
#[test]
fn hostile_yaml_is_a_located_error_in_bounded_memory_and_time() {
    use harness::hostile_yaml::{TIME_LIMIT, has_located_error, hostile_cases, run_bounded};

    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_xray-collector"));
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in hostile_cases().into_iter().enumerate() {
        let file = dir.path().join(format!("hostile-{i}.yaml"));
        std::fs::write(&file, &case.text).unwrap();
        let file = file.to_str().unwrap().to_owned();
        let config = format!("--config={file}");
        let run = run_bounded(bin, &["validate", &config], dir.path());
        println!(
            "xray-collector validate on {}: exit {:?}, {:.2?}, peak RSS {} KiB",
            case.name,
            run.code,
            run.elapsed,
            run.peak_kib
                .map_or("unmeasured".to_owned(), |k| k.to_string())
        );
        let output = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, Some(1), "{}: {output}", case.name);
        assert!(
            has_located_error(&output, &file),
            "{}: no located error in {output}",
            case.name
        );
        assert!(
            run.elapsed < TIME_LIMIT,
            "{} took {:?}",
            case.name,
            run.elapsed
        );
    }
}

/// A config whose `${env:XRB_SECRET}` reference sits in fields it does not fit: a wrong-typed
/// number, an invalid duration, an unknown enum variant and an unknown authenticator.
const SECRET_IN_WRONG_FIELDS: &str = "\
receivers:
  awsxray:
    endpoint: 0.0.0.0:2000
processors:
  batch:
    send_batch_size: ${env:XRB_SECRET}
  batch/2:
    timeout: ${env:XRB_SECRET}
extensions:
  sigv4auth:
    region: us-west-2
exporters:
  debug:
    verbosity: ${env:XRB_SECRET}
  otlphttp:
    endpoint: https://xray.us-west-2.amazonaws.com
    auth:
      authenticator: ${env:XRB_SECRET}
service:
  extensions: [sigv4auth]
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch, batch/2]
      exporters: [debug, otlphttp]
";

/// A config that validates but cannot start: the OTLP receiver's path comes from the environment
/// and does not start with `/`, which only the start-up finds.
const SECRET_FAILS_THE_START: &str = "\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        traces_url_path: ${env:XRB_SECRET}
exporters:
  debug:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
";

/// Config errors never echo a value that came from the environment: `validate` and a failed
/// start both name each field and the `${env:XRB_SECRET}` reference, and never the secret, whether
/// it reads as a string or types as a number; nor does the log of a start that fails on a setting
/// the config check cannot judge.
#[test]
fn config_errors_show_env_references_not_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.yaml");
    std::fs::write(&file, SECRET_IN_WRONG_FIELDS).unwrap();
    let config = format!("--config={}", file.display());
    let run = |secret: &str, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xray-collector"))
            .args(args)
            .env("XRB_SECRET", secret)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A start that did not fail would run on: bound it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let reference = "${env:XRB_SECRET}";
    for (secret, fields) in [
        (
            "xrb-secret-marker-5d1c",
            &[
                "processors.batch.send_batch_size",
                "processors.batch/2.timeout",
                "exporters.debug.verbosity",
                "exporters.otlphttp.auth.authenticator",
            ][..],
        ),
        // A number types as one: still never shown.
        (
            "73921.5",
            &[
                "processors.batch.send_batch_size",
                "exporters.debug.verbosity",
                "exporters.otlphttp.auth.authenticator",
            ][..],
        ),
    ] {
        for args in [vec!["validate", config.as_str()], vec![config.as_str()]] {
            let (code, text) = run(secret, &args);
            assert_eq!(code, Some(1), "{args:?}: {text}");
            assert!(!text.contains(secret), "{args:?} leaks the secret: {text}");
            for field in fields {
                let line = text
                    .lines()
                    .find(|l| l.contains(&format!(": {field}: ")))
                    .unwrap_or_else(|| panic!("{args:?}: no error for {field}: {text}"));
                assert!(line.contains(reference), "{args:?}: {line}");
            }
        }
    }

    std::fs::write(&file, SECRET_FAILS_THE_START).unwrap();
    let secret = "xrb-secret-marker-5d1c";
    let (code, text) = run(secret, &["validate", config.as_str()]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(secret, &[config.as_str()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        !text.contains(secret),
        "the start-up log leaks the secret: {text}"
    );
    assert!(
        text.lines().any(|l| l.contains("Collector failed.")
            && l.contains("receivers.otlp.protocols.http.traces_url_path")
            && l.contains(reference)),
        "{text}"
    );
}
