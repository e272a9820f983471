"""A fault-injecting stand-in for the X-Ray PutTraceSegments API (moto cannot throttle).

Named as such: it answers the first THROTTLES calls with HTTP 429 ThrottledException, then accepts
documents, reporting the segment whose id is REJECT_ID as unprocessed (ErrorCode InvalidSegment).
It appends every accepted document to OUT_JSONL and prints its port on stdout.

Usage: throttling_xray_api.py THROTTLES REJECT_ID OUT_JSONL
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLES = int(sys.argv[1])
REJECT_ID = sys.argv[2]
OUT = sys.argv[3]
calls = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        calls["n"] += 1
        if self.path != "/TraceSegments":
            self.send_response(404)
            self.end_headers()
            return
        if calls["n"] <= THROTTLES:
            payload = b'{"message":"Rate exceeded"}'
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "ThrottledException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        docs = json.loads(body)["TraceSegmentDocuments"]
        unprocessed = []
        with open(OUT, "a", encoding="utf-8") as out:
            for doc in docs:
                seg_id = json.loads(doc)["id"]
                if seg_id == REJECT_ID:
                    unprocessed.append({"Id": seg_id, "ErrorCode": "InvalidSegment", "Message": "Trace Size Exceeded."})
                else:
                    out.write(doc + "\n")
        payload = json.dumps({"UnprocessedTraceSegments": unprocessed}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
