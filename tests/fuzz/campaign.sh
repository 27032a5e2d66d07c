#!/usr/bin/env bash
# campaign.sh TARGET [SECONDS] [JOBS]: a long fuzzing run outside the test suite, on the
# build/test tree that scripts/test makes. The working corpus grows in build/fuzz-corpus/TARGET;
# crashes land in build/fuzz-artifacts/. Copy a crash into tests/fuzz/regressions/TARGET/ once
# it is fixed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="$1" seconds="${2:-3600}" jobs="${3:-$(nproc)}"
bin="$root/build/test/tests/fuzz/$target"
[ -x "$bin" ] || { echo "build first: scripts/test -L fuzz"; exit 1; }
mkdir -p "$root/build/fuzz-corpus/$target" "$root/build/fuzz-artifacts"
exec "$bin" -max_total_time="$seconds" -jobs="$jobs" -workers="$jobs" -timeout=10 \
  -artifact_prefix="$root/build/fuzz-artifacts/" \
  "$root/build/fuzz-corpus/$target" "$root/tests/fuzz/corpus/$target"
