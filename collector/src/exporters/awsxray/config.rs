//! `exporters.awsxray`: contrib's keys plus the exporter helper's `sending_queue` and
//! `retry_on_failure`, and their checks.

use serde::Deserialize;

use crate::config::component::{Checker, Component};
use crate::exporters::queue::QueueConfig;
use crate::exporters::retry::RetryConfig;

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

impl Component for AwsXrayExporterConfig {
    const TYPE: &'static str = "awsxray";

    fn validate(&self, c: &mut Checker<'_, '_>) {
        if !self.proxy_address.is_empty() {
            c.error(
                "proxy_address",
                "an HTTP proxy for the X-Ray API is not supported; remove `proxy_address`",
            );
        }
        if self.no_verify_ssl {
            c.error(
                "no_verify_ssl",
                "turning TLS verification off is not supported",
            );
        }
        if self.telemetry.enabled {
            c.error("telemetry", "X-Ray telemetry records are not supported; the collector's metrics are on :8888/metrics");
        }
        if self.request_timeout_seconds == 0 {
            c.error("request_timeout_seconds", "must be at least 1");
        }
        if self.num_workers == Some(0) {
            c.error("num_workers", "must be at least 1");
        }
        if !(self.endpoint.is_empty()
            || self.endpoint.starts_with("http://")
            || self.endpoint.starts_with("https://"))
        {
            c.error(
                "endpoint",
                format!("`{}` is not an http:// or https:// URL", self.endpoint),
            );
        }
        self.sending_queue.validate(c);
        self.retry_on_failure.validate(c);
    }
}
