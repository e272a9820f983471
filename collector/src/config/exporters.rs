//! Exporter configs: `awsxray` (contrib's keys plus the exporter helper's `sending_queue` and
//! `retry_on_failure`), `otlphttp` (the collector's keys, same queue and retry structs), `debug`
//! and `file`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// `exporters.awsxray`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsXrayExporterConfig {
    /// AWS region; otherwise `AWS_REGION`/`AWS_DEFAULT_REGION`, the profile, then instance metadata.
    pub region: String,
    /// X-Ray API endpoint override (e.g. a local emulator).
    pub endpoint: String,
    /// Role to assume (through STS) on top of the default credential chain.
    pub role_arn: String,
    /// OTLP attributes to turn into annotations (used when translating OTLP spans).
    pub indexed_attributes: Vec<String>,
    /// Turn every OTLP attribute into an annotation.
    pub index_all_attributes: bool,
    /// CloudWatch log groups to link from translated OTLP segments.
    pub aws_log_groups: Vec<String>,
    /// contrib's connection-pool size. Here it is the default number of requests in flight when
    /// `sending_queue.num_consumers` is not set.
    pub num_workers: Option<usize>,
    /// Timeout of one `PutTraceSegments` attempt, in seconds; default 30.
    pub request_timeout_seconds: u64,
    /// Most retries of one request; unset means retries are bounded by
    /// `retry_on_failure.max_elapsed_time` only.
    pub max_retries: Option<u32>,
    /// HTTP proxy for the X-Ray API (not supported: must be empty).
    pub proxy_address: String,
    /// Skip TLS verification (not supported: must be false).
    pub no_verify_ssl: bool,
    /// Do not query instance metadata for the region.
    pub local_mode: bool,
    /// ARN of the resource running the collector, for translated OTLP segments.
    pub resource_arn: String,
    /// X-Ray telemetry records (`PutTelemetryRecords`; not supported: must not be enabled).
    pub telemetry: XrayTelemetryConfig,
    /// The bounded queue in front of the senders.
    pub sending_queue: QueueConfig,
    /// Retries with exponential backoff and jitter.
    pub retry_on_failure: RetryConfig,
}

impl Default for AwsXrayExporterConfig {
    fn default() -> Self {
        AwsXrayExporterConfig {
            region: String::new(),
            endpoint: String::new(),
            role_arn: String::new(),
            indexed_attributes: Vec::new(),
            index_all_attributes: false,
            aws_log_groups: Vec::new(),
            num_workers: None,
            request_timeout_seconds: 30,
            max_retries: None,
            proxy_address: String::new(),
            no_verify_ssl: false,
            local_mode: false,
            resource_arn: String::new(),
            telemetry: XrayTelemetryConfig::default(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

/// `exporters.awsxray.telemetry`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct XrayTelemetryConfig {
    /// Send `PutTelemetryRecords`.
    pub enabled: bool,
    /// Include instance metadata in the records.
    pub include_metadata: bool,
}

/// What `sending_queue.queue_size` counts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    /// Batches (requests), the collector's default.
    #[default]
    Requests,
    /// Items: X-Ray documents or OTLP spans.
    Items,
    /// Bytes of document bodies (bounds memory directly).
    Bytes,
}

/// `sending_queue` (the collector's exporter-helper keys).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Whether batches are queued. When false the pipeline waits for a free sender.
    pub enabled: bool,
    /// Senders working in parallel (requests in flight); default 10.
    pub num_consumers: Option<usize>,
    /// Capacity, in units of `sizer`; default 1000.
    pub queue_size: usize,
    /// The unit of `queue_size`.
    pub sizer: Sizer,
    /// Wait for room instead of refusing (and counting) a batch when the queue is full.
    pub block_on_overflow: bool,
    /// A `file_storage` extension to keep the queue on disk, so that an outage or a restart
    /// (even `kill -9`) loses nothing received, up to the extension's disk bound.
    pub storage: Option<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: None,
            queue_size: 1000,
            sizer: Sizer::Requests,
            block_on_overflow: false,
            storage: None,
        }
    }
}

pub use crate::exporters::retry::RetryConfig;

/// How much the debug exporter logs.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    /// One line per batch with its item count.
    #[default]
    Basic,
    /// One line per item with its ids.
    Normal,
    /// Every item in full.
    Detailed,
}

/// `exporters.debug`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugExporterConfig {
    /// How much to log.
    pub verbosity: Verbosity,
}

/// `exporters.file`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileExporterConfig {
    /// File to append JSON lines to (required).
    pub path: String,
    /// Only `json` is supported.
    pub format: Option<String>,
}

/// `exporters.otlphttp`: OTLP/HTTP to `traces_endpoint` (or `endpoint` + `/v1/traces`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpExporterConfig {
    /// Base URL; traces go to `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// Full URL for traces; wins over `endpoint`.
    pub traces_endpoint: String,
    /// The authenticator extension signing the requests.
    pub auth: Option<AuthConfig>,
    /// `gzip` (default) or `none`.
    pub compression: String,
    /// `proto` (default) or `json`.
    pub encoding: String,
    /// Timeout of one request, answer included; default 30s.
    #[serde(deserialize_with = "super::duration::deserialize")]
    pub timeout: Duration,
    /// Headers added to every request (before signing).
    pub headers: BTreeMap<String, String>,
    /// TLS to the endpoint.
    pub tls: ClientTlsConfig,
    /// HTTP CONNECT proxy; otherwise `HTTPS_PROXY` / `HTTP_PROXY` unless `NO_PROXY` names the host.
    pub proxy_url: String,
    /// The bounded queue in front of the senders.
    pub sending_queue: QueueConfig,
    /// Retries with exponential backoff and jitter.
    pub retry_on_failure: RetryConfig,
}

impl Default for OtlpHttpExporterConfig {
    fn default() -> Self {
        OtlpHttpExporterConfig {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            auth: None,
            compression: "gzip".to_owned(),
            encoding: "proto".to_owned(),
            timeout: Duration::from_secs(30),
            headers: BTreeMap::new(),
            tls: ClientTlsConfig::default(),
            proxy_url: String::new(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

impl OtlpHttpExporterConfig {
    /// The URL traces are posted to.
    pub fn traces_url(&self) -> String {
        if !self.traces_endpoint.is_empty() {
            self.traces_endpoint.clone()
        } else {
            format!("{}/v1/traces", self.endpoint.trim_end_matches('/'))
        }
    }
}

/// `auth` of an HTTP client.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The id of an authenticator extension (`sigv4auth` or `sigv4auth/<name>`).
    pub authenticator: String,
}

/// `tls` of an HTTP client (contrib's `configtls.ClientConfig` keys this collector honours;
/// client certificates are refused).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTlsConfig {
    /// For gRPC clients in contrib; over HTTP the URL scheme decides, so it changes nothing here.
    pub insecure: bool,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// PEM CA bundle trusted in addition to the system's roots.
    pub ca_file: String,
    /// Server name to verify instead of the endpoint's host.
    pub server_name_override: String,
    /// Client certificate (mutual TLS): not supported, must be empty.
    pub cert_file: String,
    /// Client key (mutual TLS): not supported, must be empty.
    pub key_file: String,
}
