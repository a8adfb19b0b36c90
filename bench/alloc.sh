#!/usr/bin/env bash
# Heap allocations per request in steady state, pelt against wrk (see bench/alloc.md).
#
# Builds bench/malloc_count.c into a preload library, runs each client twice against nginx
# (short and long run, same options) and divides the difference in allocation calls by the
# difference in requests: start-up and shutdown allocations cancel out.
#
# usage: bench/alloc.sh [build-dir]        (default build)
# env:   ALLOC_SHORT / ALLOC_LONG seconds (default 2 / 6)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
PELT="${PELT_BIN:-$PWD/$BUILD_DIR/pelt}"
WRK="$(command -v wrk || echo /usr/bin/wrk)"
SHORT="${ALLOC_SHORT:-2}"
LONG="${ALLOC_LONG:-6}"
WORK="$(mktemp -d)"
trap 'kill $NGINX_PY 2>/dev/null || true; rm -rf "$WORK"' EXIT
cc -O2 -shared -fPIC -o "$WORK/malloc_count.so" bench/malloc_count.c

python3 - "$WORK/port" <<'EOF' &
import os, sys, signal, time
sys.path.insert(0, os.path.join(os.getcwd(), "test", "integration"))
from harness import Nginx
with Nginx(access_log=False, extra_server='location /coupons/ { return 200 "{}"; }') as ng:
    with open(sys.argv[1], "w") as f:
        f.write(str(ng.port))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    for _ in range(600):
        time.sleep(1)
EOF
NGINX_PY=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$WORK/port")"

run() {  # tool binary seconds [args...] -> "allocation_calls requests"
  local bin="$1" secs="$2"; shift 2
  local counts="$WORK/counts" out
  rm -f "$counts"
  out="$(MALLOC_COUNT_OUT="$counts" LD_PRELOAD="$WORK/malloc_count.so" "$bin" -t1 -c50 -d"${secs}s" "$@")"
  local req calls
  req="$(sed -n 's/^ *\([0-9]\+\) requests in.*/\1/p' <<<"$out")"
  # The last line is the client itself (a shell wrapper would add lines before it).
  calls="$(tail -1 "$counts" | awk -F'[ =]' '{print $2 + $4 + $6}')"
  echo "$calls $req"
}

measure() {  # label binary [args...]
  local label="$1" bin="$2"; shift 2
  read -r c1 r1 < <(run "$bin" "$SHORT" "$@")
  read -r c2 r2 < <(run "$bin" "$LONG" "$@")
  awk -v l="$label" -v c1="$c1" -v r1="$r1" -v c2="$c2" -v r2="$r2" 'BEGIN {
    printf "%-28s %9.4f allocations/request  (%d allocs / %d req short, %d / %d long)\n",
           l, (c2 - c1) / (r2 - r1), c1, r1, c2, r2 }'
}

echo "steady-state heap allocations (malloc+calloc+realloc), ${SHORT}s vs ${LONG}s runs, -t1 -c50"
measure "pelt static GET" "$PELT" "$URL/"
measure "wrk  static GET" "$WRK" "$URL/"
measure "pelt request() hook" "$PELT" -s bench/lua/hook.lua "$URL/"
measure "wrk  request() hook" "$WRK" -s bench/lua/hook.lua "$URL/"
measure "pelt coupon POST script" "$PELT" -s bench/lua/coupon.lua "$URL"
measure "wrk  coupon POST script" "$WRK" -s bench/lua/coupon.lua "$URL"
measure "pelt coupon + response()" "$PELT" -s bench/lua/coupon_check.lua "$URL"
measure "wrk  coupon + response()" "$WRK" -s bench/lua/coupon_check.lua "$URL"
