"""An app using the real aws-xray-sdk with centralized sampling through the daemon's TCP address.

AWS_XRAY_DAEMON_ADDRESS must be "tcp:HOST:PORT udp:HOST:PORT". The recorder's own rule poller
fetches the rules (POST /GetSamplingRules) in the background; this script waits until they are
loaded, makes sampling decisions with them, then asks for targets through the SDK's own service
connector (POST /SamplingTargets) instead of waiting the poller's 10-second interval.

Prints one JSON object: {"rules": [...], "sampled": bool, "targets": {...}}.
"""

import json
import os
import sys
import time

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.daemon_config import DaemonConfig
from aws_xray_sdk.core.sampling.connector import ServiceConnector


def main():
    xray_recorder.configure(service="checkout", sampling=True, context_missing="LOG_ERROR")
    sampler = xray_recorder.sampler
    sampler.start()
    deadline = time.time() + 20
    rules = []
    while time.time() < deadline:
        # The rule cache is the sampler's view of what GetSamplingRules returned.
        rules = list(sampler._cache.rules)
        if rules:
            break
        time.sleep(0.1)
    if not rules:
        print(json.dumps({"error": "no sampling rules were fetched"}))
        sys.exit(1)
    decision = sampler.should_trace({"service": "checkout", "method": "GET", "path": "/cart", "host": "shop"})

    daemon = DaemonConfig(os.environ["AWS_XRAY_DAEMON_ADDRESS"])
    connector = ServiceConnector()
    connector.setup_xray_client(ip=daemon.tcp_ip, port=daemon.tcp_port, client=None)
    for rule in rules:
        # Record one request per rule so that the SDK reports statistics for it.
        rule.increment_request_count()
    targets, _ = connector.fetch_sampling_target(rules)
    print(
        json.dumps(
            {
                "rules": sorted(r.name for r in rules),
                "sampled": bool(decision),
                "targets": {name: {"rate": t.get("rate"), "quota": t.get("quota")} for name, t in targets.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
