"""A stand-in for the EKS Pod Identity agent's credential endpoint (no emulator exists for it).

Named as such: it answers GET requests carrying `Authorization: <TOKEN>` with container credentials
in the documented JSON shape, refuses any other token with 401, appends each request's path and
authorization header to LOG, and prints its port on stdout.

Usage: pod_identity_agent.py TOKEN LOG
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN, LOG = sys.argv[1], sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "authorization": auth}) + "\n")
        if auth != TOKEN:
            self.send_response(401)
            self.end_headers()
            return
        payload = json.dumps(
            {
                "AccessKeyId": "ASIAPODIDENTITYTEST",
                "SecretAccessKey": "pod-identity-secret",
                "Token": "pod-identity-session-token",
                "AccountId": "123456789012",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
