#!/usr/bin/env bash
# make bench: pelt and wrk side by side on loopback (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
export PELT_BIN="$PWD/$BUILD_DIR/pelt"
export PELT_TARGET_BIN="$PWD/$BUILD_DIR/pelt-target"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
/usr/bin/python3 bench/bench.py
/usr/bin/python3 bench/overhead.py
