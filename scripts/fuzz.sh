#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS — runs each libFuzzer harness of BUILD_DIR for SECONDS (or, with
# FUZZ_RUNS set, that many inputs from seed 1, the same every time) over its
# seed corpus (tests/fuzz/corpus/NAME, read only) and its working corpus
# (BUILD_DIR/corpus/NAME, which keeps what it finds across runs).  Prints one line per
# harness with its executions; exits 1 when any harness found a crash, leak or hang (the
# input is in BUILD_DIR/findings/; copy it into the seed corpus with the fix, so the replay
# test keeps it fixed).
set -uo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: fuzz.sh BUILD_DIR SECONDS}
root="$(cd "$(dirname "$0")/.." && pwd)"
failed=0
export MLUFUSE_CACHE=off
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for harness in "$build"/fuzz_*; do
  [ -x "$harness" ] || continue
  name=$(basename "$harness" | sed 's/^fuzz_//')
  mkdir -p "$build/corpus/$name" "$build/findings"
  log="$build/fuzz_$name.log"
  if [ -n "${FUZZ_RUNS:-}" ]; then # reproducible: a fixed seed, a fixed number of inputs
    budget=(-runs="$FUZZ_RUNS" -seed=1)
  else
    budget=(-max_total_time="$seconds")
  fi
  "$harness" "${budget[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$name-" "$build/corpus/$name" "$root/tests/fuzz/corpus/$name" \
    >"$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "fuzz $name: FINDING after $execs executions (exit $rc); see $log"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -20
  else
    if [ -n "${FUZZ_RUNS:-}" ]; then
      echo "fuzz $name: seed 1, $execs executions, no finding"
    else
      echo "fuzz $name: ${seconds}s, $execs executions, no finding"
    fi
  fi
done
exit $failed
