"""A small application instrumented with the real AWS X-Ray SDK for Python.

It sends its segments over UDP to the daemon address given on the command line (the collector under
test) and records every document the SDK put on the wire, so that the test can compare what X-Ray
stores with what the application sent.

Usage: xray_sdk_app.py DAEMON_ADDRESS SENT_JSONL TRACES [SOURCE_ADDRESS]

With SOURCE_ADDRESS (an IP address, e.g. a loopback address standing for a pod's IP), the SDK's
UDP socket is bound to it, so the datagrams come from that address.

What each trace contains:
* a segment with HTTP request/response data, annotations of each type and nested metadata;
* subsegments (a remote HTTP call, a SQL query with a nested subsegment, one that records an
  exception), with annotations and metadata;
* more subsegments than the streaming threshold, so the SDK streams finished subsegments as
  separate documents ("type": "subsegment") before the segment itself.
"""

import json
import sys

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter


class RecordingEmitter(UDPEmitter):
    """The SDK's own UDP emitter, also keeping each document body it sends."""

    def __init__(self, daemon_address, source_address=None):
        super().__init__(daemon_address)
        self.sent = []
        if source_address:
            # The SDK's own socket, bound before its first send.
            self._socket.bind((source_address, 0))

    def _send_data(self, data):
        header, _, body = data.partition("\n")
        assert header == '{"format":"json","version":1}', header
        self.sent.append(body)
        super()._send_data(data)


def main():
    daemon_address, out_path, traces = sys.argv[1], sys.argv[2], int(sys.argv[3])
    source_address = sys.argv[4] if len(sys.argv) > 4 else None
    emitter = RecordingEmitter(daemon_address, source_address)
    xray_recorder.configure(
        daemon_address=daemon_address,
        emitter=emitter,
        sampling=False,
        context_missing="RUNTIME_ERROR",
        streaming_threshold=3,
        service="checkout-service",
    )
    for i in range(traces):
        segment = xray_recorder.begin_segment("checkout-service")
        segment.put_http_meta("method", "GET")
        segment.put_http_meta("url", "http://example.local/checkout/%d" % i)
        segment.put_annotation("tenant", "acme")
        segment.put_annotation("order_index", i)
        segment.put_annotation("premium", i % 2 == 0)
        segment.put_metadata("order", {"id": i, "items": ["a", "b"], "note": "caf\u00e9 <&>"}, "app")

        sub = xray_recorder.begin_subsegment("inventory", namespace="remote")
        sub.put_http_meta("method", "POST")
        sub.put_http_meta("url", "http://inventory.local/reserve")
        sub.put_http_meta("status", 200)
        sub.put_annotation("sku_count", 2)
        xray_recorder.end_subsegment()

        db = xray_recorder.begin_subsegment("orders-db", namespace="remote")
        db.set_sql({"url": "postgresql://db.local/orders", "database_type": "PostgreSQL", "sanitized_query": "SELECT 1"})
        inner = xray_recorder.begin_subsegment("orders-db-cursor")
        inner.put_metadata("rows", 3)
        xray_recorder.end_subsegment()
        xray_recorder.end_subsegment()

        for j in range(4):
            step = xray_recorder.begin_subsegment("step-%d" % j)
            step.put_annotation("step", j)
            xray_recorder.end_subsegment()

        failing = xray_recorder.begin_subsegment("payment")
        try:
            raise ValueError("card declined for order %d" % i)
        except ValueError as exc:
            import traceback

            failing.add_exception(exc, traceback.extract_stack())
        xray_recorder.end_subsegment()

        segment.put_http_meta("status", 200)
        xray_recorder.end_segment()

    with open(out_path, "w", encoding="utf-8") as out:
        for body in emitter.sent:
            out.write(body + "\n")
    print(len(emitter.sent))


if __name__ == "__main__":
    main()
