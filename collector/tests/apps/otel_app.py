"""An app instrumented with the real OpenTelemetry SDK that sends spans over OTLP.

Usage: otel_app.py GRPC_ENDPOINT HTTP_URL OUT_JSONL TRACES [CA_PEM]

Sends TRACES traces with the OTLP/gRPC exporter, then TRACES traces with the OTLP/HTTP (protobuf)
exporter, all with AwsXRayIdGenerator trace ids. Each trace is a SERVER span with two CLIENT
children: an SQL query and a failing payment call that records an exception.
With CA_PEM, both exporters use TLS and trust only that CA (HTTP_URL is then https://).
Writes one JSON line per finished span (as the SDK saw it) to OUT_JSONL, and exits non-zero if any
export failed.
"""

import json
import sys

import grpc

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


class Checked(SpanExporter):
    """Delegates to an OTLP exporter and remembers whether every export succeeded."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result != SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def run(protocol, exporter, traces, out):
    checked = Checked(exporter)
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(),
        resource=Resource.create({"service.name": "checkout", "deployment.environment": "e2e"}),
    )
    provider.add_span_processor(SimpleSpanProcessor(checked))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("e2e")
    for i in range(traces):
        server_attrs = {
            "http.method": "GET",
            "http.scheme": "http",
            "http.host": "shop.example.com",
            "http.target": "/cart?i=%d" % i,
            "http.status_code": 200,
            "tenant": "acme",
            "enduser.id": "alice",
        }
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes=server_attrs):
            sql_attrs = {
                "db.system": "postgresql",
                "db.name": "shop",
                "db.statement": "SELECT * FROM carts WHERE id = ?",
                "db.user": "app",
            }
            with tracer.start_as_current_span("SELECT carts", kind=SpanKind.CLIENT, attributes=sql_attrs):
                pass
            pay_attrs = {
                "peer.service": "payments",
                "http.method": "POST",
                "http.url": "https://payments.internal/charge",
                "http.status_code": 503,
            }
            with tracer.start_as_current_span(
                "charge", kind=SpanKind.CLIENT, attributes=pay_attrs, record_exception=False, set_status_on_exception=False
            ) as pay:
                try:
                    raise RuntimeError("payment backend down")
                except RuntimeError as err:
                    pay.record_exception(err)
                    pay.set_status(Status(StatusCode.ERROR, "payment failed"))
    provider.shutdown()
    for span in memory.get_finished_spans():
        ctx = span.get_span_context()
        out.write(
            json.dumps(
                {
                    "protocol": protocol,
                    "trace_id": "%032x" % ctx.trace_id,
                    "span_id": "%016x" % ctx.span_id,
                    "parent_id": "%016x" % span.parent.span_id if span.parent else None,
                    "name": span.name,
                    "kind": span.kind.name,
                    "start": span.start_time,
                    "end": span.end_time,
                }
            )
            + "\n"
        )
    return checked.failures


def main():
    grpc_endpoint, http_url, out_path, traces = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ca = sys.argv[5] if len(sys.argv) > 5 else None
    if ca:
        with open(ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        grpc_exporter = GrpcExporter(endpoint=grpc_endpoint, insecure=False, credentials=credentials)
        http_exporter = HttpExporter(endpoint=http_url, certificate_file=ca)
    else:
        grpc_exporter = GrpcExporter(endpoint=grpc_endpoint, insecure=True)
        http_exporter = HttpExporter(endpoint=http_url)
    with open(out_path, "w", encoding="utf-8") as out:
        failures = run("grpc", grpc_exporter, traces, out)
        failures += run("http", http_exporter, traces, out)
    if failures:
        print("%d exports failed" % failures, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
