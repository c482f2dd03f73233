#!/usr/bin/env bash
# Runs the unit, integration, differential and e2e (job frameworks) suites one after another, shows
# their output, and ends with one closing line for CI: "N passed, N failed" (doctest test cases +
# diff commands + e2e tests).
# Usage: tests/run_suites.sh SERVER UNIT_BIN INTEGRATION_BIN
set -u
server=$1 unit_bin=$2 integ_bin=$3
passed=0 failed=0 status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Adds the counts found in the suite's output; a suite that printed none counts as one failure.
tally() {
  local name=$1 rc=$2 line p f
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")
  else
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  fi
  if [ -z "$line" ]; then p=0 f=1; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -eq 0 ] || status=1
  passed=$((passed + p)) failed=$((failed + f))
  echo "== $name: $p passed, $f failed (exit $rc)"
}

suite() {
  local name=$1
  shift
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  tally "$name" "${PIPESTATUS[0]}"
}

suite unit "$unit_bin"
suite integration env DOCKET_SERVER="$server" "$integ_bin"
suite differential /usr/bin/python3 tests/diff/run_diff.py --docket "$server"
suite e2e /usr/bin/python3 tests/e2e/run_e2e.py --docket "$server"
echo "$passed passed, $failed failed"
exit $status
