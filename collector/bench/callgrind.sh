#!/usr/bin/env bash
# Instruction counts of the collector on a fixed workload, stable on a loaded machine: runs the
# collector under `valgrind --tool=callgrind` with collection off until it is healthy, sends COUNT
# items at RATE per second with `xray-collector-bench send`, waits until the sink (its own
# process) has them all, dumps the counts and stops everything. Kernel time (syscalls) is not
# counted by callgrind; compare CPU time for that.
#
# usage: collector/bench/callgrind.sh COLLECTOR CONFIG_TEMPLATE udp|otlp COUNT RATE OUT
#   COLLECTOR  a release binary with symbols, e.g. built with
#              CARGO_TARGET_DIR=target/prof CARGO_PROFILE_RELEASE_STRIP=none \
#              CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p xray-collector
#   OUT        the callgrind output file; then e.g. `callgrind_annotate --inclusive=yes OUT`
set -euo pipefail
collector=$1 template=$2 input=$3 count=$4 rate=$5 out=$6
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=${BENCH:-$root/target/release/xray-collector-bench}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$bench" sink >"$dir/sink.addr" &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/sink.addr" ] && break; sleep 0.1; done
http=$(sed -n 's/^http=\([^ ]*\).*/\1/p' "$dir/sink.addr")
udp=$(free_udp_port) grpc=$(free_port) otlphttp=$(free_port) health=$(free_port) metrics=$(free_port) proxy=$(free_port)
sed -e "s/UDP_PORT/$udp/g" -e "s/OTLP_GRPC_PORT/$grpc/g" -e "s/OTLP_HTTP_PORT/$otlphttp/g" \
    -e "s/PROXY_PORT/$proxy/g" -e "s#SINK_ENDPOINT#http://$http#g" -e "s/HEALTH_PORT/$health/g" \
    -e "s/METRICS_PORT/$metrics/g" -e "s#STORAGE_DIR#$dir#g" "$template" >"$dir/config.yaml"

AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
RUST_LOG=xray_collector=warn valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out" "$collector" --config="$dir/config.yaml" 2>"$dir/valgrind.log" &
vg=$!
pids+=($vg)
until curl -sf "http://127.0.0.1:$health/" >/dev/null; do
    kill -0 $vg 2>/dev/null || { cat "$dir/valgrind.log"; exit 1; }
    sleep 0.5
done
callgrind_control -i on $vg >/dev/null
case $input in
    udp) "$bench" send --to "127.0.0.1:$udp" --count "$count" --rate "$rate" ;;
    otlp) "$bench" send --otlp --to "127.0.0.1:$grpc" --count "$count" --rate "$rate" ;;
esac
last=-1 same=0
while :; do
    got=$(curl -sf "http://$http/bench/stats" | cut -d' ' -f1)
    [ "$got" -ge "$count" ] && break
    if [ "$got" = "$last" ]; then same=$((same + 1)); else same=0; last=$got; fi
    [ $same -ge 60 ] && { echo "sink stuck at $got of $count" >&2; break; }
    sleep 0.5
done
callgrind_control -d $vg >/dev/null
sleep 1
curl -s "http://127.0.0.1:$metrics/metrics" | grep -E '^xray_collector_(receiver_(accepted|refused)|exporter_(sent|failed|dropped))_items_total' >&2 || true
echo "sink received $got of $count"
kill -TERM $vg
wait $vg 2>/dev/null || true
