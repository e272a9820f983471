//! The OTLP gRPC load generator: spans shaped like what an instrumented web service exports (an
//! HTTP server span, an internal span, an HTTP client span and a database span per trace, with
//! the semantic-convention attributes the OpenTelemetry SDKs set), sent over gRPC (tonic) in
//! batches of [`BATCH`] spans, the OpenTelemetry SDK batch span processor's default
//! `maxExportBatchSize`, under one resource (service, SDK, host and Kubernetes attributes).
//!
//! The generator paces batches so that spans go out at the target rate, with at most
//! [`IN_FLIGHT`] export calls outstanding (several instrumented processes); a call that fails
//! counts its spans as send errors. Each span carries the send time in the attribute
//! `bench_sent_ns` (a 20-digit string, like the UDP document's annotation), which the sink reads
//! to measure the delay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

use crate::load::Sent;

/// Spans per export call: the batch span processor's default `maxExportBatchSize`.
pub const BATCH: usize = 512;

/// Export calls outstanding at most.
pub const IN_FLIGHT: usize = 4;

/// Spans per trace in the generated batches.
const SPANS_PER_TRACE: usize = 4;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

/// The per-span send-time attribute, first in each span's list so it is found and filled fast.
fn sent(value: u64) -> KeyValue {
    s("bench_sent_ns", &format!("{value:020}"))
}

/// The request template: one resource, one scope, [`BATCH`] spans in traces of four.
fn template() -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![
            s("service.name", "checkout-api"),
            s("service.version", "2.14.1"),
            s("service.namespace", "shop"),
            s("deployment.environment.name", "prod"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "java"),
            s("telemetry.sdk.version", "1.44.1"),
            s("host.name", "ip-10-0-12-34.eu-west-1.compute.internal"),
            s("cloud.provider", "aws"),
            s("cloud.platform", "aws_eks"),
            s("cloud.region", "eu-west-1"),
            s("k8s.cluster.name", "shop-prod"),
            s("k8s.namespace.name", "checkout"),
            s("k8s.pod.name", "checkout-7d9f8c6b5-x2x7q"),
            s("k8s.deployment.name", "checkout"),
        ],
        ..Resource::default()
    };
    let mut spans = Vec::with_capacity(BATCH);
    for n in 0..BATCH {
        let (name, kind, attributes) = match n % SPANS_PER_TRACE {
            0 => (
                "POST /api/v1/checkout",
                SpanKind::Server,
                vec![
                    sent(0),
                    s("http.request.method", "POST"),
                    s("url.scheme", "https"),
                    s("url.path", "/api/v1/checkout"),
                    s("http.route", "/api/v1/checkout"),
                    i("http.response.status_code", 200),
                    s("server.address", "shop.example.com"),
                    i("server.port", 443),
                    s("client.address", "10.0.12.34"),
                    s(
                        "user_agent.original",
                        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                    ),
                    s("network.protocol.version", "1.1"),
                ],
            ),
            1 => (
                "CheckoutService.placeOrder",
                SpanKind::Internal,
                vec![
                    sent(0),
                    s("code.function", "placeOrder"),
                    s("code.namespace", "com.example.shop.CheckoutService"),
                    i("order.items", 3),
                ],
            ),
            2 => (
                "POST",
                SpanKind::Client,
                vec![
                    sent(0),
                    s("http.request.method", "POST"),
                    s("url.full", "http://payments.payments.svc:8080/v2/charges"),
                    s("server.address", "payments.payments.svc"),
                    i("server.port", 8080),
                    i("http.response.status_code", 201),
                    s("network.protocol.version", "1.1"),
                ],
            ),
            _ => (
                "SELECT orders.items",
                SpanKind::Client,
                vec![
                    sent(0),
                    s("db.system", "postgresql"),
                    s("db.namespace", "orders"),
                    s("db.operation.name", "SELECT"),
                    s("db.collection.name", "items"),
                    s(
                        "db.query.text",
                        "SELECT id, sku, quantity, price FROM items WHERE order_id = $1",
                    ),
                    s(
                        "server.address",
                        "orders.cluster-c1x2y3.eu-west-1.rds.amazonaws.com",
                    ),
                    i("server.port", 5432),
                ],
            ),
        };
        spans.push(Span {
            name: name.to_owned(),
            kind: kind as i32,
            attributes,
            status: Some(Status {
                code: status::StatusCode::Unset as i32,
                message: String::new(),
            }),
            ..Span::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.spring-webmvc-6.0".to_owned(),
                    version: "2.10.0-alpha".to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.24.0".to_owned(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Fills batch number `seq` sent at `sent_ns`: fresh trace and span ids (a trace per four spans,
/// each span's parent the one before it), times within the last 200 ms, the send time.
fn fill(req: &mut ExportTraceServiceRequest, seq: u64, sent_ns: u64) {
    let spans = &mut req.resource_spans[0].scope_spans[0].spans;
    for (n, span) in spans.iter_mut().enumerate() {
        let global = seq * BATCH as u64 + n as u64;
        let trace = global / SPANS_PER_TRACE as u64 + 1;
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&((sent_ns / 1_000_000_000) as u32).to_be_bytes());
        trace_id[8..].copy_from_slice(&trace.to_be_bytes());
        span.trace_id = trace_id.to_vec();
        span.span_id = (global + 1).to_be_bytes().to_vec();
        span.parent_span_id = if n % SPANS_PER_TRACE == 0 {
            Vec::new()
        } else {
            global.to_be_bytes().to_vec()
        };
        let depth = (n % SPANS_PER_TRACE) as u64;
        span.start_time_unix_nano = sent_ns - 200_000_000 + depth * 10_000_000;
        span.end_time_unix_nano = sent_ns - depth * 20_000_000;
        if let Some(Value::StringValue(v)) = span
            .attributes
            .first_mut()
            .and_then(|kv| kv.value.as_mut())
            .and_then(|v| v.value.as_mut())
        {
            *v = format!("{sent_ns:020}");
        }
    }
}

/// Sends `rate` spans per second to the OTLP gRPC endpoint `to` for `duration` (rounded down to
/// whole batches).
pub fn generate(to: SocketAddr, rate: u64, duration: Duration) -> anyhow::Result<Sent> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{to}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        let client = TraceServiceClient::new(channel);
        let mut req = template();
        let batches = rate * duration.as_millis() as u64 / 1000 / BATCH as u64;
        let errors = Arc::new(AtomicU64::new(0));
        let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let cpu0 = crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0);
        let start = Instant::now();
        for seq in 0..batches {
            // Batch `seq` is due once `seq * BATCH` spans are due at the target rate.
            let due = Duration::from_secs_f64((seq * BATCH as u64) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            let permit = slots.clone().acquire_owned().await?;
            fill(&mut req, seq, crate::now_ns());
            let call = req.clone();
            let mut client = client.clone();
            let errors = errors.clone();
            tokio::spawn(async move {
                if client.export(call).await.is_err() {
                    errors.fetch_add(BATCH as u64, Ordering::Relaxed);
                }
                drop(permit);
            });
        }
        // Wait for the calls still in flight.
        let _ = slots.acquire_many(IN_FLIGHT as u32).await?;
        // The last batch goes out at the start of its slot: the run lasts at least every slot.
        let nominal = Duration::from_secs_f64((batches * BATCH as u64) as f64 / rate as f64);
        let elapsed = start.elapsed().max(nominal);
        let cpu_seconds = crate::procfs::cpu_seconds("thread-self").unwrap_or(0.0) - cpu0;
        let errors = errors.load(Ordering::Relaxed);
        Ok(Sent {
            datagrams: batches * BATCH as u64 - errors,
            errors,
            elapsed,
            cpu_seconds,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn batch_is_512_realistic_spans_with_distinct_ids_and_the_send_time() {
        let mut req = template();
        fill(&mut req, 3, 1_795_550_527_123_456_789);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), BATCH);
        let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_id.clone()).collect();
        assert_eq!(ids.len(), BATCH);
        assert!(
            spans
                .iter()
                .all(|s| s.end_time_unix_nano > s.start_time_unix_nano)
        );
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
        let encoded = req.encode_to_vec();
        let markers = memchr::memmem::find_iter(&encoded, crate::doc::SENT_MARKER)
            .filter(|&at| {
                crate::doc::sent_ns_after(&encoded[at + crate::doc::SENT_MARKER.len()..])
                    == Some(1_795_550_527_123_456_789)
            })
            .count();
        assert_eq!(markers, BATCH);
        // About 300 bytes a span, like an instrumented service's spans.
        assert!(
            (200..600).contains(&(encoded.len() / BATCH)),
            "{}",
            encoded.len()
        );
    }
}
