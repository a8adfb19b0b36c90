#!/usr/bin/env bash
# Syscalls per request, pelt against wrk, in bench case (a): static GET, 1 thread, 50
# connections, against nginx on loopback.
#
# Each client runs under `strace -f -c` for a fixed time (wrk has no request-count limit, so a
# fixed duration is used for both and the counts are divided by the requests each one reports).
# strace slows both clients down a lot; the per-request ratio is what to read, not req/s.
#
# usage: bench/syscalls.sh [build-dir] [seconds]     (defaults: build, 3)
# output: bench/out/syscalls-{pelt,wrk}.txt (strace tables) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
SECONDS_PER_RUN="${2:-3}"
PELT="${PELT_BIN:-$PWD/$BUILD_DIR/pelt}"
WRK="$(command -v wrk || echo /usr/bin/wrk)"
OUT="$PWD/bench/out"
mkdir -p "$OUT"

if ! command -v strace >/dev/null; then
  echo "strace is missing: apt-get install -y strace" >&2
  exit 1
fi
[ -x "$PELT" ] || { echo "pelt not found at $PELT" >&2; exit 1; }

# nginx on a free port, one worker, the same config bench.py uses (via the test harness).
PORT_FILE="$(mktemp)"
python3 - "$PORT_FILE" <<'EOF' &
import os, sys, signal, time
sys.path.insert(0, os.path.join(os.getcwd(), "test", "integration"))
from harness import Nginx
with Nginx(access_log=False) as ng:
    with open(sys.argv[1], "w") as f:
        f.write(str(ng.port))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    for _ in range(600):  # at most 10 minutes
        time.sleep(1)
EOF
NGINX_PY=$!
trap 'kill $NGINX_PY 2>/dev/null || true; rm -f "$PORT_FILE"' EXIT
for _ in $(seq 1 100); do [ -s "$PORT_FILE" ] && break; sleep 0.1; done
PORT="$(cat "$PORT_FILE")"
URL="http://127.0.0.1:$PORT/"

# Client pinned to core 1 when there are two cores (nginx shares core 0 with everything else).
PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then PIN=(taskset -c 1); fi

measure() {  # tool binary -> prints "tool syscalls requests per_request"
  local tool="$1" bin="$2"
  local table="$OUT/syscalls-$tool.txt" stdout="$OUT/syscalls-$tool.stdout"
  "${PIN[@]}" strace -f -c -o "$table" "$bin" -t1 -c50 -d"${SECONDS_PER_RUN}s" "$URL" >"$stdout"
  local requests calls
  requests="$(sed -n 's/^ *\([0-9]\+\) requests in.*/\1/p' "$stdout")"
  # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
  calls="$(awk '$NF == "total" {print $4}' "$table")"
  awk -v t="$tool" -v c="$calls" -v r="$requests" 'BEGIN { printf "%-5s %10d syscalls %9d requests %6.2f syscalls/request\n", t, c, r, c / r }'
  # The biggest contributors, per request.
  awk -v r="$requests" '$1 ~ /^[0-9.]+$/ && $NF != "total" {
      printf "      %-16s %8.3f /request\n", $NF, $4 / r }' "$table" | sort -k2 -g -r | head -6
}

echo "case (a): static GET, 1 thread, 50 connections, ${SECONDS_PER_RUN}s under strace -f -c"
measure pelt "$PELT"
measure wrk "$WRK"
