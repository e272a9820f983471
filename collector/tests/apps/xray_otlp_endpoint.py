"""A local stand-in for X-Ray's OTLP traces endpoint (https://xray.<region>.amazonaws.com/v1/traces).

It accepts what the real endpoint accepts, checked with real components: the body is decoded with the
official OpenTelemetry protobuf definitions (the `opentelemetry-proto` package), and the SigV4 signature
is recomputed with botocore's signer (service `xray`, the expected region, the test's static keys) and
compared with the one the client sent. A request that fails any check is answered 4xx and recorded as
rejected, so the test sees it; an accepted one is answered 200 with an ExportTraceServiceResponse.

Usage: xray_otlp_endpoint.py PORT_FILE OUT_DIR REGION ACCESS_KEY SECRET_KEY

Binds 127.0.0.1 on a free port and writes the port to PORT_FILE once it listens. Writes to OUT_DIR:
* spans.jsonl: one JSON line per received span (ids as lowercase hex, attributes as plain JSON values,
  the resource's attributes, events with their attributes, status);
* requests.jsonl: one JSON line per request (path, content type and encoding, signed headers,
  signature scope, whether it was accepted and why not).
Runs until killed.
"""

import gzip
import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

SERVICE = "xray"


def any_value(value):
    """An OTLP AnyValue as a plain JSON value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def parse_authorization(header):
    """The parts of `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`."""
    algorithm, _, rest = header.partition(" ")
    parts = {}
    for item in rest.split(","):
        key, _, value = item.strip().partition("=")
        parts[key] = value
    return algorithm, parts


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        record = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "bytes": len(raw),
        }
        problem = self.check(raw, record)
        if problem is not None:
            status, reason = problem
            record.update(accepted=False, reason=reason)
            self.server.record("requests.jsonl", [record])
            body = reason.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = gzip.decompress(raw) if record["content_encoding"] == "gzip" else raw
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception as err:  # noqa: BLE001 - any decode failure is the client's fault
            record.update(accepted=False, reason="protobuf: %s" % err)
            self.server.record("requests.jsonl", [record])
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        spans = []
        for rs in request.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    spans.append(
                        {
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "status_code": span.status.code,
                            "status_message": span.status.message,
                            "attributes": attributes(span.attributes),
                            "events": [
                                {"name": e.name, "attributes": attributes(e.attributes)} for e in span.events
                            ],
                            "resource": resource,
                            "scope": ss.scope.name,
                        }
                    )
        record.update(accepted=True, spans=len(spans))
        self.server.record("spans.jsonl", spans)
        self.server.record("requests.jsonl", [record])
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def check(self, raw, record):
        """None when the request is one X-Ray's endpoint would take, else (status, reason)."""
        if self.path != "/v1/traces":
            return 404, "path %s is not /v1/traces" % self.path
        if record["content_type"] != "application/x-protobuf":
            return 415, "content type %r is not application/x-protobuf" % record["content_type"]
        header = self.headers.get("Authorization")
        if not header:
            return 403, "no Authorization header"
        algorithm, parts = parse_authorization(header)
        if algorithm != "AWS4-HMAC-SHA256":
            return 403, "algorithm %r" % algorithm
        credential = parts.get("Credential", "").split("/")
        record["scope"] = "/".join(credential[1:])
        record["signed_headers"] = parts.get("SignedHeaders", "")
        if len(credential) != 5 or credential[4] != "aws4_request":
            return 403, "malformed credential scope %r" % parts.get("Credential")
        access_key, date, region, service = credential[0], credential[1], credential[2], credential[3]
        if access_key != self.server.access_key:
            return 403, "unknown access key %r" % access_key
        if service != SERVICE or region != self.server.region:
            return 403, "scope %s/%s, expected %s/%s" % (region, service, self.server.region, SERVICE)
        signed = [h for h in record["signed_headers"].split(";") if h]
        for required in ("host", "x-amz-date"):
            if required not in signed:
                return 403, "%s is not signed" % required
        amz_date = self.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(date):
            return 403, "X-Amz-Date %r does not match the scope date %s" % (amz_date, date)
        content_sha = self.headers.get("X-Amz-Content-SHA256")
        if content_sha is not None and content_sha != hashlib.sha256(raw).hexdigest():
            return 403, "X-Amz-Content-SHA256 is not the hash of the body"
        # Recompute the signature over exactly the headers the client signed, with botocore.
        headers = {}
        for name in signed:
            value = self.headers.get(name)
            if value is None:
                return 403, "signed header %s is missing" % name
            headers[name] = value
        url = "http://%s%s" % (headers["host"], self.path)
        request = AWSRequest(method="POST", url=url, data=raw, headers=headers)
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(self.server.access_key, self.server.secret_key), SERVICE, region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != parts.get("Signature"):
            return 403, "signature mismatch"
        if record["content_encoding"] not in (None, "gzip"):
            return 415, "content encoding %r" % record["content_encoding"]
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out_dir, region, access_key, secret_key):
        super().__init__(("127.0.0.1", 0), Endpoint)
        self.out_dir = out_dir
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.lock = Lock()

    def record(self, name, rows):
        with self.lock, open(os.path.join(self.out_dir, name), "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, sort_keys=True) + "\n")


def main():
    port_file, out_dir, region, access_key, secret_key = sys.argv[1:6]
    server = Server(out_dir, region, access_key, secret_key)
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
