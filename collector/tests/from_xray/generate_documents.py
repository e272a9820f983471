"""Records the X-Ray documents of the `from_xray` fixtures with the real aws-xray-sdk.

Run with the tools venv from the project root:

    .tools/venv/bin/python collector/tests/from_xray/generate_documents.py

For each scenario below, the SDK's own code builds the segments (its recorder, its `httplib`,
`botocore` and `sqlite3` patches, its exception capture and subsegment streaming) against real
local peers: an HTTP server on 127.0.0.1, a moto server for DynamoDB and an in-memory SQLite
database. An emitter that keeps what the SDK would have sent over UDP records the documents, and
the script writes them into the `documents` field of the matching case file, keeping its other
fields. Ids and times are random, so rerunning changes every case: regenerate the expectations
afterwards with `XRB_BLESS=1 cargo nextest run -p xray-collector -E 'test(/^from_xray::/)'` and
review them with `git diff`.
"""

import http.client
import http.server
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.utils import stacktrace
from aws_xray_sdk.ext.dbapi2 import XRayTracedConn

HERE = Path(__file__).parent


class KeepingEmitter(UDPEmitter):
    """Keeps every document instead of sending it."""

    def __init__(self):
        super().__init__()
        self.documents = []

    def send_entity(self, entity):
        self.documents.append(without_local_paths(json.loads(entity.serialize())))


def without_local_paths(document):
    """Replaces the `cause.working_directory` the SDK takes from `os.getcwd()` by a container's
    usual `/app`, so that no path of the machine that recorded a fixture ends up in it."""
    cause = document.get("cause")
    if isinstance(cause, dict) and "working_directory" in cause:
        cause["working_directory"] = "/app"
    for sub in document.get("subsegments", []):
        without_local_paths(sub)
    return document


class Peer(http.server.BaseHTTPRequestHandler):
    """Answers GET /status/<code> with that status."""

    def do_GET(self):
        code = int(self.path.rsplit("/", 1)[-1])
        body = b'{"ok": false}' if code >= 400 else b'{"ok": true}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def web_request(segment, method, url, status):
    """What the SDK's Flask/Django middleware records for an incoming request."""
    segment.put_http_meta("method", method)
    segment.put_http_meta("url", url)
    segment.put_http_meta("user_agent", "curl/8.5.0")
    segment.put_http_meta("client_ip", "203.0.113.7")
    segment.put_http_meta("x_forwarded_for", True)
    segment.put_http_meta("status", status)
    segment.apply_status_code(status)


def on_eks(segment):
    """What the SDK's EKS plugin records (it reads these from the pod's environment)."""
    segment.origin = "AWS::EKS::Container"
    segment.set_aws(
        {
            **segment.aws,
            "eks": {
                "cluster_name": "shop",
                "pod": "checkout-7d9c6b5f4-x2x7q",
                "container_id": "3f9a1c0e0d5b",
            },
        }
    )


def scenario_segment_http(emitter, peer, moto):
    segment = xray_recorder.begin_segment("checkout")
    on_eks(segment)
    web_request(segment, "POST", "https://shop.example.com/cart/checkout", 200)
    segment.set_user("customer-42")
    xray_recorder.end_segment()


def scenario_subsegments(emitter, peer, moto):
    import boto3

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=moto,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # The table is created outside any segment, so only the traced call is recorded.
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    emitter.documents.clear()

    segment = xray_recorder.begin_segment("orders")
    web_request(segment, "GET", "https://shop.example.com/orders/17", 200)
    ddb.get_item(TableName="orders", Key={"id": {"S": "17"}})
    with xray_recorder.in_subsegment("render"):
        conn = http.client.HTTPConnection("127.0.0.1", peer)
        conn.request("GET", "/status/200")
        conn.getresponse().read()
        conn = http.client.HTTPConnection("127.0.0.1", peer)
        conn.request("GET", "/status/429")
        conn.getresponse().read()
    xray_recorder.end_segment()


def scenario_sql(emitter, peer, moto):
    segment = xray_recorder.begin_segment("reports")
    web_request(segment, "GET", "https://shop.example.com/reports/daily", 200)
    # The SDK's sqlite3 patch: no URL, the database path as the name.
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x)")
    # The SDK's psycopg2 patch wraps the connection in the same `XRayTracedConn` with this
    # metadata (aws_xray_sdk/ext/psycopg2/patch.py); an in-memory SQLite connection stands in
    # for the PostgreSQL server.
    pg_meta = {
        "database_type": "PostgreSQL",
        "url": "postgresql://app@db.internal.example.com:5432/reports",
        "user": "app",
        "database_version": "160002",
        "driver_version": "Psycopg 2",
    }
    traced = XRayTracedConn(sqlite3.connect(":memory:"), pg_meta)
    traced.cursor().execute("SELECT 1")
    xray_recorder.end_segment()


def scenario_cause(emitter, peer, moto):
    segment = xray_recorder.begin_segment("payments")
    segment.put_http_meta("method", "POST")
    segment.put_http_meta("url", "https://shop.example.com/pay")
    try:
        # The SDK's context manager records the exception on the subsegment and re-raises it.
        with xray_recorder.in_subsegment("charge card"):
            {}["card"]
    except KeyError as e:
        # What the SDK's web middleware does with an exception that escapes the handler.
        segment.add_exception(e, stacktrace.get_stacktrace(limit=10))
    segment.put_http_meta("status", 500)
    segment.apply_status_code(500)
    xray_recorder.end_segment()


def scenario_annotations_metadata(emitter, peer, moto):
    segment = xray_recorder.begin_segment("catalog")
    segment.put_annotation("customer_tier", "gold")
    segment.put_annotation("items", 3)
    segment.put_annotation("discount", 0.15)
    segment.put_annotation("first_order", False)
    segment.put_metadata("cart", {"items": [{"sku": "A-1", "qty": 2}], "total": 31.5})
    segment.put_metadata("build", "1.4.2", "deploy")
    with xray_recorder.in_subsegment("price lookup") as sub:
        sub.put_annotation("cache_hit", True)
        sub.put_metadata("keys", ["A-1"], "cache")
    xray_recorder.end_segment()


def scenario_in_progress(emitter, peer, moto):
    segment = xray_recorder.begin_segment("long-job")
    with xray_recorder.in_subsegment("step 1"):
        pass
    # What an SDK sends for a long-running segment before it ends.
    emitter.documents.append(without_local_paths(json.loads(segment.serialize())))
    xray_recorder.end_segment()
    emitter.documents.pop()


def scenario_independent_subsegments(emitter, peer, moto):
    xray_recorder.configure(streaming_threshold=1)
    segment = xray_recorder.begin_segment("batch")
    for item in range(2):
        with xray_recorder.in_subsegment(f"item {item}") as sub:
            sub.namespace = "remote"
            with xray_recorder.in_subsegment("parse"):
                pass
    xray_recorder.end_segment()
    xray_recorder.configure(streaming_threshold=30)


SCENARIOS = {
    "01_segment_http": scenario_segment_http,
    "02_subsegments_aws_remote": scenario_subsegments,
    "03_sql": scenario_sql,
    "04_cause": scenario_cause,
    "05_annotations_metadata": scenario_annotations_metadata,
    "06_in_progress": scenario_in_progress,
    "07_independent_subsegments": scenario_independent_subsegments,
}


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    moto, moto_url = start_moto()
    try:
        emitter = KeepingEmitter()
        xray_recorder.configure(
            emitter=emitter, sampling=False, context_missing="LOG_ERROR"
        )
        patch(["httplib", "botocore", "sqlite3"])
        for name, scenario in SCENARIOS.items():
            emitter.documents.clear()
            scenario(emitter, server.server_address[1], moto_url)
            path = HERE / f"{name}.json"
            case = json.loads(path.read_text()) if path.exists() else {}
            case["documents"] = list(emitter.documents)
            path.write_text(json.dumps(case, indent=2, sort_keys=True) + "\n")
            print(f"{path}: {len(emitter.documents)} documents")
    finally:
        moto.kill()
        server.shutdown()


if __name__ == "__main__":
    main()
