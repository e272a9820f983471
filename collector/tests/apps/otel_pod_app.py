"""An app instrumented with the real OpenTelemetry SDK, sending OTLP/HTTP from a given address.

Usage: otel_pod_app.py HTTP_URL SOURCE_ADDRESS OUT_JSONL TRACES

Sends TRACES traces (a SERVER span with one CLIENT child each, AwsXRayIdGenerator trace ids) with
the SDK's OTLP/HTTP exporter, whose HTTP session binds its connections to SOURCE_ADDRESS (a
loopback address standing for a pod's IP), so the collector sees them coming from that address.
The resource carries only what the app knows of itself (service.name), never Kubernetes metadata.
Writes one JSON line per finished span and exits non-zero if an export failed.
"""

import json
import sys

import requests
from requests.adapters import HTTPAdapter

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind


class SourceAddressAdapter(HTTPAdapter):
    """urllib3 connections bound to one local address."""

    def __init__(self, source_address):
        self.source_address = source_address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(*args, **kwargs)


class Checked(SpanExporter):
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


def main():
    url, source, out_path, traces = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source))
    exporter = Checked(OTLPSpanExporter(endpoint=url, session=session))
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(),
        resource=Resource.create({"service.name": "checkout-otel"}),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e-pod")
    finished = []
    for i in range(traces):
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as server:
            server.set_attribute("http.method", "GET")
            server.set_attribute("http.status_code", 200)
            with tracer.start_as_current_span("inventory", kind=SpanKind.CLIENT) as client:
                client.set_attribute("peer.service", "inventory")
                finished.append(client)
            finished.append(server)
    provider.shutdown()
    with open(out_path, "w", encoding="utf-8") as out:
        for span in finished:
            ctx = span.get_span_context()
            out.write(
                json.dumps(
                    {
                        "name": span.name,
                        "trace_id": "1-%s-%s" % (format(ctx.trace_id, "032x")[:8], format(ctx.trace_id, "032x")[8:]),
                        "span_id": format(ctx.span_id, "016x"),
                        "kind": span.kind.name,
                    }
                )
                + "\n"
            )
    if exporter.failures:
        print("%d exports failed" % exporter.failures, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
