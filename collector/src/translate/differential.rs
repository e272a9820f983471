//! Differential tests of the direct writer against the tree-building translator it replaced
//! (`oracle.rs`): for the same spans, settings and invented ids, both must give the same
//! documents byte for byte (and the same ids, trace ids and dropped spans). Inputs: every request
//! of the table-driven cases in `tests/translate/`, realistic spans of instrumented services, and
//! random spans built from the attribute names the rules read, with values of every type.

use std::path::Path;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use proptest::prelude::*;

use super::{IdSource, TraceIdValidation, TranslateSettings, oracle, to_xray_documents_with_ids};

/// Invented ids from a counter, so both translators invent the same ones.
struct Counter(u64);

impl IdSource for Counter {
    fn next_id(&mut self) -> [u8; 8] {
        self.0 += 1;
        self.0.to_be_bytes()
    }
}

/// Translates with both and asserts the same result; returns the number of documents.
fn assert_same(resource_spans: &[ResourceSpans], settings: &TranslateSettings) -> usize {
    let new = to_xray_documents_with_ids(resource_spans, settings, &mut Counter(0));
    let old = oracle::to_xray_documents_with_ids(resource_spans, settings, &mut Counter(0));
    assert_eq!(new.dropped, old.dropped);
    assert_eq!(new.documents.len(), old.documents.len());
    for (n, o) in new.documents.iter().zip(&old.documents) {
        assert_eq!(
            String::from_utf8_lossy(&n.json),
            String::from_utf8_lossy(&o.json)
        );
        assert_eq!((&n.id, &n.trace_id), (&o.id, &o.trace_id));
    }
    new.documents.len()
}

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Any::StringValue(value.to_owned()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, Any::IntValue(value))
}

fn one_resource(resource: Vec<KeyValue>, spans: Vec<Span>) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }]
}

#[test]
fn every_table_driven_case_gives_the_same_bytes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/translate");
    let mut cases = 0;
    let mut documents = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/translate") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("case file");
        let case: serde_json::Value = serde_json::from_str(&text).expect("case JSON");
        let request: ExportTraceServiceRequest =
            serde_json::from_value(case["request"].clone()).expect("OTLP/JSON request");
        let strings = |key: &str| -> Vec<String> {
            case["settings"][key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let settings = TranslateSettings {
            indexed_attributes: strings("indexed_attributes"),
            index_all_attributes: case["settings"]["index_all_attributes"] == true,
            log_groups: strings("aws_log_groups"),
            trace_id_validation: match case["settings"]["validate_trace_ids_at"].as_i64() {
                Some(now_unix_secs) => TraceIdValidation::Window { now_unix_secs },
                None => TraceIdValidation::Skip,
            },
        };
        documents += assert_same(&request.resource_spans, &settings);
        cases += 1;
    }
    assert!(cases >= 18, "only {cases} cases in {}", dir.display());
    assert!(documents > 30, "only {documents} documents");
}

/// Spans of an instrumented web service on EKS: server, internal, HTTP client and database
/// spans, an AWS SDK call, a `LOCAL_ROOT` split, a failed call with a Java stack trace and links.
fn realistic_spans() -> Vec<Span> {
    let trace_id = vec![
        0x67, 0x4a, 0x1b, 0x2c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    let span = |id: u8, parent: u8, name: &str, kind: SpanKind, attributes: Vec<KeyValue>| Span {
        trace_id: trace_id.clone(),
        span_id: vec![0x10, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            vec![0x10, 0, 0, 0, 0, 0, 0, parent]
        },
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: 1_733_300_000_123_456_789,
        end_time_unix_nano: 1_733_300_000_223_456_000,
        attributes,
        status: Some(Status {
            code: status::StatusCode::Ok as i32,
            ..Status::default()
        }),
        ..Span::default()
    };
    let mut failed = span(
        6,
        1,
        "GET",
        SpanKind::Client,
        vec![
            s("http.request.method", "GET"),
            s(
                "url.full",
                "https://inventory.internal/v1/items?sku=\"a\"\n",
            ),
            i("http.response.status_code", 503),
        ],
    );
    failed.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "upstream unavailable".to_owned(),
    });
    failed.events = vec![Event {
        name: "exception".to_owned(),
        time_unix_nano: 1_733_300_000_200_000_000,
        attributes: vec![
            s("exception.type", "java.io.IOException"),
            s("exception.message", "connection reset"),
            s(
                "exception.stacktrace",
                "java.io.IOException: connection reset\n\tat com.example.Client.get(Client.java:42)\n\tat com.example.Handler.handle(Handler.java:7)\nCaused by: java.net.SocketException: reset\n\tat java.net.Socket.read(Socket.java:100)\n",
            ),
        ],
        ..Event::default()
    }];
    failed.links = vec![Link {
        trace_id: trace_id.clone(),
        span_id: vec![0x20, 0, 0, 0, 0, 0, 0, 1],
        attributes: vec![s("link.kind", "retry"), i("attempt", 2)],
        ..Link::default()
    }];
    vec![
        span(
            1,
            0,
            "POST /api/v1/checkout",
            SpanKind::Server,
            vec![
                s("bench_sent_ns", "00001733300000123456"),
                s("http.request.method", "POST"),
                s("url.scheme", "https"),
                s("url.path", "/api/v1/checkout"),
                s("http.route", "/api/v1/checkout"),
                i("http.response.status_code", 200),
                s("server.address", "shop.example.com"),
                i("server.port", 443),
                s("client.address", "10.0.12.34"),
                s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                s("enduser.id", "user-42"),
            ],
        ),
        span(
            2,
            1,
            "CheckoutService.placeOrder",
            SpanKind::Internal,
            vec![
                s("code.function", "placeOrder"),
                i("order.items", 3),
                kv("order.total", Any::DoubleValue(99.95)),
                kv("order.express", Any::BoolValue(true)),
            ],
        ),
        span(
            3,
            2,
            "SELECT orders.items",
            SpanKind::Client,
            vec![
                s("db.system", "postgresql"),
                s("db.name", "orders"),
                s("db.statement", "SELECT id FROM items WHERE order_id = $1"),
                s("db.user", "app"),
                s(
                    "db.connection_string",
                    "postgresql://orders.rds.example.com:5432",
                ),
            ],
        ),
        span(
            4,
            2,
            "DynamoDB.GetItem",
            SpanKind::Client,
            vec![
                s("rpc.system", "aws-api"),
                s("rpc.service", "DynamoDB"),
                s("rpc.method", "GetItem"),
                s("aws.region", "eu-west-1"),
                s("aws.request_id", "R-1"),
                kv(
                    "aws.dynamodb.table_names",
                    Any::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(Any::StringValue("carts".into())),
                            },
                            AnyValue {
                                value: Some(Any::StringValue("orders".into())),
                            },
                        ],
                    }),
                ),
                s("aws.remote.service", "AWS::DynamoDB"),
            ],
        ),
        span(
            5,
            1,
            "SQS.SendMessage",
            SpanKind::Producer,
            vec![
                s("aws.span.kind", "LOCAL_ROOT"),
                s("aws.local.service", "checkout-api"),
                s("aws.remote.service", "AWS.SDK.SQS"),
                s("rpc.system", "aws-api"),
                s("aws.queue_url", "https://sqs/q"),
                s(
                    "aws.xray.metadata.billing",
                    "{\"otel.resource.x\":1,\"cost\":2}",
                ),
                s("aws.xray.metadata.default", "{\"b\":[1,2],\"a\":null}"),
                s("aws.xray.metadata.broken", "{not json"),
            ],
        ),
        failed,
    ]
}

fn eks_resource() -> Vec<KeyValue> {
    vec![
        s("service.name", "checkout-api"),
        s("service.version", "2.14.1"),
        s("telemetry.sdk.name", "opentelemetry"),
        s("telemetry.sdk.language", "java"),
        s("telemetry.sdk.version", "1.44.1"),
        s("telemetry.distro.version", "2.0"),
        s("host.name", "ip-10-0-12-34.eu-west-1.compute.internal"),
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_eks"),
        s("cloud.account.id", "111111111111"),
        s("k8s.cluster.name", "shop-prod"),
        s("k8s.pod.name", "checkout-7d9f8c6b5-x2x7q"),
        s("container.id", "abc123"),
        kv(
            "aws.log.group.names",
            Any::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Any::StringValue("/eks/shop".into())),
                }],
            }),
        ),
    ]
}

/// Resources of each platform the rules know, and none.
fn known_resources() -> Vec<Vec<KeyValue>> {
    vec![
        eks_resource(),
        vec![
            s("cloud.provider", "aws"),
            s("cloud.platform", "aws_ecs"),
            s("aws.ecs.launchtype", "fargate"),
            s("aws.ecs.task.arn", "arn:aws:ecs:eu-west-1:1:task/t"),
            s("container.name", "web"),
            s(
                "aws.log.group.arns",
                "arn:aws:logs:eu-west-1:1:log-group:/ecs/web:*&bad",
            ),
        ],
        vec![
            s("cloud.platform", "aws_ec2"),
            s("host.id", "i-0123"),
            s("host.type", "m5.large"),
        ],
        vec![
            s("cloud.platform", "aws_elastic_beanstalk"),
            s("service.instance.id", "17"),
            s("service.namespace", "prod"),
        ],
        vec![s("cloud.provider", "gcp"), s("service.name", "elsewhere")],
        Vec::new(),
    ]
}

/// A known resource with random attributes before or after it (the first of a key wins).
fn resource() -> impl Strategy<Value = Vec<KeyValue>> {
    (
        prop::sample::select(known_resources()),
        attributes(RESOURCE_KEYS),
        any::<bool>(),
    )
        .prop_map(|(known, random, known_first)| {
            if known_first {
                known.into_iter().chain(random).collect()
            } else {
                random.into_iter().chain(known).collect()
            }
        })
}

#[test]
fn realistic_spans_give_the_same_bytes() {
    let resources = known_resources();
    let settings = [
        TranslateSettings::default(),
        TranslateSettings {
            indexed_attributes: vec![
                "order.items".into(),
                "otel.resource.service.name".into(),
                "db.system".into(),
                "aws.region".into(),
            ],
            log_groups: vec!["/fallback".into(), String::new()],
            ..TranslateSettings::default()
        },
        TranslateSettings {
            index_all_attributes: true,
            ..TranslateSettings::default()
        },
    ];
    let mut documents = 0;
    for resource in &resources {
        for settings in &settings {
            documents += assert_same(&one_resource(resource.clone(), realistic_spans()), settings);
        }
    }
    // Six spans, one of them split in two, per resource and settings.
    assert_eq!(documents, resources.len() * settings.len() * 7);
}

/// Attribute names the rules read, so random spans reach every branch.
const KEYS: &[&str] = &[
    "http.method",
    "http.request.method",
    "http.client_ip",
    "client.address",
    "net.peer.ip",
    "network.peer.address",
    "http.user_agent",
    "http.status_code",
    "http.response.status_code",
    "http.status_text",
    "http.url",
    "url.full",
    "http.scheme",
    "http.host",
    "http.target",
    "url.path",
    "url.query",
    "http.server_name",
    "net.host.port",
    "server.address",
    "server.port",
    "net.peer.name",
    "net.peer.port",
    "message.type",
    "messaging.message_payload_size_bytes",
    "messaging.url",
    "rpc.system",
    "rpc.method",
    "rpc.service",
    "aws.operation",
    "aws.account_id",
    "aws.region",
    "aws.request_id",
    "aws.queue_url",
    "aws.table_name",
    "aws.dynamodb.table_names",
    "aws.service",
    "aws.span.kind",
    "aws.local.service",
    "aws.remote.service",
    "aws.remote.operation",
    "peer.service",
    "db.system",
    "db.name",
    "db.statement",
    "db.user",
    "db.connection_string",
    "enduser.id",
    "aws.xray.annotations",
    "aws.xray.metadata.default",
    "aws.xray.metadata.Default",
    "aws.xray.metadata.billing",
    "aws.xray.metadata.zeta",
    "aws.xray.error",
    "aws.xray.fault",
    "aws.xray.throttle",
    "aws.xray.inprogress",
    "otel.resource.service.name",
    "order.items",
    "weird key/with \"quotes\"",
];

/// Resource attribute names the rules read.
const RESOURCE_KEYS: &[&str] = &[
    "service.name",
    "service.version",
    "service.namespace",
    "service.instance.id",
    "container.image.tag",
    "container.name",
    "container.id",
    "cloud.provider",
    "cloud.platform",
    "cloud.account.id",
    "cloud.availability_zone",
    "host.id",
    "host.type",
    "host.image.id",
    "k8s.cluster.name",
    "k8s.pod.name",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.log.group.arns",
    "aws.log.group.names",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
];

/// Text values that mean something to the rules, and arbitrary text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "GET",
            "LOCAL_ROOT",
            "aws-api",
            "aws",
            "gcp",
            "aws_eks",
            "aws_ecs",
            "aws_ec2",
            "aws_elastic_beanstalk",
            "aws_app_runner",
            "fargate",
            "java",
            "python",
            "go",
            "dotnet",
            "javascript",
            "postgresql",
            "mysql",
            "RECEIVED",
            "10.1.2.3",
            "::1",
            "https",
            "http",
            "80",
            "8080",
            "404",
            "12",
            "AWS.SDK.S3",
            "AWS::SQS",
            "https://h.example/p?q=1",
            "jdbc:mysql://db.local:3306/x",
            "arn:aws:logs:r:1:log-group:/g:*",
            "a&b&",
            "{\"k\":\"v\",\"otel.resource.r\":1}",
            "[1]",
            "{bad",
            "default",
            "order.items",
            "otel.resource.service.name",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        "[a-z._ /\"\\\\\u{0}-\u{1f}é]{0,12}",
    ]
}

fn scalar() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        4 => text().prop_map(Any::StringValue),
        2 => prop_oneof![Just(200i64), Just(429), Just(503), Just(0), any::<i64>()]
            .prop_map(Any::IntValue),
        1 => prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e21)
        ]
        .prop_map(Any::DoubleValue),
        1 => any::<bool>().prop_map(Any::BoolValue),
        1 => prop::collection::vec(any::<u8>(), 0..7).prop_map(Any::BytesValue),
    ]
    .prop_map(|value| AnyValue { value: Some(value) })
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    scalar().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(
                prop_oneof![inner.clone(), Just(AnyValue { value: None })],
                0..4
            )
            .prop_map(|values| AnyValue {
                value: Some(Any::ArrayValue(ArrayValue { values })),
            }),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["a", "b", "c\"", "é"]),
                    prop::option::of(inner)
                ),
                0..5
            )
            .prop_map(|entries| AnyValue {
                value: Some(Any::KvlistValue(KeyValueList {
                    values: entries
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key: key.to_owned(),
                            value,
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn attributes(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (
            prop_oneof![
                6 => prop::sample::select(keys).prop_map(str::to_owned),
                1 => text(),
            ],
            prop_oneof![
                8 => any_value().prop_map(Some),
                1 => Just(Some(AnyValue { value: None })),
                1 => Just(None),
            ],
        ),
        0..14,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect()
    })
}

fn id(lens: &'static [usize]) -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(lens).prop_flat_map(|len| prop::collection::vec(any::<u8>(), len))
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["exception", "HTTP request failure", "log"]),
        attributes(&[
            "exception.type",
            "exception.message",
            "exception.stacktrace",
            "http.response.status_code",
            "aws.http.error_message",
            "message.type",
            "messaging.message_payload_size_bytes",
        ]),
        prop::sample::select(vec![
            "",
            "E: m\n\tat a.B.c(B.java:1)\nCaused by: x.Y: z\n\tat d.E.f(E.java:2)\n",
            "Traceback (most recent call last):\n  File \"a.py\", line 3, in f\n    g()\nValueError: bad\n",
            "Error: x\n    at f (/a.js:1:2)\n    at /b.js:3:4\n",
            "goroutine 1 [running]:\nmain.f()\n\t/a.go:7 +0x1\n",
        ]),
        any::<u64>(),
    )
        .prop_map(|(name, mut attributes, trace, time_unix_nano)| {
            if !trace.is_empty() {
                attributes.push(s("exception.stacktrace", trace));
            }
            Event {
                name: name.to_owned(),
                time_unix_nano,
                attributes,
                ..Event::default()
            }
        })
}

fn span() -> impl Strategy<Value = Span> {
    (
        (
            id(&[16, 16, 16, 15]),
            id(&[8, 8, 8, 0, 3]),
            id(&[8, 8, 0, 0, 5]),
            text(),
            0i32..6,
        ),
        (any::<u64>(), prop_oneof![Just(0u64), any::<u64>()]),
        prop_oneof![
            attributes(KEYS),
            (
                prop::sample::select(
                    realistic_spans()
                        .into_iter()
                        .map(|span| span.attributes)
                        .collect::<Vec<_>>()
                ),
                attributes(KEYS),
            )
                .prop_map(|(known, random)| known.into_iter().chain(random).collect()),
        ],
        prop::collection::vec(event(), 0..3),
        prop::option::of((0i32..3, text())),
        prop::collection::vec(
            (id(&[16, 16, 4]), id(&[8, 8, 0, 2]), attributes(KEYS)),
            0..3,
        ),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id, name, kind),
                (start, end),
                attributes,
                events,
                status,
                links,
            )| Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                events,
                status: status.map(|(code, message)| Status { code, message }),
                links: links
                    .into_iter()
                    .map(|(trace_id, span_id, attributes)| Link {
                        trace_id,
                        span_id,
                        attributes,
                        ..Link::default()
                    })
                    .collect(),
                ..Span::default()
            },
        )
}

fn settings() -> impl Strategy<Value = TranslateSettings> {
    (
        prop::collection::vec(prop::sample::select(KEYS).prop_map(str::to_owned), 0..4),
        any::<bool>(),
        prop::collection::vec(text(), 0..2),
        prop_oneof![3 => Just(None), 1 => (0i64..2_000_000_000).prop_map(Some)],
    )
        .prop_map(
            |(indexed_attributes, index_all_attributes, log_groups, now)| TranslateSettings {
                indexed_attributes,
                index_all_attributes,
                log_groups,
                trace_id_validation: match now {
                    Some(now_unix_secs) => TraceIdValidation::Window { now_unix_secs },
                    None => TraceIdValidation::Skip,
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_spans_give_the_same_bytes(
        resource in resource(),
        spans in prop::collection::vec(span(), 1..5),
        settings in settings(),
    ) {
        assert_same(&one_resource(resource, spans), &settings);
    }

    #[test]
    fn realistic_spans_with_random_resources_give_the_same_bytes(
        resource in resource(),
        settings in settings(),
    ) {
        assert_same(&one_resource(resource, realistic_spans()), &settings);
    }
}
