#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time. Usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:-build/fuzz}
seconds=${2:-30}
status=0
# Every target is tests/fuzz/fuzz_NAME.cc (make fuzz builds the same list).
targets=$(cd "$(dirname "$0")/../tests/fuzz" && ls fuzz_*.cc | sed 's/\.cc$//' | sort)
for target in $targets; do
  bin="$build/tests/fuzz/$target"
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 "$corpus" \
      >"$build/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; log follows"
    tail -n 60 "$build/$target.log"
    status=1
  fi
  # libFuzzer's last status line: executions, edge coverage, features, corpus size.
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$build/$target.log" | tail -n 1 || true)
  echo "fuzz: $target: ${done_line:-no summary}"
done
exit $status
