#!/usr/bin/env bash
# Fuzzing step of the test command (tests/run calls it): builds every cargo-fuzz target of
# collector/fuzz and generator/fuzz, runs each for a bounded time from its seed corpus
# (fuzz/corpus/<target>/), then replays every input in fuzz/regressions/<target>/ (past crashes;
# none so far). Any crash, panic, timeout or out-of-memory input fails the step.
#
# Needs a nightly toolchain (`cargo +nightly`); without one it records a SKIPPED CHECK in
# target/skipped-checks.log, as the test harness does for a missing tool, and exits 0.
# cargo-fuzz is installed, pinned, into .tools/cargo-fuzz when missing.
#
# Builds are without a sanitizer (`--sanitizer none`): the fuzzed code is safe Rust (`unsafe_code`
# is denied in the workspace), so AddressSanitizer finds nothing a panic would not, while the
# instrumented build of every dependency costs minutes; libFuzzer's coverage guidance works the
# same. Debug assertions and overflow checks stay on.
#
# Both fuzz crates build into one target directory (target/fuzz/build), so the dependencies they
# share with the same features compile once.
#
# Environment: XRB_FUZZ_SECONDS  fuzzing time per target (default 10)
#              XRB_FUZZ_PROFILE  `dev` (default: cheapest build) or `release` (faster fuzzing)
#              XRB_FUZZ_TOOLS    where cargo-fuzz is installed (default .tools/cargo-fuzz)
# Usage: tests/fuzz/run.sh          build (when needed), fuzz and replay
#        tests/fuzz/run.sh build    install cargo-fuzz and build only (tests/run starts this in
#                                   the background while the test suite runs)
set -euo pipefail
mode="${1:-run}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

CARGO_FUZZ_VERSION=0.13.2
seconds="${XRB_FUZZ_SECONDS:-10}"
profile="${XRB_FUZZ_PROFILE:-dev}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

skip() {
  local line="SKIPPED CHECK: fuzz targets: $1 is not available on this machine"
  printf '\n*** %s ***\n\n' "$line" >&2
  mkdir -p target
  echo "$line" >> target/skipped-checks.log
  exit 0
}

cargo +nightly --version >/dev/null 2>&1 || skip "a nightly toolchain (cargo +nightly)"

tools="${XRB_FUZZ_TOOLS:-$root/.tools/cargo-fuzz}"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$tools"
fi
export PATH="$tools/bin:$PATH"

case "$profile" in
  dev) build_flags=(--dev); out_profile=debug ;;
  release) build_flags=(--release --debug-assertions); out_profile=release ;;
  *) log "XRB_FUZZ_PROFILE must be dev or release, not $profile"; exit 2 ;;
esac
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
status=0

target_dir="$root/target/fuzz/build"
for crate in generator collector; do
  fuzz="$root/$crate/fuzz"
  started=$(date +%s)
  log "building $crate/fuzz ($profile, no sanitizer)"
  (cd "$root/$crate" && cargo +nightly fuzz build "${build_flags[@]}" --sanitizer none \
    --target-dir "$target_dir")
  log "built $crate/fuzz in $(( $(date +%s) - started ))s"
  [ "$mode" = build ] && continue
  for source in "$fuzz"/fuzz_targets/*.rs; do
    name="$(basename "$source" .rs)"
    bin="$target_dir/$host/$out_profile/$name"
    work="$root/target/fuzz/run/$name"
    # New inputs go to a scratch corpus, never into the committed seeds.
    rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
    limits=(-rss_limit_mb=1024 -timeout=10 -artifact_prefix="$work/artifacts/")
    log "$name: fuzzing for ${seconds}s from $crate/fuzz/corpus/$name"
    if ! "$bin" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        "$work/corpus" "$fuzz/corpus/$name" > "$work/log" 2>&1; then
      log "$name: CRASH; the input is in $work/artifacts/ (add it to $crate/fuzz/regressions/$name/)"
      tail -n 40 "$work/log" >&2
      status=1
    else
      log "$name: $(grep -E '^stat::number_of_executed_units' "$work/log" | sed 's/.*: *//') runs, no crash"
    fi
    regressions=()
    if [ -d "$fuzz/regressions/$name" ]; then
      while IFS= read -r -d '' file; do regressions+=("$file"); done \
        < <(find "$fuzz/regressions/$name" -type f ! -name '.*' -print0 | sort -z)
    fi
    if [ "${#regressions[@]}" -gt 0 ]; then
      log "$name: replaying ${#regressions[@]} regression inputs"
      if ! "$bin" "${limits[@]}" "${regressions[@]}" > "$work/regressions.log" 2>&1; then
        log "$name: a regression input fails again"
        tail -n 40 "$work/regressions.log" >&2
        status=1
      fi
    fi
  done
done
exit "$status"
