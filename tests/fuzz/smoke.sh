#!/usr/bin/env bash
# smoke.sh TARGET SEED_DIR REGRESSION_DIR SECONDS
# 1. every kept regression input and seed must run clean (a fixed crash stays fixed);
# 2. then SECONDS of fuzzing from the seeds, in a scratch corpus so the repository's seed
#    corpus is never modified. Any crash fails the test and leaves the input in the scratch dir.
set -euo pipefail
target="$1" seeds="$2" regressions="$3" seconds="$4"
work="$(mktemp -d "${TMPDIR:-/tmp}/postern-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
inputs=("$seeds"/* "$regressions"/*)
if [ ${#inputs[@]} -gt 0 ]; then
  echo "replaying ${#inputs[@]} seed and regression inputs"
  "$target" -runs=0 "${inputs[@]}" 2>&1 | tail -3
fi
mkdir -p "$work/corpus" "$work/artifacts"
echo "fuzzing for ${seconds}s"
if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" > "$work/log" 2>&1; then
  tail -60 "$work/log"
  for f in "$work/artifacts"/*; do echo "crash input $f: $(od -An -tx1 -v "$f" | tr -d " \n")"; done
  trap - EXIT
  echo "FAIL: fuzzer found a crash; artifacts in $work/artifacts"
  exit 1
fi
grep -E "^stat::number_of_executed_units|^stat::new_units_added|^#[0-9]+.*DONE" "$work/log" || true
echo "PASS"
