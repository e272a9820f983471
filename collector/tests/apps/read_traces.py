"""Reads traces back from an X-Ray API endpoint (moto in the tests) with boto3 BatchGetTraces.

Usage: read_traces.py ENDPOINT TRACE_IDS_FILE OUT_JSONL [REGION]
REGION (default us-east-1) is the region the documents were sent to: moto keeps one store per region.
Writes one line per stored segment document: {"trace_id": ..., "id": ..., "document": <string>}.
"""

import json
import sys

import boto3


def main():
    endpoint, ids_path, out_path = sys.argv[1:4]
    region = sys.argv[4] if len(sys.argv) > 4 else "us-east-1"
    client = boto3.client(
        "xray",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with open(ids_path, encoding="utf-8") as f:
        trace_ids = [line.strip() for line in f if line.strip()]
    rows = []
    # BatchGetTraces takes at most 5 trace ids per call.
    for start in range(0, len(trace_ids), 5):
        kwargs = {"TraceIds": trace_ids[start : start + 5]}
        while True:
            page = client.batch_get_traces(**kwargs)
            for trace in page["Traces"]:
                for seg in trace["Segments"]:
                    rows.append({"trace_id": trace["Id"], "id": seg["Id"], "document": seg["Document"]})
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    with open(out_path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    print(len(rows))


if __name__ == "__main__":
    main()
