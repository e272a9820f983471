#!/usr/bin/env bash
# Installs every external tool the test suite drives, into .tools/ under the project root:
#   .tools/venv      cfn-lint, moto (X-Ray/EKS/IAM/STS emulator), kubernetes-validate, yamllint,
#                    python-hcl2, boto3, aws-xray-sdk, OpenTelemetry SDK + OTLP exporters (pinned)
#   .tools/checkov   checkov in its own venv (it pins boto3 and replaces python-hcl2's module);
#                    .tools/venv/bin/checkov is an offline wrapper around it.
#   .tools/awscli    the AWS CLI (v1, botocore vendored) in its own venv, for the Terraform target's
#                    Transaction Search commands; .tools/venv/bin/aws runs it.
#   .tools/node      the AWS CDK CLI (npm), for `cdk ls --app DIR` on the golden assemblies, and the
#                    OpenTelemetry X-Ray remote sampler for JavaScript (the awsproxy e2e test).
# Pins live in tests/tools/requirements-*.txt and tests/tools/package*.json. Idempotent: a stamp
# per environment records the hash of its lock file, so a re-run only checks the stamps.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/.tools"
py="${PYTHON:-python3}"
mkdir -p "$tools"
log() { printf '[setup-tools] %s\n' "$*" >&2; }

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

ensure_venv() { # dir lockfile import-check
  local dir="$1" lock="$2" check="$3" want have=""
  want="$(stamp_of "$lock")"
  [ -f "$dir/.stamp" ] && have="$(cat "$dir/.stamp")"
  if [ "$want" = "$have" ] && "$dir/bin/python" -c "$check" 2>/dev/null; then
    log "$(basename "$dir"): up to date"
    return 0
  fi
  log "$(basename "$dir"): installing from $(basename "$lock")"
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$lock"
  "$dir/bin/python" -c "$check"
  echo "$want" > "$dir/.stamp"
}

ensure_venv "$tools/venv" "$root/tests/tools/requirements-main.txt" \
  "import cfnlint, moto, boto3, aws_xray_sdk, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, opentelemetry.sdk.extension.aws, hcl2, yamllint, jsonschema, kubernetes_validate"
ensure_venv "$tools/checkov" "$root/tests/tools/requirements-checkov.txt" "import checkov"

# checkov offline: no download of guidelines or mappings (a plain symlink would still phone home).
cat > "$tools/venv/bin/checkov" <<WRAP
#!/usr/bin/env bash
export BC_SKIP_MAPPING=TRUE
exec "$tools/checkov/bin/checkov" --skip-download "\$@"
WRAP
chmod +x "$tools/venv/bin/checkov"

# The AWS CLI in its own venv (its pins differ from boto3's), reachable as .tools/venv/bin/aws.
ensure_venv "$tools/awscli" "$root/tests/tools/requirements-awscli.txt" "import awscli"
ln -sf "$tools/awscli/bin/aws" "$tools/venv/bin/aws"

# Node tools (the CDK CLI), pinned by tests/tools/package-lock.json, when the project declares them.
if [ -f "$root/tests/tools/package.json" ]; then
  command -v npm >/dev/null || { log "npm is required to install the CDK CLI and was not found"; exit 1; }
  want="$(stamp_of "$root/tests/tools/package.json" "$root/tests/tools/package-lock.json")"
  if [ "$(cat "$tools/node/.stamp" 2>/dev/null)" != "$want" ]; then
    log "node tools: installing"
    rm -rf "$tools/node"; mkdir -p "$tools/node"
    cp "$root/tests/tools/package.json" "$root/tests/tools/package-lock.json" "$tools/node/"
    (cd "$tools/node" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$tools/node/.stamp"
  else
    log "node tools: up to date"
  fi
fi

# Debian packages some tests read images with (OCI layout inspection), when the project lists them.
if [ -f "$root/tests/tools/debian-packages.txt" ]; then
  missing=()
  while read -r pkg bin; do
    [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
    command -v "$bin" >/dev/null || missing+=("$pkg")
  done < "$root/tests/tools/debian-packages.txt"
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing Debian packages: ${missing[*]}"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      log "missing Debian packages (install them as root): ${missing[*]}"; exit 1
    fi
  fi
fi
log "done"
