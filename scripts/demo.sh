#!/usr/bin/env bash
# Starts the bundled target on loopback, runs a short load against it, prints the summary,
# and stops the target. Usage: scripts/demo.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
PELT="$BUILD_DIR/pelt"
TARGET="$BUILD_DIR/pelt-target"

out="$(mktemp -d)"
trap 'kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; rm -rf "$out"' EXIT

"$TARGET" --listen 127.0.0.1:0 --threads 1 --pool 4:20 >"$out/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$out/target.log" 2>/dev/null && break
  sleep 0.05
done
addr="$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$out/target.log" | head -n1)"
if [ -z "$addr" ]; then
  echo "pelt-target did not start:" >&2
  cat "$out/target.log" >&2
  exit 1
fi
url="http://$addr"

echo "== pelt-target is listening on $url"
echo
echo "== 1. A quick benchmark, wrk-style: 2 threads, 20 connections, 5 seconds"
echo "\$ pelt -t2 -c20 -d5s --latency $url/"
"$PELT" -t2 -c20 -d5s --latency "$url/"
echo
echo "== 2. A Lua script that shapes each request (random user ids)"
echo "\$ pelt -t2 -c20 -d3s -s scenarios/coupon-issue.lua $url"
"$PELT" -t2 -c20 -d3s -s scenarios/coupon-issue.lua "$url"
echo
if [ -f scenarios/baseline-quick.toml ]; then
  echo "== 3. A scenario with stages and thresholds"
  echo "\$ pelt run scenarios/baseline-quick.toml --target $url --quiet"
  "$PELT" run scenarios/baseline-quick.toml --target "$url" --quiet
fi
echo
echo "== 4. A ramp past the server's capacity, with an HTML report"
echo "\$ pelt run scenarios/demo-ramp.toml --target $url --quiet --report demo-report.html"
# Crossing the p95 threshold is the point of this step: its exit code 99 is expected.
"$PELT" run scenarios/demo-ramp.toml --target "$url" --quiet --report demo-report.html || [ $? -eq 99 ]
echo
echo "== 5. The maximum sustainable rate of /pool (4 slots of 20 ms: 200 requests a second)"
echo "\$ pelt run scenarios/max-rate-quick.toml --target $url -e MAX_RATE_PATH=/pool --threads 1 --quiet"
"$PELT" run scenarios/max-rate-quick.toml --target "$url" -e MAX_RATE_PATH=/pool --threads 1 --quiet | \
  sed -n '/capacity search/,/^$/p'
echo
echo "== 6. Two hosts side by side: the same load against /delay/5 and /delay/15"
echo "\$ scenarios/compare-hosts.sh scenarios/steady-quick.toml $url/delay/5 $url/delay/15 -- --label fast,slow --fail-if \"p(95) > +50%\""
PELT="$PELT" OUT="$out/compare" PELT_RUN_ARGS="--threads 1" scenarios/compare-hosts.sh scenarios/steady-quick.toml \
  "$url/delay/5" "$url/delay/15" -- --label fast,slow --fail-if "p(95) > +50%" || \
  echo "(pelt compare exited $?: the --fail-if gate fired, as it should for a host three times slower)"
echo
echo "== The report of step 4 is $(pwd)/demo-report.html (open it in a browser)"
