#!/usr/bin/env python3
"""Per-stage instructions per item from a callgrind profile of the collector (see callgrind.sh).

usage: collector/bench/callgrind-stages.py PROFILE ITEMS

Each stage is the inclusive count of the functions that do it (callgrind_annotate --inclusive):
receive = the UDP reader task (or the OTLP gRPC service) minus validate/decode; validate = the
datagram check (OTLP: the bounded protobuf decode); batch = the batch processor; queue = the exporter queue; serialize = building the
request body (X-Ray: SDK serializer or the pre-built body, plus copies; OTLP: translation, protobuf
encoding and gzip); sign = SigV4; send = the rest of the sender tasks (HTTP, the SDK's request
pipeline, answer parsing, accounting); other = the rest (runtime, timers, telemetry, threads).
"""
import re
import subprocess
import sys

profile, items = sys.argv[1], int(sys.argv[2])
out = subprocess.run(
    ["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
    capture_output=True, text=True, check=True,
).stdout
total = 0
incl = {}
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    n = int(m.group(1).replace(",", ""))
    what = m.group(2)
    if "PROGRAM TOTALS" in what:
        total = n
        continue
    # Only a function's own entry (its binary in brackets), not inlined-file attributions.
    if not what.endswith("]") or ":" not in what:
        continue
    fn = what.split(":", 1)[1].rsplit(" [", 1)[0]
    incl[fn] = max(incl.get(fn, 0), n)


def f(*names):
    return sum(incl.get(n, 0) for n in names)


def like(pattern):
    return max([n for fn, n in incl.items() if re.search(pattern, fn)] or [0])


receive_task = f("xray_collector::receivers::awsxray::run::{{closure}}") + like(
    r"^<xray_collector::receivers::otlp::grpc::OtlpGrpc as tower_service::Service<.*>>::call::\{\{closure\}\}$"
)
# UDP: the datagram check; OTLP: the bounded protobuf decode.
# (`parse` may be inlined into the reader; `check_body`, nearly all of it, is not.)
validate = (
    f("xray_collector::receivers::awsxray::datagram::parse")
    or f("xray_collector::receivers::awsxray::datagram::check_body")
) + f("<xray_collector::receivers::otlp::grpc::AdmitDecoder as tonic::codec::Decoder>::decode")
batch = f("xray_collector::processors::batch::run::{{closure}}")
queue = f(
    "xray_collector::exporters::queue::ExporterQueue::try_send",
    "xray_collector::exporters::queue::ExporterQueue::push",
    "<xray_collector::exporters::queue::Queued as core::ops::drop::Drop>::drop",
)
senders = f("xray_collector::exporters::spawn_senders::{{closure}}")
serialize = (
    like(r"PutTraceSegmentsRequestSerializer")
    + like(r"^xray_collector::exporters::awsxray::body::put_body$")
    + f("xray_collector::exporters::otlphttp::OtlpHttpExporter::spans_from_xray")
    + f("xray_collector::exporters::otlphttp::OtlpHttpExporter::body")
    + f("xray_collector::exporters::awsxray::AwsXrayExporter::documents_from_otlp")
)
# Before: the documents copied into `String`s for the SDK (the only Vec::from_iter of that size).
copies = like(r"^<alloc::vec::Vec<T> as alloc::vec::spec_from_iter::SpecFromIter<T,I>>::from_iter$")
if like(r"PutTraceSegmentsRequestSerializer") and copies:
    serialize += copies
sign = f("aws_smithy_runtime::client::orchestrator::auth::sign_request", "xray_collector::aws::sign::sign_request")
send = senders - serialize - sign
receive = receive_task - validate
other = total - receive_task - batch - queue - senders
rows = [
    ("receive (user space)", receive),
    ("validate", validate),
    ("batch", batch),
    ("queue", queue),
    ("serialize", serialize),
    ("sign", sign),
    ("send", send),
    ("other (runtime, telemetry)", other),
    ("total", total),
]
print(f"| stage | instructions per item ({profile.rsplit('/', 1)[-1]}, {items} items) |")
print("|---|---:|")
for name, n in rows:
    print(f"| {name} | {n / items:,.0f} |")
