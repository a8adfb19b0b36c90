#!/usr/bin/env bash
# Regenerates docs/report.png: the HTML report of the demo's ramp (scenarios/demo-ramp.toml,
# against the bundled target), rendered by headless chromium at laptop size.
# Usage: scripts/report-screenshot.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
out="$(mktemp -d)"
trap 'kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; rm -rf "$out"' EXIT
"$BUILD_DIR/pelt-target" --listen 127.0.0.1:0 --threads 1 --pool 4:20 >"$out/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$out/target.log" 2>/dev/null && break
  sleep 0.05
done
addr="$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$out/target.log" | head -n1)"
"$BUILD_DIR/pelt" run scenarios/demo-ramp.toml --target "http://$addr" --quiet \
  --report "$out/report.html" >/dev/null || [ $? -eq 99 ]
node web/tools/screenshot.mjs "$out/report.html" docs/report.png --width 1440 --height 900
echo "docs/report.png written from the demo ramp's report"
