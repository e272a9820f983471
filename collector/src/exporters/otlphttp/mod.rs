//! The `otlphttp` exporter: OTLP/HTTP `POST`s of `ExportTraceServiceRequest`s (protobuf or JSON,
//! gzip or identity) to `traces_endpoint`, optionally signed by a `sigv4auth` extension, with the
//! same queue, retries and drop accounting as the `awsxray` exporter.
//!
//! Answers follow the OTLP/HTTP specification: 2xx is success, and a `partial_success` in the body
//! counts its `rejected_spans` as failed (`reason="partial_success"`); `429`, `502`, `503` and `504`
//! are retried after the larger of the backoff and `Retry-After` (seconds or an HTTP date);
//! every other status is permanent and its `google.rpc.Status` message is logged. Connection
//! errors and timeouts are retried. X-Ray segments are converted to OTLP spans first
//! (`translate::from_xray`); what cannot be is counted as `reason="untranslatable"`.
//!
//! Protobuf bodies are encoded in one pass over the spans and gzipped with deflate states kept
//! between requests (`body.rs`); the bytes are those of `encode_to_vec` and `GzEncoder`.

mod body;
pub mod config;
pub mod response;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::aws::client::{ClientTls, HttpsClient};
use crate::aws::sign::SignError;
use crate::config::component::{BoxFuture, Checker, Resolve};
use crate::config::id::ComponentId;
use crate::exporters::queue::Codec;
use crate::exporters::retry::{RetryPolicy, or_stop};
use crate::exporters::{Abandoned, Built, Exporter, ExporterConfig, network_queue, open_storage};
use crate::extensions::sigv4auth::Signer;
use crate::telemetry::logs::error_chain;
use crate::telemetry::{FailReason, RetryReason, Telemetry};
use crate::traces::{Segment, Traces};

use self::config::OtlpHttpExporterConfig;
use self::response::{Outcome, classify};

/// Why a request body could not be built (a permanent failure of its batch).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// `encoding: json` and the spans did not serialize.
    #[error("encoding the request as JSON")]
    Json(#[source] serde_json::Error),
    /// `compression: gzip` and the compressor failed.
    #[error("compressing the request")]
    Gzip(#[source] std::io::Error),
}

/// Why a request could not be prepared (retried: credentials may be on their way).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request did not build (a header value the endpoint settings produced).
    #[error("building the request")]
    Build(#[source] hyper::http::Error),
    /// SigV4 signing failed, typically for lack of credentials.
    #[error("signing the request")]
    Sign(#[source] SignError),
}

/// Largest encoded request (before compression); bigger batches are split across requests.
/// The X-Ray OTLP endpoint, like most OTLP servers, refuses bodies much over a few MiB.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest answer read back; OTLP answers are small.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

impl ExporterConfig for OtlpHttpExporterConfig {
    fn references(&mut self) -> Vec<(&'static str, &mut dyn Resolve)> {
        let mut refs: Vec<(&'static str, &mut dyn Resolve)> = Vec::new();
        if let Some(auth) = &mut self.auth {
            refs.push(("auth/authenticator", &mut auth.authenticator));
        }
        if let Some(storage) = &mut self.sending_queue.storage {
            refs.push(("sending_queue/storage", storage));
        }
        refs
    }

    fn validate_resolved(&self, c: &mut Checker<'_, '_>) {
        self.validate_auth(c);
    }

    fn build<'a>(
        &'a self,
        id: &'a ComponentId,
        telemetry: Telemetry,
    ) -> BoxFuture<'a, anyhow::Result<Built>> {
        Box::pin(async move {
            let name = id.to_string();
            let consumers = self.sending_queue.num_consumers.unwrap_or(10);
            let queue = network_queue(&self.sending_queue, consumers);
            let signer = match &self.auth {
                None => None,
                Some(auth) => {
                    let (extension, sigv4) = auth.authenticator.get()?;
                    let url = self.traces_url();
                    Some(Signer::build(&extension.to_string(), &name, sigv4, &url).await?)
                }
            };
            let exporter = Arc::new(OtlpHttpExporter::new(
                &name,
                self,
                signer,
                telemetry.clone(),
            )?);
            // Batches are stored as they are: OTLP as one request, X-Ray documents one per record.
            let storage = open_storage(id, &self.sending_queue, Codec::as_is, &telemetry).await?;
            Ok(Built {
                exporter,
                queue,
                consumers,
                storage,
            })
        })
    }
}

impl Exporter for OtlpHttpExporter {
    fn id(&self) -> &str {
        &self.id
    }

    fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn export<'a>(
        &'a self,
        traces: Traces,
        stop: &'a CancellationToken,
        abandoned: &'a Abandoned,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.export_batch(traces, stop, abandoned))
    }
}

/// Sends OTLP spans over HTTP.
pub struct OtlpHttpExporter {
    id: String,
    url: Uri,
    client: HttpsClient,
    signer: Option<Signer>,
    gzip: bool,
    json: bool,
    timeout: Duration,
    headers: Vec<(HeaderName, HeaderValue)>,
    retry: RetryPolicy,
    telemetry: Telemetry,
    /// Encoding buffers and deflate states reused from request to request.
    bodies: body::Bodies,
}

impl OtlpHttpExporter {
    /// Builds the exporter `id`; `signer` signs its requests when `auth` names a `sigv4auth`.
    pub fn new(
        id: &str,
        cfg: &OtlpHttpExporterConfig,
        signer: Option<Signer>,
        telemetry: Telemetry,
    ) -> anyhow::Result<OtlpHttpExporter> {
        let text = cfg.traces_url();
        let url: Uri = text
            .parse()
            .map_err(|e| anyhow::format_err!("exporters.{id}: `{text}` is not a URL: {e}"))?;
        let tls = ClientTls {
            insecure: cfg.tls.insecure_skip_verify,
            server_name_override: cfg.tls.server_name_override.clone(),
            ca_file: cfg.tls.ca_file.clone(),
        };
        let client = HttpsClient::new(
            &tls,
            &cfg.proxy_url,
            &url,
            cfg.sending_queue.num_consumers.unwrap_or(10),
        )
        .map_err(|e| anyhow::Error::new(e).context(format!("exporters.{id}")))?;
        let mut headers = Vec::new();
        for (name, value) in &cfg.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| anyhow::format_err!("exporters.{id}.headers.{name}: {e}"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| anyhow::format_err!("exporters.{id}.headers.{name}: {e}"))?;
            headers.push((name, value));
        }
        tracing::info!(exporter = id, url = %url, compression = %cfg.compression, encoding = %cfg.encoding, signed = signer.is_some(), "OTLP/HTTP exporter configured.");
        Ok(OtlpHttpExporter {
            id: id.to_owned(),
            url,
            client,
            signer,
            gzip: cfg.compression == "gzip",
            json: cfg.encoding == "json",
            timeout: cfg.timeout,
            headers,
            retry: RetryPolicy {
                config: cfg.retry_on_failure.clone(),
                max_retries: None,
            },
            telemetry,
            bodies: body::Bodies::new(),
        })
    }

    /// Exports one batch, in as many requests as [`MAX_REQUEST_BYTES`] needs.
    ///
    /// Items are counted in the unit the pipeline counts: OTLP spans, or X-Ray documents (one
    /// document may become several spans). X-Ray batches are cut into requests by document
    /// size (a document's OTLP form is smaller than its JSON), so a document's spans always
    /// travel together.
    pub async fn export_batch(
        &self,
        traces: Traces,
        stop: &CancellationToken,
        abandoned: &Abandoned,
    ) {
        match traces {
            Traces::Otlp(resource_spans) => {
                for (chunk, spans) in split(resource_spans, MAX_REQUEST_BYTES) {
                    if spans > 0 {
                        self.send(chunk, spans, spans, stop, abandoned).await;
                    }
                }
            }
            Traces::XRay(segments) => {
                let mut rest: &[Segment] = &segments;
                while !rest.is_empty() {
                    let mut bytes = 0;
                    let take = rest
                        .iter()
                        .position(|s| {
                            bytes += s.body.len();
                            bytes > MAX_REQUEST_BYTES
                        })
                        .unwrap_or(rest.len())
                        .max(1);
                    let (chunk, tail) = rest.split_at(take);
                    rest = tail;
                    let (resource_spans, documents) = self.spans_from_xray(chunk);
                    let spans = span_count(&resource_spans);
                    if documents > 0 {
                        self.send(resource_spans, documents, spans, stop, abandoned)
                            .await;
                    }
                }
            }
        }
    }

    /// X-Ray documents to OTLP spans (`translate::from_xray`), with the number of documents
    /// converted; documents that cannot be converted are counted as failed and logged.
    fn spans_from_xray(&self, segments: &[Segment]) -> (Vec<ResourceSpans>, usize) {
        let out = crate::translate::from_xray::to_otlp(segments);
        if !out.failed.is_empty() {
            self.telemetry
                .exporter_failed(&self.id, FailReason::Untranslatable, out.failed.len());
            for failed in out.failed.iter().take(10) {
                tracing::warn!(exporter = %self.id, segment_id = failed.ids.id(), trace_id = failed.ids.trace_id(), error = %failed.error, "Cannot convert an X-Ray document to OTLP spans; it failed.");
            }
        }
        let converted = segments.len().saturating_sub(out.failed.len());
        (out.resource_spans, converted)
    }

    /// The request body: encoded, then compressed when `compression: gzip` (`body.rs`).
    fn body(&self, resource_spans: Vec<ResourceSpans>) -> Result<Bytes, BodyError> {
        if !self.json {
            return self
                .bodies
                .protobuf(&resource_spans, self.gzip)
                .map(Bytes::from)
                .map_err(BodyError::Gzip);
        }
        let request = ExportTraceServiceRequest { resource_spans };
        let encoded = serde_json::to_vec(&request).map_err(BodyError::Json)?;
        if !self.gzip {
            return Ok(Bytes::from(encoded));
        }
        self.bodies
            .gzip(&encoded)
            .map(Bytes::from)
            .map_err(BodyError::Gzip)
    }

    /// One signed request with the body.
    async fn request(&self, body: &Bytes) -> Result<Request<Full<Bytes>>, RequestError> {
        let content_type = if self.json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, body.len())
            .header(
                hyper::header::USER_AGENT,
                concat!("xray-collector/", env!("CARGO_PKG_VERSION")),
            );
        if self.gzip {
            builder = builder.header(CONTENT_ENCODING, "gzip");
        }
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Full::new(body.clone()))
            .map_err(RequestError::Build)?;
        if let Some(signer) = &self.signer {
            signer
                .sign(&mut request, body)
                .await
                .map_err(RequestError::Sign)?;
        }
        Ok(request)
    }

    /// One attempt: the answer's status, `Retry-After`, content type and body, or a transport
    /// failure classified as retryable.
    async fn attempt(&self, body: &Bytes) -> Outcome {
        let request = match self.request(body).await {
            Ok(r) => r,
            // No credentials yet (a role being assumed, the Pod Identity agent starting): retry.
            Err(e) => return Outcome::Retryable(RetryReason::Credentials, error_chain(&e), None),
        };
        let call = async {
            let response =
                self.client.request(request).await.map_err(|e| {
                    Outcome::Retryable(RetryReason::Connection, error_chain(&e), None)
                })?;
            let (parts, incoming) = response.into_parts();
            let bytes = Limited::new(incoming, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    Outcome::Retryable(
                        RetryReason::Connection,
                        format!("reading the answer: {e}"),
                        None,
                    )
                })?
                .to_bytes();
            Ok::<_, Outcome>(classify(
                parts.status.as_u16(),
                &parts.headers,
                &bytes,
                std::time::SystemTime::now(),
            ))
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(outcome)) | Ok(Err(outcome)) => outcome,
            Err(_) => Outcome::Retryable(
                RetryReason::Timeout,
                format!("no answer within {:?}", self.timeout),
                None,
            ),
        }
    }

    /// Sends one request's worth of spans until its `items` (spans, or the X-Ray documents they
    /// came from) are sent, failed or dropped.
    async fn send(
        &self,
        resource_spans: Vec<ResourceSpans>,
        items: usize,
        span_total: usize,
        stop: &CancellationToken,
        abandoned: &Abandoned,
    ) {
        let first_trace_id = resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .next()
            .map(|s| hex(&s.trace_id))
            .unwrap_or_default();
        let body = match self.body(resource_spans) {
            Ok(b) => b,
            Err(e) => {
                self.telemetry.exporter_request(&self.id, "permanent_error");
                self.fail(
                    items,
                    FailReason::PermanentError,
                    &error_chain(&e),
                    &first_trace_id,
                );
                return;
            }
        };
        let mut retries = self.retry.start(&self.id, &self.telemetry);
        loop {
            let Some(outcome) = or_stop(stop, self.attempt(&body)).await else {
                self.drop_at_deadline(items, abandoned);
                return;
            };
            let (reason, detail, retry_after) = match outcome {
                Outcome::Success {
                    rejected: rejected_spans,
                    message,
                } => {
                    let rejected = rejected_items(rejected_spans, items, span_total);
                    self.telemetry.exporter_sent(&self.id, items - rejected);
                    if rejected == 0 {
                        self.telemetry.exporter_request(&self.id, "success");
                    } else {
                        self.telemetry.exporter_request(&self.id, "partial");
                        self.telemetry.exporter_failed(
                            &self.id,
                            FailReason::PartialSuccess,
                            rejected,
                        );
                        tracing::warn!(exporter = %self.id, rejected, items, message = %message, first_trace_id = %first_trace_id, "The OTLP endpoint rejected some spans (partial success); the items they carry are dropped.");
                    }
                    if rejected == 0 && !message.is_empty() {
                        tracing::warn!(exporter = %self.id, message = %message, "The OTLP endpoint accepted every span with a warning.");
                    }
                    return;
                }
                Outcome::Permanent(detail) => {
                    self.telemetry.exporter_request(&self.id, "permanent_error");
                    self.fail(items, FailReason::PermanentError, &detail, &first_trace_id);
                    return;
                }
                Outcome::Retryable(reason, detail, retry_after) => {
                    self.telemetry.exporter_request(&self.id, reason.as_str());
                    (reason, detail, retry_after)
                }
            };
            if let Err(give_up) = retries.wait(reason, retry_after, &detail, stop).await {
                match give_up.fail_reason() {
                    Some(reason) => self.fail(items, reason, &detail, &first_trace_id),
                    None => self.drop_at_deadline(items, abandoned),
                }
                return;
            }
        }
    }

    fn fail(&self, items: usize, reason: FailReason, detail: &str, first_trace_id: &str) {
        self.telemetry.exporter_failed(&self.id, reason, items);
        tracing::error!(
            exporter = %self.id,
            reason = reason.as_str(),
            items,
            first_trace_id,
            error = %detail,
            "OTLP export failed; items dropped."
        );
    }

    fn drop_at_deadline(&self, items: usize, abandoned: &Abandoned) {
        abandoned.add(items);
        tracing::warn!(exporter = %self.id, items, "Shutdown deadline reached; items in flight not sent (dropped, or kept in a persistent queue's disk log).");
    }
}

/// The items a partial success rejected: its spans, or, when items are X-Ray documents that
/// became more spans, the documents in the same proportion, rounded up.
fn rejected_items(rejected_spans: usize, items: usize, spans: usize) -> usize {
    if rejected_spans == 0 || spans == 0 {
        return 0;
    }
    if items == spans {
        return rejected_spans.min(items);
    }
    rejected_spans
        .saturating_mul(items)
        .div_ceil(spans)
        .min(items)
}

fn span_count(resource_spans: &[ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits resource spans into requests of at most `limit` encoded bytes (a single span larger
/// than that goes alone), keeping each span under its resource and scope. Returns each request's
/// resource spans and span count.
pub fn split(resource_spans: Vec<ResourceSpans>, limit: usize) -> Vec<(Vec<ResourceSpans>, usize)> {
    let total: usize = resource_spans.iter().map(|rs| rs.encoded_len()).sum();
    if total <= limit {
        let spans = resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        return vec![(resource_spans, spans)];
    }
    let mut out = Vec::new();
    let mut current: Vec<ResourceSpans> = Vec::new();
    let mut size = 0usize;
    let mut count = 0usize;
    for rs in resource_spans {
        let resource_overhead = rs.resource.as_ref().map_or(0, |r| r.encoded_len()) + 16;
        let mut fresh_resource = true;
        for ss in rs.scope_spans {
            let scope_overhead = ss.scope.as_ref().map_or(0, |s| s.encoded_len()) + 16;
            let mut fresh_scope = true;
            for span in ss.spans {
                let span_size = span.encoded_len() + 8;
                let extra = span_size
                    + if fresh_scope { scope_overhead } else { 0 }
                    + if fresh_resource { resource_overhead } else { 0 };
                if count > 0 && size + extra > limit {
                    out.push((std::mem::take(&mut current), count));
                    size = 0;
                    count = 0;
                    fresh_resource = true;
                    fresh_scope = true;
                }
                if fresh_resource {
                    current.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                    size += resource_overhead;
                    fresh_resource = false;
                    fresh_scope = true;
                }
                if fresh_scope {
                    if let Some(last) = current.last_mut() {
                        last.scope_spans.push(ScopeSpans {
                            scope: ss.scope.clone(),
                            spans: Vec::new(),
                            schema_url: ss.schema_url.clone(),
                        });
                    }
                    size += scope_overhead;
                    fresh_scope = false;
                }
                if let Some(scope) = current.last_mut().and_then(|r| r.scope_spans.last_mut()) {
                    scope.spans.push(span);
                }
                size += span_size;
                count += 1;
            }
        }
    }
    if count > 0 {
        out.push((current, count));
    }
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;

    fn resource_spans(service: &str, scopes: usize, spans: usize, pad: usize) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                service.into(),
                            ),
                        ),
                    }),
                }],
                ..Default::default()
            }),
            scope_spans: (0..scopes)
                .map(|s| ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: format!("scope{s}"),
                        ..Default::default()
                    }),
                    spans: (0..spans)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![(s * spans + i) as u8 + 1; 8],
                            name: "x".repeat(pad),
                            ..Default::default()
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
            schema_url: String::new(),
        }
    }

    #[test]
    fn json_bodies_are_otlp_json() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![resource_spans("a", 1, 1, 1)],
        };
        let text = String::from_utf8(serde_json::to_vec(&request).unwrap()).unwrap();
        // OTLP/JSON: lowerCamelCase keys and ids as hex strings, not base64.
        assert!(text.contains(r#""resourceSpans":"#), "{text}");
        assert!(
            text.contains(r#""traceId":"01010101010101010101010101010101""#),
            "{text}"
        );
        assert!(text.contains(r#""spanId":"0101010101010101""#), "{text}");
    }

    #[test]
    fn small_batches_go_in_one_request() {
        let input = vec![resource_spans("a", 2, 3, 10)];
        let out = split(input.clone(), MAX_REQUEST_BYTES);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, 6);
        assert_eq!(out[0].0, input);
    }

    #[test]
    fn large_batches_split_under_the_limit_keeping_resources_and_scopes() {
        let input = vec![
            resource_spans("a", 2, 10, 1000),
            resource_spans("b", 1, 10, 1000),
        ];
        let limit = 5000;
        let out = split(input.clone(), limit);
        assert!(out.len() >= 6, "{}", out.len());
        let mut seen = Vec::new();
        for (chunk, count) in &out {
            let encoded = ExportTraceServiceRequest {
                resource_spans: chunk.clone(),
            }
            .encoded_len();
            assert!(encoded <= limit, "{encoded} > {limit}");
            let spans = placed_spans(chunk);
            assert_eq!(spans.len(), *count);
            seen.extend(spans);
        }
        // Every span once, in order, under its own resource and scope.
        let want = placed_spans(&input);
        assert_eq!(seen, want);
    }

    /// Each span as (its resource, its scope's name, its id), in order.
    fn placed_spans(resource_spans: &[ResourceSpans]) -> Vec<(String, String, Vec<u8>)> {
        resource_spans
            .iter()
            .flat_map(|rs| {
                let svc = format!("{:?}", rs.resource);
                rs.scope_spans.iter().flat_map(move |ss| {
                    let scope = ss.scope.as_ref().unwrap().name.clone();
                    let svc = svc.clone();
                    ss.spans
                        .iter()
                        .map(move |s| (svc.clone(), scope.clone(), s.span_id.clone()))
                })
            })
            .collect()
    }

    #[test]
    fn rejected_spans_of_documents_count_whole_documents() {
        assert_eq!(rejected_items(3, 10, 10), 3);
        assert_eq!(rejected_items(30, 10, 10), 10);
        assert_eq!(rejected_items(0, 10, 40), 0);
        // 10 documents became 40 spans: 1 rejected span fails one document, 40 fail all.
        assert_eq!(rejected_items(1, 10, 40), 1);
        assert_eq!(rejected_items(5, 10, 40), 2);
        assert_eq!(rejected_items(40, 10, 40), 10);
    }

    #[test]
    fn a_span_over_the_limit_goes_alone() {
        let out = split(vec![resource_spans("a", 1, 3, 3000)], 1000);
        assert_eq!(out.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
