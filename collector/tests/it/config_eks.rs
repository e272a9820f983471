//! Config tables of the EKS components: `k8sattributes`, `resourcedetection` and the `awsproxy`
//! extension. Each refused contrib key is a located error with its message; ADOT-style configs
//! of each load with contrib's defaults.

use xray_collector::config;
use xray_collector::extensions::awsproxy::config::AwsProxyConfig;
use xray_collector::processors::k8sattributes::config::{K8sAttributesConfig, Source};
use xray_collector::processors::resourcedetection::config::ResourceDetectionConfig;

fn load(text: &str) -> Result<config::Loaded, Vec<String>> {
    config::load_str(text, "collector.yaml", &|_| None)
        .map_err(|e| e.0.iter().map(|d| d.to_string()).collect())
}

/// A traces pipeline with processor `id`, whose settings (`body`, indented four spaces) start
/// on line 7.
fn with_processor(id: &str, body: &str) -> String {
    format!(
        "receivers:\n  awsxray:\nexporters:\n  debug:\nprocessors:\n  {id}:\n{body}service:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      processors: [{id}]\n      exporters: [debug]\n"
    )
}

/// A pipeline and extension `id` (started), whose settings start on line 7.
fn with_extension(id: &str, body: &str) -> String {
    format!(
        "receivers:\n  awsxray:\nexporters:\n  debug:\nextensions:\n  {id}:\n{body}service:\n  extensions: [{id}]\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n"
    )
}

fn check_table(cases: &[(&str, String, &[&str])]) {
    for (name, text, want) in cases {
        let got = load(text)
            .err()
            .unwrap_or_else(|| panic!("{name}: expected errors"));
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn k8sattributes_refused_keys_are_located() {
    let p = |body: &str| with_processor("k8sattributes", body);
    let cases: &[(&str, String, &[&str])] = &[
        (
            "auth types",
            p("    auth_type: none\n"),
            &[
                "collector.yaml:7:5: processors.k8sattributes.auth_type: auth_type `none` is not supported; use `serviceAccount` (in-cluster) or `kubeConfig`",
            ],
        ),
        (
            "metadata outside the supported list",
            p("    extract:\n      metadata: [k8s.pod.name, k8s.container.name]\n"),
            &[
                "collector.yaml:8:32: processors.k8sattributes.extract.metadata[1]: metadata `k8s.container.name` is not supported; supported: k8s.pod.name, k8s.pod.uid, k8s.pod.start_time, k8s.pod.ip, k8s.namespace.name, k8s.node.name, k8s.deployment.name, k8s.replicaset.name, k8s.replicaset.uid",
            ],
        ),
        (
            "label and annotation rules",
            p(
                "    extract:\n      labels:\n        - key_regex: app.*\n          key: app\n        - tag_name: x\n        - key: a\n          from: node\n        - key_regex: \"app(\"\n        - key_regex: app.*\n          tag_name: same-for-all\n      otel_annotations: true\n",
            ),
            &[
                "collector.yaml:9:11: processors.k8sattributes.extract.labels[0].key_regex: set `key` or `key_regex`, not both",
                "collector.yaml:11:11: processors.k8sattributes.extract.labels[1].key: `key` or `key_regex` is required",
                "collector.yaml:13:11: processors.k8sattributes.extract.labels[2].from: from `node` is not supported; use `pod` or `namespace`",
                "collector.yaml:14:11: processors.k8sattributes.extract.labels[3].key_regex: invalid regular expression: regex parse error:\n    app(\n       ^\nerror: unclosed group",
                "collector.yaml:16:11: processors.k8sattributes.extract.labels[4].tag_name: with a `key_regex` without capture groups every matching key would get this one name; add a group and refer to it (`$1`), or leave `tag_name` out for `k8s.<from>.<labels|annotations>.<key>`",
            ],
        ),
        (
            "filters",
            p(
                "    filter:\n      node: n1\n      node_from_env_var: KUBE_NODE_NAME\n      labels:\n        - key: app\n          op: in\n        - key: tier\n          op: exists\n          value: db\n        - key: \"bad key!\"\n          value: \"-x\"\n        - value: web\n      fields:\n        - key: status.phase\n          op: exists\n        - key: \"a=b\"\n        - op: equals\n",
            ),
            &[
                "collector.yaml:9:7: processors.k8sattributes.filter.node_from_env_var: set `node` or `node_from_env_var`, not both",
                "collector.yaml:12:11: processors.k8sattributes.filter.labels[0].op: op `in` is not supported; use one of equals, not-equals, exists, does-not-exist",
                "collector.yaml:15:11: processors.k8sattributes.filter.labels[1].value: op `exists` takes no `value`",
                "collector.yaml:16:11: processors.k8sattributes.filter.labels[2].key: `bad key!` is not a label key ([prefix/]name: a name of up to 63 letters, digits, `-`, `_`, `.`)",
                "collector.yaml:17:11: processors.k8sattributes.filter.labels[2].value: `-x` is not a label value (up to 63 letters, digits, `-`, `_`, `.`)",
                "collector.yaml:18:11: processors.k8sattributes.filter.labels[3].key: `key` is required",
                "collector.yaml:21:11: processors.k8sattributes.filter.fields[0].op: op `exists` is not supported for fields; use `equals` or `not-equals`",
                "collector.yaml:22:11: processors.k8sattributes.filter.fields[1].key: `a=b` is not a field path (e.g. `status.phase`)",
                "collector.yaml:23:11: processors.k8sattributes.filter.fields[2].key: `key` is required",
            ],
        ),
        (
            "pod association sources",
            p(
                "    pod_association:\n      - sources:\n          - from: resource_attribute\n            name: service.name\n          - from: build\n      - sources: []\n      - sources:\n          - from: resource_attribute\n            name: k8s.pod.name\n",
            ),
            &[
                "collector.yaml:10:13: processors.k8sattributes.pod_association[0].sources[0].name: association by `service.name` is not supported; use one of k8s.pod.ip, k8s.pod.uid, host.name, container.id, k8s.pod.name, k8s.namespace.name",
                "collector.yaml:11:13: processors.k8sattributes.pod_association[0].sources[1].from: from `build` is not supported; use `connection` or `resource_attribute`",
                "collector.yaml:12:9: processors.k8sattributes.pod_association[1].sources: at least one source is required",
                "collector.yaml:13:9: processors.k8sattributes.pod_association[2].sources: `k8s.pod.name` and `k8s.namespace.name` identify a pod only together: list both in one rule",
            ],
        ),
        (
            "exclusion, waiting and the cache bound",
            p(
                "    exclude:\n      pods:\n        - name: \"jaeger-(\"\n        - name: \"\"\n        - name: jaeger-agent\n    wait_for_metadata: true\n    wait_for_metadata_timeout: 0s\n    max_pods: 0\n",
            ),
            &[
                "collector.yaml:9:11: processors.k8sattributes.exclude.pods[0].name: invalid regular expression: regex parse error:\n    jaeger-(\n           ^\nerror: unclosed group",
                "collector.yaml:10:11: processors.k8sattributes.exclude.pods[1].name: `name` is required (an empty pattern would exclude every pod)",
                "collector.yaml:13:5: processors.k8sattributes.wait_for_metadata_timeout: must be more than 0",
                "collector.yaml:14:5: processors.k8sattributes.max_pods: must be at least 1",
            ],
        ),
        (
            "a timeout that is not a duration",
            p("    wait_for_metadata_timeout: soon\n"),
            &[
                "collector.yaml:7:5: processors.k8sattributes.wait_for_metadata_timeout: invalid duration `soon`",
            ],
        ),
        (
            "keys outside the supported part",
            p("    wait_for_metadata_deadline: 10s\n"),
            &[
                "collector.yaml:7:5: processors.k8sattributes.wait_for_metadata_deadline: unknown field `wait_for_metadata_deadline`, expected one of `auth_type`, `passthrough`, `extract`, `filter`, `pod_association`, `exclude`, `wait_for_metadata`, `wait_for_metadata_timeout`, `max_pods`",
            ],
        ),
    ];
    check_table(cases);
}

#[test]
fn an_adot_style_k8sattributes_config_loads_with_contribs_defaults() {
    let text = with_processor(
        "k8sattributes",
        "    auth_type: serviceAccount\n    passthrough: false\n    filter:\n      node_from_env_var: KUBE_NODE_NAME\n    extract:\n      metadata: [k8s.pod.name, k8s.pod.uid, k8s.deployment.name, k8s.namespace.name, k8s.node.name, k8s.pod.start_time]\n      labels:\n        - tag_name: app.label.component\n          key: app.kubernetes.io/component\n          from: pod\n      annotations:\n        - key: team\n          from: namespace\n    pod_association:\n      - sources:\n          - from: resource_attribute\n            name: k8s.pod.ip\n      - sources:\n          - from: resource_attribute\n            name: k8s.pod.uid\n      - sources:\n          - from: connection\n    exclude:\n      pods: []\n",
    );
    let loaded = load(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(loaded.warnings.is_empty());
    let k = loaded
        .config
        .processor::<K8sAttributesConfig>("k8sattributes")
        .expect("typed");
    assert_eq!(k.filter.node_from_env_var, "KUBE_NODE_NAME");
    assert_eq!(
        k.association(),
        vec![
            vec![Source::PodIp],
            vec![Source::PodUid],
            vec![Source::Connection]
        ]
    );
    assert!(k.needs_replicasets() && k.needs_namespaces());

    // Defaults: contrib's metadata list and association order, in-cluster auth.
    let loaded = load(&with_processor("k8sattributes", "")).unwrap();
    let k = loaded
        .config
        .processor::<K8sAttributesConfig>("k8sattributes")
        .expect("typed");
    assert_eq!(k.auth_type, "serviceAccount");
    assert_eq!(
        k.extract.metadata,
        [
            "k8s.namespace.name",
            "k8s.pod.name",
            "k8s.pod.uid",
            "k8s.pod.start_time",
            "k8s.deployment.name",
            "k8s.node.name"
        ]
    );
    assert_eq!(
        k.association(),
        vec![
            vec![Source::PodIp],
            vec![Source::PodUid],
            vec![Source::Connection],
            vec![Source::HostName]
        ]
    );
    assert!(!k.needs_namespaces());
}

#[test]
fn k8sattributes_regex_extraction_filters_waiting_and_associations_load() {
    let text = with_processor(
        "k8sattributes",
        "    wait_for_metadata: true\n    wait_for_metadata_timeout: 30s\n    filter:\n      namespace: shop\n      labels:\n        - key: app.kubernetes.io/part-of\n          value: shop\n        - key: canary\n          op: does-not-exist\n      fields:\n        - key: status.phase\n          value: Running\n          op: equals\n    extract:\n      labels:\n        - key_regex: app\\.kubernetes\\.io/(.*)\n          tag_name: app.$1\n      annotations:\n        - key_regex: team-.*\n          from: namespace\n    pod_association:\n      - sources:\n          - from: resource_attribute\n            name: k8s.pod.name\n          - from: resource_attribute\n            name: k8s.namespace.name\n      - sources:\n          - from: resource_attribute\n            name: container.id\n      - sources:\n          - from: resource_attribute\n            name: host.name\n",
    );
    let loaded = load(&text).unwrap_or_else(|e| panic!("{e:?}"));
    let k = loaded
        .config
        .processor::<K8sAttributesConfig>("k8sattributes")
        .expect("typed");
    assert!(k.wait_for_metadata);
    assert_eq!(
        k.wait_for_metadata_timeout,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        k.label_selector().as_deref(),
        Some("app.kubernetes.io/part-of=shop,!canary")
    );
    assert_eq!(
        k.field_selector(None).as_deref(),
        Some("status.phase=Running")
    );
    assert_eq!(k.extract.labels[0].key_regex, "app\\.kubernetes\\.io/(.*)");
    assert!(k.needs_namespaces());
    assert_eq!(
        k.association(),
        vec![
            vec![Source::PodName, Source::Namespace],
            vec![Source::ContainerId],
            vec![Source::HostName]
        ]
    );
    // contrib's default timeout.
    let loaded = load(&with_processor(
        "k8sattributes",
        "    wait_for_metadata: true\n",
    ))
    .unwrap();
    let k = loaded
        .config
        .processor::<K8sAttributesConfig>("k8sattributes")
        .expect("typed");
    assert_eq!(
        k.wait_for_metadata_timeout,
        std::time::Duration::from_secs(10)
    );
}

#[test]
fn resourcedetection_refused_keys_are_located() {
    let p = |body: &str| with_processor("resourcedetection", body);
    let cases: &[(&str, String, &[&str])] = &[
        (
            "detectors outside the supported list",
            p("    detectors: [env, gcp]\n"),
            &[
                "collector.yaml:7:22: processors.resourcedetection.detectors[1]: detector `gcp` is not supported; supported: env, system, ec2, eks",
            ],
        ),
        (
            "timing and failure settings",
            p("    timeout: 0\n    refresh_interval: 1m\n    fail_on_missing_metadata: true\n"),
            &[
                "collector.yaml:7:5: processors.resourcedetection.timeout: must be more than 0",
                "collector.yaml:8:5: processors.resourcedetection.refresh_interval: periodic re-detection is not supported: detection runs once at start-up",
                "collector.yaml:9:5: processors.resourcedetection.fail_on_missing_metadata: not supported: a failed detector is a warning and spans pass without its attributes",
            ],
        ),
        (
            "system detector",
            p(
                "    system:\n      hostname_sources: [dns, os]\n      resource_attributes:\n        host.ip:\n          enabled: true\n        host.mac:\n          enabled: false\n        host.nickname:\n          enabled: true\n",
            ),
            &[
                "collector.yaml:8:26: processors.resourcedetection.system.hostname_sources[0]: hostname source `dns` is not supported; only `os` is",
                "collector.yaml:10:9: processors.resourcedetection.system.resource_attributes.host.ip: attribute `host.ip` is not supported by this collector",
                "collector.yaml:14:9: processors.resourcedetection.system.resource_attributes.host.nickname: unknown attribute `host.nickname`; known: host.name, os.type, host.id, host.arch",
            ],
        ),
        (
            "ec2 and eks detectors",
            p(
                "    ec2:\n      tags: ['^team$']\n      max_attempts: 0\n    eks:\n      node_from_env_var: K8S_NODE_NAME\n",
            ),
            &[
                "collector.yaml:9:7: processors.resourcedetection.ec2.max_attempts: must be at least 1",
                "collector.yaml:11:7: processors.resourcedetection.eks.node_from_env_var: the eks detector's Kubernetes-node fallback is not supported; it reads instance metadata",
            ],
        ),
        (
            "a bad tag pattern",
            p("    ec2:\n      tags_from_imds: true\n      tags: ['(']\n"),
            &[
                "collector.yaml:9:14: processors.resourcedetection.ec2.tags[0]: not a regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
            ],
        ),
        (
            "other detectors' sections and HTTP client keys",
            p("    detectors: [env]\n    endpoint: http://x\n"),
            &[
                "collector.yaml:8:5: processors.resourcedetection.endpoint: unknown field `endpoint`, expected one of `detectors`, `override`, `timeout`, `refresh_interval`, `fail_on_missing_metadata`, `env`, `system`, `ec2`, `eks`",
            ],
        ),
    ];
    check_table(cases);
}

#[test]
fn an_adot_style_resourcedetection_config_loads() {
    let text = with_processor(
        "resourcedetection",
        "    detectors: [env, eks, ec2, system]\n    timeout: 2s\n    override: false\n    ec2:\n      tags_from_imds: true\n      tags: ['^tag1$', '^tag2$']\n    eks:\n      resource_attributes:\n        k8s.cluster.name:\n          enabled: true\n    system:\n      hostname_sources: [os]\n",
    );
    let loaded = load(&text).unwrap_or_else(|e| panic!("{e:?}"));
    let r = loaded
        .config
        .processor::<ResourceDetectionConfig>("resourcedetection")
        .expect("typed");
    assert_eq!(r.detectors, ["env", "eks", "ec2", "system"]);
    assert_eq!(r.timeout, std::time::Duration::from_secs(2));
    assert!(!r.override_existing);
    assert!(r.eks.resource_attributes["k8s.cluster.name"].enabled);

    let loaded = load(&with_processor("resourcedetection", "")).unwrap();
    let r = loaded
        .config
        .processor::<ResourceDetectionConfig>("resourcedetection")
        .expect("typed");
    assert_eq!(r.detectors, ["env"]);
    assert!(r.override_existing);
    assert_eq!(r.timeout, std::time::Duration::from_secs(5));

    // Tags without `tags_from_imds` are read through EC2 DescribeTags, as in contrib.
    let loaded = load(&with_processor(
        "resourcedetection",
        "    detectors: [ec2]\n    ec2:\n      tags: ['^team$', '^eks:']\n",
    ))
    .unwrap_or_else(|e| panic!("{e:?}"));
    let r = loaded
        .config
        .processor::<ResourceDetectionConfig>("resourcedetection")
        .expect("typed");
    assert_eq!(r.ec2.tags, ["^team$", "^eks:"]);
    assert!(!r.ec2.tags_from_imds);
}

#[test]
fn awsproxy_is_started_with_contribs_keys_and_refuses_others() {
    let loaded = load(&with_extension(
        "awsproxy",
        "    endpoint: 0.0.0.0:2000\n    proxy_address: http://proxy:3128\n    tls:\n      insecure: false\n      server_name_override: xray.local\n    region: us-west-2\n    role_arn: arn:aws:iam::123456789012:role/sampling\n    aws_endpoint: https://xray.us-west-2.amazonaws.com\n    local_mode: true\n    service_name: xray\n",
    ))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        loaded.warnings.is_empty(),
        "awsproxy is started, not a warning: {:?}",
        loaded.warnings
    );
    let a = loaded
        .config
        .extension::<AwsProxyConfig>("awsproxy")
        .expect("typed");
    assert_eq!(a.proxy.region, "us-west-2");
    assert_eq!(a.proxy.tls.server_name_override, "xray.local");
    assert!(a.proxy.local_mode);

    let loaded = load(&with_extension("awsproxy", "")).unwrap();
    let a = loaded
        .config
        .extension::<AwsProxyConfig>("awsproxy")
        .expect("typed");
    assert_eq!(a.proxy.endpoint, "0.0.0.0:2000");
    assert_eq!(a.proxy.service_name, "xray");

    let cases: &[(&str, String, &[&str])] = &[
        (
            "a key of another component",
            with_extension("awsproxy", "    insecure: true\n"),
            &[
                "collector.yaml:7:5: extensions.awsproxy.insecure: unknown field `insecure`, expected one of `endpoint`, `proxy_address`, `tls`, `region`, `role_arn`, `aws_endpoint`, `local_mode`, `service_name`",
            ],
        ),
        (
            "a bad endpoint",
            with_extension("awsproxy", "    endpoint: localhost\n"),
            &[
                "collector.yaml:7:5: extensions.awsproxy.endpoint: `localhost` is not a `host:port` address",
            ],
        ),
    ];
    check_table(cases);
}
