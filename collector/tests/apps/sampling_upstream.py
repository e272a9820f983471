"""SigV4-checking sampling upstream: a stand-in for the X-Ray sampling API, which moto lacks.

It serves POST /GetSamplingRules and POST /SamplingTargets like X-Ray, but only to requests whose
SigV4 signature verifies: the signature is recomputed with botocore's SigV4Auth over the received
method, path, signed headers and body, with the expected test credentials, region and service
`xray`. Unsigned or wrongly signed requests get 403 InvalidSignatureException, as from AWS.

Every request is recorded; GET /_requests (answered without a signature) returns the record so the
test can assert what reached the upstream.

Usage: sampling_upstream.py ACCESS_KEY SECRET_KEY REGION
Prints "PORT <n>" on the first line of stdout once it listens on 127.0.0.1.
"""

import datetime
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

RULES = {
    "SamplingRuleRecords": [
        {
            "SamplingRule": {
                "RuleName": "checkout-rule",
                "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout-rule",
                "ResourceARN": "*",
                "Priority": 10,
                "FixedRate": 0.5,
                "ReservoirSize": 7,
                "ServiceName": "checkout",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "Version": 1,
                "Attributes": {},
            },
            "CreatedAt": 1700000000.0,
            "ModifiedAt": 1700000000.0,
        },
        {
            "SamplingRule": {
                "RuleName": "Default",
                "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default",
                "ResourceARN": "*",
                "Priority": 10000,
                "FixedRate": 0.05,
                "ReservoirSize": 1,
                "ServiceName": "*",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "Version": 1,
                "Attributes": {},
            },
            "CreatedAt": 1700000000.0,
            "ModifiedAt": 1700000000.0,
        },
    ]
}


class State:
    def __init__(self, access_key, secret_key, region):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.lock = threading.Lock()
        self.requests = []


def verify(state, method, path, headers, body):
    """Returns None when the signature verifies, else the reason."""
    auth = headers.get("Authorization")
    if not auth:
        return "no Authorization header (unsigned request)"
    m = AUTH_RE.match(auth)
    if not m:
        return "malformed Authorization header"
    if m["key"] != state.access_key:
        return "unexpected access key " + m["key"]
    if m["region"] != state.region or m["service"] != "xray":
        return "credential scope is %s/%s, expected %s/xray" % (m["region"], m["service"], state.region)
    amz_date = headers.get("X-Amz-Date", "")
    if amz_date[:8] != m["date"]:
        return "X-Amz-Date does not match the credential scope date"
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - signed_at).total_seconds())
    if skew > 300:
        return "request time is %d s away from now" % skew
    signed = m["signed"].split(";")
    if "host" not in signed:
        return "host is not signed"
    missing = [name for name in signed if headers.get(name) is None]
    if missing:
        return "signed headers missing from the request: " + ",".join(missing)
    request = AWSRequest(
        method=method,
        url="http://%s%s" % (headers["Host"], path),
        data=body,
        headers={name: headers[name] for name in signed},
    )
    request.context["timestamp"] = amz_date
    token = headers.get("X-Amz-Security-Token")
    signer = SigV4Auth(Credentials(state.access_key, state.secret_key, token), "xray", state.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != m["signature"]:
        return "signature mismatch"
    return None


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_requests":
                with state.lock:
                    self.reply(200, list(state.requests))
                return
            self.record(None)
            self.reply(404, {"message": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            error = verify(state, "POST", self.path, self.headers, body)
            self.record(error, body)
            if error:
                self.reply(403, {"__type": "InvalidSignatureException", "message": error})
            elif self.path == "/GetSamplingRules":
                self.reply(200, RULES)
            elif self.path == "/SamplingTargets":
                stats = json.loads(body or b"{}").get("SamplingStatisticsDocuments", [])
                docs = [
                    {
                        "RuleName": s["RuleName"],
                        "FixedRate": 0.25,
                        "ReservoirQuota": 3,
                        "ReservoirQuotaTTL": 4102444800.0,
                        "Interval": 10,
                    }
                    for s in stats
                ]
                self.reply(200, {"SamplingTargetDocuments": docs, "LastRuleModification": 1700000000.0, "UnprocessedStatistics": []})
            else:
                self.reply(404, {"message": "no such X-Ray route"})

        def record(self, error, body=b""):
            with state.lock:
                state.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "signature_error": error,
                        "has_security_token": self.headers.get("X-Amz-Security-Token") is not None,
                        "body": body.decode("utf-8", "replace"),
                    }
                )

    return Handler


def main():
    access_key, secret_key, region = sys.argv[1:4]
    state = State(access_key, secret_key, region)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
