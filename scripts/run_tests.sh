#!/usr/bin/env bash
# run_tests.sh BUILD_DIR — runs every test through ctest and ends with one line
# "N passed, N failed" that adds up the cmocka cases of all programs and the pytest cases of
# the Python package (ctest alone counts programs), then pytest's skips.  A program that
# crashes before its summary counts as one failure.
set -uo pipefail
build=${1:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$build" -V ${CTEST_ARGS:-} -j"${MAX_JOBS:-$(nproc)}" >"$log" 2>&1
rc=$?
grep -E '^[0-9]+: \[  (FAILED|ERROR)  \]|Failed|\*\*\*|tests passed|FAILED TEST' "$log" || true
passed=$(grep -oE '\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
crashed=$(grep -cE 'Test +#[0-9]+: .*\*\*\*(Exception|Timeout)' "$log")
failed=$((failed + crashed))
# pytest -q's summary: "3 failed, 20 passed, 1 skipped in 9.1s" (ctest -V prefixes "N: ")
py=$(grep -E '^[0-9]+: ([0-9]+ [a-z]+(, )?)+ in [0-9.]+s' "$log" | tail -1 | sed 's/^[0-9]*: //')
count() { echo "$py" | grep -oE "[0-9]+ ($1)" | awk '{s+=$1} END {print s+0}'; }
passed=$((passed + $(count passed)))
failed=$((failed + $(count 'failed|errors?')))
skipped=$(count skipped)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
  tail -n 60 "$log"
fi
if [ "$failed" -ne 0 ]; then
  grep -B2 -A30 -E '\[  FAILED  \]|\*\*\*Exception' "$log" | head -200
fi
echo "$passed passed, $failed failed${py:+ (Python: $py)}"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
