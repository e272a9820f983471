#!/usr/bin/env bash
# Measures `blueprint render` of the CDK target against the CDK EKS Blueprints anchor's `cdk synth`
# (BENCHMARKS.md, "CDK target"). Wall time per run (milliseconds, from date +%s%N) and peak resident
# memory (GNU time's %M: the largest process of the run) are taken over --runs runs; the median wall
# time and the largest peak memory are reported, with the output's size and resource counts.
#
#   tests/tools/bench-cdk.sh [--runs N] [--anchor]
#
# --anchor also installs the anchor, pinned by tests/tools/bench-anchor/package-lock.json
# (@aws-quickstart/eks-blueprints 1.19.0, aws-cdk-lib 2.261.0, about 520 MB of node_modules from npm),
# into .tools/bench-anchor and synthesizes tests/tools/bench-anchor/app.js offline. Without it, the
# anchor's figures from shared/reference/eks-adot.md section 6.3 (2.04-2.06 s, 231 MB) are the baseline.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
runs=10
anchor=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --anchor) anchor=1; shift ;;
    *) echo "usage: $0 [--runs N] [--anchor]" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# measure LABEL DIR COMMAND...: runs COMMAND in DIR $runs times after one warm-up run, prints a row.
measure() {
  local label="$1" dir="$2"; shift 2
  (cd "$dir" && "$@" >/dev/null 2>&1) || { echo "$label: the command failed: $*" >&2; exit 1; }
  local walls=() peak=0 start end rss
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    (cd "$dir" && /usr/bin/time -f '%M' -o "$scratch/rss" "$@" >/dev/null 2>&1)
    end=$(date +%s%N)
    walls+=($(( (end - start) / 1000000 )))
    rss=$(tail -n1 "$scratch/rss")
    [ "$rss" -gt "$peak" ] && peak="$rss"
  done
  local median
  median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}')
  printf '| %s | %s ms | %s MB |\n' "$label" "$median" "$(( (peak + 512) / 1024 ))"
}

# describe DIR: files, bytes, resources, custom resources and assets of a cloud assembly.
describe() {
  node -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1];
    let files = 0, bytes = 0, resources = 0, custom = 0, assets = 0;
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      files++; bytes += fs.statSync(p).size;
      if (e.name.endsWith(".assets.json")) {
        const a = JSON.parse(fs.readFileSync(p));
        assets += Object.keys(a.files || {}).length + Object.keys(a.dockerImages || {}).length;
      }
      if (e.name.endsWith(".template.json")) {
        for (const r of Object.values(JSON.parse(fs.readFileSync(p)).Resources || {})) {
          resources++;
          if (r.Type.startsWith("Custom::") || r.Type === "AWS::CloudFormation::CustomResource") custom++;
        }
      }
    } };
    walk(dir);
    console.log(`${files} files, ${(bytes / 1e6).toFixed(3)} MB, ${resources} resources, ${custom} custom resources, ${assets} assets`);
  ' "$1"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "runs: $runs (median wall time, largest peak RSS); load average before: $(cut -d" " -f1-3 /proc/loadavg)"

(cd "$root" && cargo build --release --locked -p blueprint >/dev/null 2>&1)
blueprint="$root/target/release/blueprint"
echo "blueprint: $("$blueprint" --version)"
echo
echo "| command | wall (median) | peak RSS |"
echo "|---|---|---|"
measure "blueprint render new-cluster-vpc.yaml --target cdk" "$root" \
  "$blueprint" render blueprints/new-cluster-vpc.yaml --out "$scratch/one" --target cdk
measure "blueprint render blueprints/*.yaml (4 blueprints, all targets)" "$root" \
  "$blueprint" render blueprints/daemonset-otlp-proxy.yaml blueprints/guide-existing-cluster.yaml \
  blueprints/new-cluster-vpc.yaml blueprints/pod-identity.yaml --out "$scratch/all"

if [ "$anchor" = 1 ]; then
  command -v npm >/dev/null || { echo "npm is required for --anchor" >&2; exit 1; }
  dest="$root/.tools/bench-anchor"
  want="$(cat "$root"/tests/tools/bench-anchor/package*.json | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$dest/.stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$dest"; mkdir -p "$dest"
    cp "$root"/tests/tools/bench-anchor/package*.json "$dest/"
    (cd "$dest" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$dest/.stamp"
  fi
  cp "$root"/tests/tools/bench-anchor/{app.js,cdk.json,cdk.context.json} "$dest/"
  # Offline: no version check, telemetry, notices or instance metadata; dummy credentials only.
  export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
  export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
  measure "anchor: cdk synth -q (eks-blueprints 1.19.0, aws-cdk 2.1129.0)" "$dest" \
    "$dest/node_modules/.bin/cdk" synth -q --no-notices --no-version-reporting
  measure "anchor: node app.js (the app alone, no CLI)" "$dest" env CDK_OUTDIR="$scratch/app.out" node app.js
  echo
  echo "anchor assembly: $(describe "$dest/cdk.out")"
  echo "anchor node_modules: $(du -sm "$dest/node_modules" | cut -f1) MB"
else
  echo "| anchor (quoted, shared/reference/eks-adot.md 6.3): cdk synth -q | 2040-2060 ms | 231 MB |"
fi
echo
echo "our assembly (new-cluster-vpc): $(describe "$scratch/one/cdk")"
